// The report as one self-contained HTML page: inline stylesheet and script, inline SVG charts,
// nothing fetched (it opens offline, from a file or a CI artifact). A Content Security Policy
// allows only the page's own script (by its hash) and inline styles: even a string that slipped
// through escaping could not run code or load anything.

import { createHash } from "node:crypto";
import { Eta } from "eta";
import { barChart, stackedChart } from "./charts.js";
import { CLIENT_SCRIPT, STYLESHEET } from "./client.js";
import { diffStylesheet, renderDiff } from "./diff-html.js";
import { renderMarkdown } from "./markdown.js";
import type { RunView, TaskView } from "./model.js";
import { FAMILY_SUMMARIES } from "../families/summaries.js";
import type { FamilySummary, ReportMetric } from "../families/summary.js";
import { passAtK } from "./pass-at-k.js";
import { isFamily } from "./reason.js";
import type { StepView } from "./trajectory-read.js";
import { PAGE_TEMPLATE, TASK_TEMPLATE } from "./templates.js";

/** Observations longer than this show their head and tail, with more one click away. */
const OBSERVATION_SHOWN = 4000;
/** At most this much of one observation goes into the page (the trajectory keeps all of it): big runs stay openable. */
const OBSERVATION_KEPT = 20_000;
/** Diffs past this are cut (the run folder keeps the whole file under submissions/). */
const DIFF_KEPT = 400_000;
const OUTCOMES = ["passed", "failed", "error", "not-judged"] as const;

/** A family's summary hooks by a name read from a run folder (undefined for a name dynabox does not know). */
function summaryOf(family: string): FamilySummary | undefined {
  return isFamily(family) ? FAMILY_SUMMARIES[family] : undefined;
}

function familyName(family: string): string {
  return summaryOf(family)?.displayName ?? family;
}

const eta = new Eta({ autoEscape: true, useWith: false, autoTrim: false });
eta.loadTemplate("@task", TASK_TEMPLATE);

