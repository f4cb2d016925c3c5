// Grading work made elsewhere (like the SWE-bench harness): each item is a task plus a
// submission; every item is graded in fresh containers, stored once final, and a rerun skips an
// item only when the same task content, submission content, grader version and settings were
// graded before (resume-key.ts).
//
// One item never takes the batch down: anything that goes wrong while grading it (a repository
// that can not be reached, a Python the environment can not give, a lost sandbox, a truncated
// archive, a grader crash) makes that item an infrastructure error with its reason, which is not
// the submission's fault, is not stored (the next run tries again) and is not counted as a
// failure. Ctrl-C stops taking new items; what finished is returned.

import { DynaboxError, isAbortError } from "../errors.js";
import type { EnginePool } from "../engines/pool.js";
import { contextForTask, type GradingContext } from "../grading/context.js";
import type { AnyFamilyModule } from "../families/registry.js";
import { FAMILY_SUMMARIES } from "../families/summaries.js";
import type { Family, TaskBase, Verdict } from "../families/types.js";
import { mapConcurrent } from "./concurrency.js";
import type { RunEventListener, TaskReference } from "./events.js";
import { classifyFailure, isInfrastructureKind, type ErrorKind } from "./infrastructure-errors.js";
import { resumeKey, taskFingerprint } from "./resume-key.js";
import type { ResultsStore } from "./store.js";

export interface EvalItem {
  task: TaskBase;
  module: AnyFamilyModule;
  submission: unknown;
  /** Tells apart several submissions for one task (a program's file name); "" otherwise. */
  item: string;
  /** Extra fields for the upstream line (SAB lines carry the program's file name). */
  extra?: Record<string, unknown>;
  /** Known before grading: the item can not be graded (a bad row, an unknown id); reported as its error. */
  problem?: ItemError;
  /** Not one of the tasks the metric's denominator counts (a duplicate or unknown submission). */
  outsideTotal?: boolean;
}

export interface EvalOptions {
  context: GradingContext;
  concurrency: number;
  store?: ResultsStore;
  force?: boolean;
  onEvent?: RunEventListener;
  /** Grader settings that can change a verdict (timeouts, limits, policies): part of the resume key. */
  settings?: unknown;
  /** Several engines: each item is graded on one with free capacity, again elsewhere if it goes down. */
  engines?: EnginePool;
}

/** Why an item could not be graded. */
export interface ItemError {
  /** A DynaboxError code, or "DYNABOX_INTERNAL" for anything else. */
  code: string;
  message: string;
  /** Whose fault (infrastructure-errors.ts); absent or "input" for a known problem of the item itself. */
  kind?: ErrorKind;
}

export interface EvalResult {
  item: EvalItem;
  /** graded now, taken from the store, or an infrastructure error. */
  status: "graded" | "stored" | "error";
  /** The verdict (with `extra` merged into its upstream line); null for an error. */
  verdict: Verdict | null;
  error: ItemError | null;
  warnings: string[];
}

export interface EvalBatch {
  /** One per item that finished, in the order of the items. */
  results: EvalResult[];
  /** Aligned with the items: each item's result, undefined where Ctrl-C stopped it first. */
  byItem: (EvalResult | undefined)[];
  /** Ctrl-C stopped the batch before every item finished. */
  interrupted: boolean;
}

const KIND = "eval";

/** The resume key of an eval item: task content, submission content, grader version, settings. */
export async function evalItemKey(item: EvalItem, settings?: unknown): Promise<string> {
  return resumeKey({
    kind: KIND,
    family: item.task.family,
    task: await taskFingerprint(item.task),
    submission: { item: item.item, extra: item.extra ?? null, content: item.submission },
    settings,
  });
}

