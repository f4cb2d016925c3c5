// What a report shows, read from a run folder: the manifest, summary.json, the results store,
// the trajectories and the saved submissions. Everything here came from a model, a task or a
// sandbox, so the renderers escape every string; this module only reads and shapes.
//
// Read defensively: run folders of older versions lack files and fields, and `run`, `eval` and
// `validate` each write a different subset.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { ResultsStore, type StoredResult } from "../runs/store.js";
import { FAMILY_SUMMARIES } from "../families/summaries.js";
import type { Family } from "../families/types.js";
import { failureReason, isFamily } from "./reason.js";
import { readSubmission } from "./submission-file.js";
import { readTrajectory, type StepView } from "./trajectory-read.js";

export type Outcome = "passed" | "failed" | "error" | "not-judged";

export interface TaskView {
  /** Position in the report: the only identifier used in HTML ids and anchors. */
  index: number;
  family: Family;
  id: string;
  /** "attempt-2", a program's file name, or "". */
  item: string;
  attempt: number | null;
  outcome: Outcome;
  /** Why it did not pass, in a few words; null when it passed. */
  reason: string | null;
  score: number | null;
  baseline: number | null;
  upstream: Record<string, unknown>;
  /** The grader's own words: log_info, test output, errors. */
  feedback: Array<{ label: string; text: string }>;
  steps: StepView[];
  /** The task as the agent was told it (from the trajectory), or null. */
  prompt: string | null;
  stopReason: string | null;
  error: string | null;
  /** Infrastructure error kind when the run recorded one (model, engine, sandbox, grader). */
  errorKind: string | null;
  actionsCreated: string[];
  actionsUsed: string[];
  tokens: number | null;
  costUsd: number | null;
  containerSeconds: number | null;
  gradingSeconds: number | null;
  /** HTTP attempts beyond the first, over all steps. */
  retries: number;
  /** Cell resources over all steps, where the trajectory recorded them. */
  resources: { cpuSeconds: number; peakMemoryMb: number | null; outputBytes: number; oomSteps: number; timedOutSteps: number } | null;
  /** The patch, the program or the workspace changes, as a unified diff. */
  diff: string | null;
  reviewFlags: string[];
}