export const formatters = {
  integer: (value: number): string => Math.round(value).toLocaleString("en-US"),
  number: (value: number | null): string => (value === null ? "" : Number.isInteger(value) ? String(value) : value.toFixed(4).replace(/0+$/, "")),
  dollars: (value: number): string => `$${value.toFixed(4)}`,
  seconds: (value: number): string => `${value.toFixed(1)} s`,
  milliseconds: (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`),
  percent: (value: number | null | undefined): string => (typeof value === "number" ? `${(100 * value).toFixed(1)} %` : "n/a"),
  signedPercent: (value: number): string => `${value >= 0 ? "+" : ""}${(100 * value).toFixed(1)} %`,
};

interface Metric {
  key: string;
  label: string;
  raw: number | string;
  text: string;
}

/** The headline metrics of each family, from summary.json where the command wrote them. */
function familyCards(run: RunView): Array<{ family: string; name: string; metrics: Metric[] }> {
  const families = [...new Set([...run.families.map((table) => String(table.family)), ...run.tasks.map((task) => task.family)])].sort();
  return families.map((family) => {
    const table = run.families.find((entry) => entry.family === family) ?? {};
    const tasks = run.tasks.filter((task) => task.family === family);
    const metrics: Metric[] = [];
    // With several attempts the command's figures are best-of-k: a task counts when any attempt passed (SAB: the attempt upstream's rule selects).
    const bestOf = run.attempts > 1 ? ` (best of ${run.attempts})` : "";
    const count = (key: string, label: string, fallback: number): void => {
      const value = typeof table[key] === "number" ? (table[key] as number) : fallback;
      metrics.push({ key, label, raw: value, text: String(value) });
    };
    count("tasks", "tasks", new Set(tasks.map((task) => task.id)).size);
    if (run.kind === "validate") {
      const valid = tasks.filter((task) => task.outcome === "passed").length;
      metrics.push({ key: "valid", label: "valid", raw: valid, text: `${valid} of ${tasks.length}` });
    } else {
      // The family says which figures are its headline (src/families/<family>/summary.ts).
      const graded = tasks.filter((task) => task.outcome !== "error").map((task) => task.upstream);
      for (const metric of summaryOf(family)?.reportMetrics(table, graded) ?? []) metrics.push(metricCard(metric, bestOf));
    }
    count("errors", "infrastructure errors", new Set(tasks.filter((task) => task.outcome === "error").map((task) => task.id)).size);
    const tokens = tasks.reduce((sum, task) => sum + (task.tokens ?? 0), 0);
    const cost = tasks.reduce((sum, task) => sum + (task.costUsd ?? 0), 0);
    if (tasks.some((task) => task.tokens !== null)) {
      metrics.push({ key: "tokens", label: "tokens", raw: tokens, text: formatters.integer(tokens) });
      metrics.push({ key: "cost_usd", label: "dollars", raw: cost, text: formatters.dollars(cost) });
    }
    return { family, name: familyName(family), metrics };
  });
}

/** A family's metric as a card: rates as percentages (best of k with attempts), counts as they are. */
function metricCard(metric: ReportMetric, bestOf: string): Metric {
  const { key, label, value } = metric;
  if (metric.kind === "rate") return { key, label: metric.labelNamesAttempts ? label : label + bestOf, raw: value ?? "", text: formatters.percent(value) };
  if (metric.kind === "signed-rate") return { key, label, raw: value ?? "", text: value === null ? "n/a" : formatters.signedPercent(value) };
  return { key, label, raw: value ?? "", text: value === null ? "n/a" : String(value) };
}

function manifestFacts(run: RunView): Array<{ label: string; value: string }> {
  const manifest = run.manifest ?? {};
  const facts: Array<{ label: string; value: string }> = [];
  const add = (label: string, value: unknown): void => {
    if (value === undefined || value === null || value === "") return;
    facts.push({ label, value: typeof value === "string" ? value : JSON.stringify(value) });
  };
  add("model", manifest.model);
  add("endpoint", manifest.baseURL);
  add("started", manifest.started_at);
  add("dynabox revision", manifest.dynabox_revision);
  add("sandbox image", manifest.image);
  add("image id", manifest.image_id);
  const docker = manifest.docker as Record<string, unknown> | undefined;
  if (docker) add("engine", `Docker ${String(docker.version ?? "?")} (API ${String(docker.api_version ?? "?")})`);
  add("engines", manifest.engines);
  add("node", manifest.node);
  add("limits", manifest.limits);
  const flags = (manifest.flags ?? {}) as Record<string, unknown>;
  add("attempts", flags.attempts);
  add("concurrency", flags.concurrency);
  if (facts.length === 0) facts.push({ label: "manifest", value: `none (a ${run.kind} folder records no manifest)` });
  return facts;
}

function charts(run: RunView): string[] {
  const made: string[] = [];
  const label = (task: TaskView): string => `${task.family}/${task.id}${task.attempt !== null && run.attempts > 1 ? ` #${task.attempt}` : ""}`;
  const families = [...new Set(run.tasks.map((task) => task.family))].sort();
  made.push(
    stackedChart(
      "Outcome per family",
      families.map((family) => ({
        label: familyName(family),
        parts: OUTCOMES.map((outcome) => ({ tone: outcome, count: run.tasks.filter((task) => task.family === family && task.outcome === outcome).length })),
      })),
    ),
  );
  if (run.tasks.some((task) => task.steps.length > 0)) {
    made.push(barChart("Steps per task", run.tasks.map((task) => ({ label: label(task), value: task.steps.length, tone: task.outcome })), (value) => String(value)));
  }
  if (run.tasks.some((task) => (task.costUsd ?? 0) > 0)) {
    made.push(barChart("Cost per task", run.tasks.map((task) => ({ label: label(task), value: task.costUsd ?? 0, tone: task.outcome })), formatters.dollars));
  } else if (run.tasks.some((task) => (task.tokens ?? 0) > 0)) {
    made.push(barChart("Tokens per task (no prices set)", run.tasks.map((task) => ({ label: label(task), value: task.tokens ?? 0, tone: task.outcome })), formatters.integer));
  }
  return made;
}

function stepView(step: StepView): Record<string, unknown> {
  const cut = step.observation.length > OBSERVATION_SHOWN;
  return {
    step,
    thoughtHtml: step.thought ? renderMarkdown(step.thought) : null,
    observationCut: cut,
    observationHead: cut ? step.observation.slice(0, OBSERVATION_SHOWN / 2) : null,
    observationTail: cut ? step.observation.slice(-OBSERVATION_SHOWN / 2) : null,
    observationKept:
      step.observation.length <= OBSERVATION_KEPT
        ? step.observation
        : `${step.observation.slice(0, OBSERVATION_KEPT / 2)}\n[... ${step.observation.length - OBSERVATION_KEPT} characters left out of the report; the trajectory file has them ...]\n${step.observation.slice(-OBSERVATION_KEPT / 2)}`,
  };
}

/** A diff cut at a line boundary past DIFF_KEPT characters, saying so in a line diff2html shows as context. */
function keptDiff(diff: string): string {
  if (diff.length <= DIFF_KEPT) return diff;
  const cut = diff.lastIndexOf("\n", DIFF_KEPT);
  return `${diff.slice(0, cut + 1)} [... ${diff.length - cut - 1} characters left out of the report; see the run folder's submissions/ ...]\n`;
}

/** The report's Content Security Policy: our script by hash, inline styles, data: images; nothing else. */
export function contentSecurityPolicy(script: string): string {
  const hash = createHash("sha256").update(script).digest("base64");
  return `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
}

export function renderReport(run: RunView, options: { writtenAt?: Date } = {}): string {
  // A family whose upstream picks one attempt per task by its own rule names the rule (sab's best-of-N).
  const bestOfRule = run.families.map((table) => summaryOf(String(table.family))?.attemptsRule?.(table) ?? null).find((rule) => rule !== null) ?? null;
  return eta.renderString(PAGE_TEMPLATE, {
    title: typeof run.manifest?.model === "string" ? `${run.manifest.model}, ${run.tasks.length} task(s)` : `${run.tasks.length} task(s)`,
    writtenAt: (options.writtenAt ?? new Date()).toISOString(),
    csp: contentSecurityPolicy(CLIENT_SCRIPT),
    css: STYLESHEET + diffStylesheet(),
    script: CLIENT_SCRIPT,
    run,
    fmt: formatters,
    families: familyCards(run),
    passAtK: run.attempts > 1 ? passAtK(run.tasks) : [],
    bestOfRule,
    charts: charts(run),
    manifest: manifestFacts(run),
    familyNames: [...new Set(run.tasks.map((task) => task.family))].sort(),
    outcomeNames: OUTCOMES.filter((outcome) => run.tasks.some((task) => task.outcome === outcome)),
    agentColumns: run.kind === "run",
    tasks: run.tasks.map((task) => ({ task, promptHtml: task.prompt ? renderMarkdown(task.prompt) : null, diffHtml: task.diff ? renderDiff(keptDiff(task.diff)) : null, steps: task.steps.map(stepView) })),
  });
}