export async function evaluateItems(items: readonly EvalItem[], options: EvalOptions): Promise<EvalBatch> {
  const { context } = options;
  const finished: (EvalResult | undefined)[] = new Array<EvalResult | undefined>(items.length);
  // A task with several items (runs, attempts) names the item in its events, so their lines differ.
  const itemsPerTask = new Map<string, number>();
  for (const item of items) itemsPerTask.set(`${item.task.family}/${item.task.id}`, (itemsPerTask.get(`${item.task.family}/${item.task.id}`) ?? 0) + 1);
  const referenceOf = (item: EvalItem): TaskReference => ({
    family: item.task.family,
    taskId: item.task.id,
    ...(item.item !== "" && (itemsPerTask.get(`${item.task.family}/${item.task.id}`) ?? 0) > 1 ? { item: item.item } : {}),
  });
  let interrupted = false;
  try {
    await mapConcurrent(
      items,
      options.concurrency,
      async (item, index) => {
        const result = await evaluateOne(item, referenceOf(item), options);
        if (result !== undefined) finished[index] = result;
      },
      context.signal,
    );
  } catch (error) {
    if (!isAbortError(error) && !context.signal?.aborted) throw error;
    interrupted = true;
  }
  return { results: finished.filter((result): result is EvalResult => result !== undefined), byItem: finished, interrupted };
}

/** One item; undefined when Ctrl-C cut it short (neither stored nor reported). */
async function evaluateOne(item: EvalItem, reference: TaskReference, options: EvalOptions): Promise<EvalResult | undefined> {
  const { context, store, onEvent } = options;
  const { task, module, submission, extra } = item;
  const started = performance.now();
  const warnings: string[] = [];
  const key = { kind: KIND, ...reference, item: item.item };
  try {
    if (item.problem !== undefined) throw new ItemProblem(item.problem);
    const contentKey = await evalItemKey(item, options.settings);
    const stored = options.force ? undefined : store?.getCurrent(key, contentKey);
    if (stored !== undefined) {
      const storedWarnings = stringsOf(stored.detail, "warnings");
      const storedReviewFlags = stringsOf(stored.detail, "reviewFlags");
      onEvent?.({ type: "task-skip", ...reference, reason: "graded before with the same task, submission and grader; --force to redo" });
      for (const warning of storedWarnings) onEvent?.({ type: "task-warning", ...reference, message: warning });
      const verdict: Verdict = {
        taskId: stored.taskId,
        family: stored.family,
        passed: stored.passed,
        score: stored.score,
        upstream: stored.upstream,
        seconds: stored.seconds,
        ...(storedReviewFlags.length > 0 ? { reviewFlags: storedReviewFlags } : {}),
      };
      return { item, status: "stored", verdict, error: null, warnings: storedWarnings };
    }
    onEvent?.({ type: "task-start", ...reference });
    const addWarning = (warning: string): void => {
      if (warnings.includes(warning)) return;
      warnings.push(warning);
      onEvent?.({ type: "task-warning", ...reference, message: warning });
    };
    for (const warning of task.warnings ?? []) addWarning(warning);
    const itemContext: GradingContext = contextForTask({
      ...context,
      onProgress: (message: string) => {
        // Family code that has no onWarning yet reports warnings as progress lines.
        if (message.startsWith("warning: ")) addWarning(message.slice("warning: ".length));
        else onEvent?.({ type: "task-progress", ...reference, message });
      },
      onWarning: addWarning,
    }, task);
    const graded: Verdict = options.engines
      ? await options.engines.run((engine) => module.grade({ ...itemContext, docker: engine.docker }, task, submission))
      : await module.grade(itemContext, task, submission);
    const verdict = extra ? { ...graded, upstream: { ...graded.upstream, ...extra } } : graded;
    store?.put(KIND, verdict, { item: item.item, contentKey, detail: { warnings, reviewFlags: verdict.reviewFlags ?? [] } });
    onEvent?.({
      type: "task-end",
      ...reference,
      outcome: verdict.passed ? "passed" : verdict.upstream.not_judged === true ? "not-judged" : "failed",
      score: verdict.score,
      seconds: verdict.seconds,
      summary: module.summaryLine(verdict.upstream) + (verdict.reviewFlags?.length ? ` (${verdict.reviewFlags.length} review flag(s))` : ""),
    });
    return { item, status: "graded", verdict, error: null, warnings };
  } catch (error) {
    if (isAbortError(error) || context.signal?.aborted) return undefined;
    // One mapping for every family (and for `run`): a lost sandbox, an engine failure or a grader
    // crash is the infrastructure's; a task or row that can not be graded as written is the input's.
    const classified = error instanceof ItemProblem ? undefined : classifyFailure(error);
    const itemError: ItemError =
      error instanceof ItemProblem ? { kind: "input", ...error.problem } : { code: classified!.code, message: classified!.reason, kind: classified!.kind };
    onEvent?.({
      type: "task-end",
      ...reference,
      outcome: "error",
      score: null,
      seconds: Math.round(performance.now() - started) / 1000,
      summary: `not graded: ${itemError.message} [${itemError.code}]`,
    });
    return { item, status: "error", verdict: null, error: itemError, warnings };
  }
}