export interface RunView {
  directory: string;
  /** What made the folder: an agent run, an eval of outside work, or task validation. */
  kind: "run" | "eval" | "validate";
  manifest: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  /** Per family: the upstream metrics as the command computed them (summary.json). */
  families: Array<Record<string, unknown>>;
  tasks: TaskView[];
  totals: { tasks: number; tokens: number; costUsd: number; containerSeconds: number; errors: number };
  /** Attempts per task (max over tasks); >1 turns on pass@k. */
  attempts: number;
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(file)) return null;
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const asNumber = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const asString = (value: unknown): string | null => (typeof value === "string" ? value : null);
const asStrings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === "string") : []);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Reads a run folder made by `run`, `eval` or `validate`. */
export async function loadRunView(directory: string): Promise<RunView> {
  const runDirectory = path.resolve(directory);
  const storeFile = path.join(runDirectory, "results.sqlite");
  const summaryFile = path.join(runDirectory, "summary.json");
  if (!existsSync(storeFile) && !existsSync(summaryFile)) {
    throw new UserError("DYNABOX_USAGE", `${directory} is not a run folder (no results.sqlite or summary.json): give the --run-dir of a run, eval or validate`);
  }
  const manifest = await readJson(path.join(runDirectory, "manifest.json"));
  const summary = await readJson(summaryFile);
  let stored: StoredResult[] = [];
  if (existsSync(storeFile)) {
    using store = ResultsStore.open(storeFile);
    stored = store.list();
  }
  const kind: RunView["kind"] = stored.some((row) => row.kind === "run") || summary?.type === "run-end" ? "run" : stored.some((row) => row.kind === "eval") ? "eval" : stored.length > 0 ? "validate" : "run";
  const rows = stored.filter((row) => row.kind === kind);

  // Tasks of the summary that the store does not hold: attempts that ended in an error.
  const summaryTasks = Array.isArray(summary?.tasks) ? (summary.tasks as unknown[]).filter(isObject) : [];
  const keyOf = (family: string, id: string, item: string): string => `${family}\u0000${id}\u0000${item}`;
  const fromStore = new Map(rows.map((row) => [keyOf(row.family, row.taskId, row.item), row]));
  const entries: Array<{ row: StoredResult | undefined; listed: Record<string, unknown> | undefined; family: Family; id: string; item: string }> = [];
  for (const row of rows) entries.push({ row, listed: undefined, family: row.family, id: row.taskId, item: row.item });
  for (const listed of summaryTasks) {
    const family = asString(listed.family) as Family | null;
    const id = asString(listed.id);
    if (family === null || id === null) continue;
    const item = typeof listed.attempt === "number" ? `attempt-${listed.attempt}` : "";
    const found = entries.find((entry) => entry.family === family && entry.id === id && entry.item === item);
    if (found) found.listed = listed;
    else if (!fromStore.has(keyOf(family, id, item))) entries.push({ row: undefined, listed, family, id, item });
  }

  // eval: items that could not be graded, listed under "errored" in summary.json ({id, item?, code, reason}).
  const summaryFamily = asString(summary?.family) as Family | null;
  const errored = Array.isArray(summary?.errored) ? (summary.errored as unknown[]).filter(isObject) : [];
  for (const entry of errored) {
    const id = asString(entry.id);
    if (summaryFamily === null || id === null) continue;
    const item = asString(entry.item) ?? "";
    if (entries.some((known) => known.family === summaryFamily && known.id === id && known.item === item)) continue;
    entries.push({ row: undefined, listed: { outcome: "error", error: asString(entry.reason), error_kind: asString(entry.code) }, family: summaryFamily, id, item });
  }

  const tasks: TaskView[] = [];
  for (const entry of entries) tasks.push(await taskView(runDirectory, kind, tasks.length, entry));
  tasks.sort((left, right) => left.family.localeCompare(right.family) || left.id.localeCompare(right.id, undefined, { numeric: true }) || left.item.localeCompare(right.item, undefined, { numeric: true }));
  tasks.forEach((task, index) => (task.index = index));

  const families = Array.isArray(summary?.families) ? (summary.families as unknown[]).filter(isObject) : summary && typeof summary.family === "string" ? [summary] : [];
  const totals = {
    tasks: tasks.length,
    tokens: tasks.reduce((sum, task) => sum + (task.tokens ?? 0), 0),
    costUsd: tasks.reduce((sum, task) => sum + (task.costUsd ?? 0), 0),
    containerSeconds: tasks.reduce((sum, task) => sum + (task.containerSeconds ?? task.gradingSeconds ?? 0), 0),
    errors: tasks.filter((task) => task.outcome === "error").length,
  };
  const attempts = Math.max(1, ...tasks.map((task) => task.attempt ?? 1));
  return { directory: runDirectory, kind, manifest, summary, families, tasks, totals, attempts };
}