/** Carries an item's known problem through the one error path. */
class ItemProblem extends Error {
  constructor(readonly problem: ItemError) {
    super(problem.message);
  }
}

/** A list of strings kept in a stored row's detail (warnings, review flags); [] when absent. */
function stringsOf(detail: unknown, field: string): string[] {
  if (detail === null || typeof detail !== "object") return [];
  const values = (detail as Record<string, unknown>)[field];
  return Array.isArray(values) ? values.filter((each): each is string => typeof each === "string") : [];
}

/** The line results.jsonl holds for a result: the upstream line, or the reason it is missing. */
export function resultLine(result: EvalResult): Record<string, unknown> {
  if (result.verdict !== null) {
    // Added only when present, so a clean line keeps the upstream shape exactly.
    const flags = result.verdict.reviewFlags ?? [];
    return {
      ...result.verdict.upstream,
      ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
      ...(flags.length > 0 ? { review_flags: flags } : {}),
    };
  }
  return {
    id: result.item.task.id,
    ...(result.item.extra ?? {}),
    not_graded: result.error?.message ?? "unknown",
    code: result.error?.code ?? "DYNABOX_INTERNAL",
  };
}

/**
 * The batch summary: the family's upstream metrics over the items that were graded (an
 * infrastructure error is neither a pass nor a failure: it leaves the denominator), and how many
 * came from the store, were graded now, errored, and carried warnings.
 */
export function summarizeBatch(family: Family, batch: EvalBatch, total: number): Record<string, unknown> {
  const verdicts = batch.results.flatMap((result) => (result.verdict === null ? [] : [result.verdict]));
  const errors = batch.results.filter((result) => result.status === "error");
  const errorsOfCountedTasks = errors.filter((result) => result.item.outsideTotal !== true).length;
  return {
    schema_version: 1,
    ...summarize(family, verdicts, Math.max(0, total - errorsOfCountedTasks)),
    dataset_tasks: total,
    from_store: batch.results.filter((result) => result.status === "stored").length,
    graded_now: batch.results.filter((result) => result.status === "graded").length,
    errors: errors.length,
    errored: errors.map((result) => ({
      id: result.item.task.id,
      ...(result.item.item ? { item: result.item.item } : {}),
      code: result.error?.code,
      error_kind: result.error?.kind ?? "input",
      reason: result.error?.message,
    })),
    /** Errors of the infrastructure among them (exit 3; a rerun may succeed), the rest are the input's (exit 4). */
    infrastructure_errors: errors.filter((result) => isInfrastructureKind(result.error?.kind ?? "input")).length,
    warnings: batch.results.reduce((sum, result) => sum + result.warnings.length, 0),
    /** Verdicts a person should review (a grader saw signs of tampering). */
    flagged_for_review: verdicts.filter((verdict) => (verdict.reviewFlags ?? []).length > 0).length,
    interrupted: batch.interrupted,
  };
}

/** The upstream headline metrics of a set of verdicts: the family's own summary (src/families/<family>/summary.ts). */
export function summarize(family: Family, verdicts: readonly Verdict[], total = verdicts.length): Record<string, unknown> {
  return FAMILY_SUMMARIES[family].summarize(verdicts, total);
}