async function taskView(
  runDirectory: string,
  kind: RunView["kind"],
  index: number,
  entry: { row: StoredResult | undefined; listed: Record<string, unknown> | undefined; family: Family; id: string; item: string },
): Promise<TaskView> {
  const { row, listed, family, id, item } = entry;
  const detail = isObject(row?.detail) ? row.detail : {};
  const facts = { ...detail, ...(listed ?? {}) };
  const upstream = row?.upstream ?? (isObject(facts.upstream) ? facts.upstream : {});
  const attemptMatch = /^attempt-(\d+)$/.exec(item);
  const attempt = attemptMatch ? Number(attemptMatch[1]) : null;
  const declared = asString(facts.outcome);
  const outcome = outcomeOf(kind, row, upstream, asString(facts.outcome), asString(facts.error_kind));
  const trajectory = attempt !== null ? await readTrajectory(path.join(runDirectory, "trajectories", family, id, `${item}.jsonl`)) : null;
  const steps = trajectory?.steps ?? [];
  const stopReason = asString(facts.stop_reason) ?? trajectory?.stopReason ?? null;
  const error = asString(facts.error);
  const score = row?.score ?? asNumber(facts.score);
  const view: TaskView = {
    index,
    family,
    id,
    item,
    attempt,
    outcome,
    reason: null,
    score,
    baseline: asNumber(upstream.baseline),
    upstream,
    feedback: kind === "validate" ? checksOf(upstream) : feedbackOf(family, upstream, error),
    steps,
    prompt: trajectory?.prompt ?? null,
    stopReason,
    error,
    errorKind: asString(facts.error_kind),
    actionsCreated: asStrings(facts.actions_created),
    actionsUsed: asStrings(facts.actions_used),
    tokens: asNumber(facts.tokens),
    costUsd: asNumber(facts.cost_usd),
    containerSeconds: asNumber(facts.container_seconds),
    gradingSeconds: row?.seconds ?? null,
    retries: steps.reduce((sum, step) => sum + Math.max(0, step.attempts - 1), 0),
    resources: resourcesOf(steps),
    diff: kind === "validate" ? null : await readSubmission(runDirectory, family, id, item),
    reviewFlags: asStrings(upstream.review_flags ?? facts.review_flags),
  };
  view.reason = asString(facts.reason) ?? failureReason({ ...view, kind });
  return view;
}

/**
 * The outcome. An infrastructure error may come as outcome "error" or an `error_kind` field (a
 * model, engine, sandbox or grader fault), stored or only listed in summary.json.
 */
function outcomeOf(kind: RunView["kind"], row: StoredResult | undefined, upstream: Record<string, unknown>, declared: string | null, errorKind: string | null): Outcome {
  if (declared === "error" || errorKind !== null) return "error";
  if (row === undefined) return declared === "passed" || declared === "failed" || declared === "not-judged" ? declared : "error";
  if (row.passed) return "passed";
  if (upstream.not_judged === true) return "not-judged";
  if (kind === "validate" && "error" in upstream) return "error";
  return "failed";
}

/** The grader's own output, labelled as upstream names it. */
function feedbackOf(family: Family, upstream: Record<string, unknown>, error: string | null): Array<{ label: string; text: string }> {
  const feedback: Array<{ label: string; text: string }> = [];
  const add = (label: string, value: unknown): void => {
    if (typeof value === "string" && value.trim() !== "") feedback.push({ label, text: value });
  };
  // The family's own fields (sab: log_info; resq: message, test_suite_feedback).
  feedback.push(...(isFamily(family) ? FAMILY_SUMMARIES[family].feedback(upstream) : []));
  add("error", upstream.error);
  add("agent error", error);
  // validate: each check's message.
  for (const [name, value] of Object.entries(upstream)) {
    if (isObject(value) && typeof value.message === "string") add(name, value.message);
  }
  return feedback;
}

/** A proof of validity's checks, one line each (nested results as compact JSON). */
function checksOf(checks: Record<string, unknown>): Array<{ label: string; text: string }> {
  const lines = Object.entries(checks).map(([name, value]) => `${name}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return lines.length === 0 ? [] : [{ label: "checks", text: lines.join("\n") }];
}

function resourcesOf(steps: readonly StepView[]): TaskView["resources"] {
  const measured = steps.filter((step) => step.resources !== null);
  if (measured.length === 0) return null;
  const peaks = measured.map((step) => step.resources!.peakMemoryMb).filter((value): value is number => value !== null);
  return {
    cpuSeconds: measured.reduce((sum, step) => sum + (step.resources!.cpuMs ?? 0), 0) / 1000,
    peakMemoryMb: peaks.length > 0 ? Math.max(...peaks) : null,
    outputBytes: measured.reduce((sum, step) => sum + step.resources!.outputBytes, 0),
    oomSteps: measured.filter((step) => step.resources!.oom).length,
    timedOutSteps: measured.filter((step) => step.resources!.timedOut).length,
  };
}
