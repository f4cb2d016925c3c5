// The part of the FamilyModule contract that reads verdicts: a family's upstream headline
// metrics, its few words per task, and its metric on the run table. Kept apart from the graders
// (which need Docker and the task loaders) so the runner, the CLI and the report can summarize
// stored verdicts of any family by its name alone.

import type { Family, Verdict } from "./types.js";

export interface FamilySummary {
  /** The upstream headline metrics of a family's verdicts over `total` tasks (a task not graded counts as failed). */
  summarize(verdicts: readonly Verdict[], total?: number): Record<string, unknown>;
  /** A few words on one verdict's upstream line, for progress lines and tables. */
  summaryLine(upstream: Record<string, unknown>): string;
  /** The headline metric of a summary made by `summarize`, in words, for the run table. */
  metricLine(summary: Record<string, unknown>): string;
  /** Why a verdict with this upstream line did not pass, in a few words from the grader; null when it does not say. */
  failureLine(upstream: Record<string, unknown>): string | null;
  /**
   * The run table over every attempt of `dynabox run --attempts k`, for a family whose upstream
   * picks one attempt per task by its own rule (sab: best-of-N); absent, a task counts by its best
   * attempt and `summarize` makes the table.
   */
  attemptsTable?(attempts: readonly RunAttempt[]): Record<string, unknown>;
  /**
   * Names a best-of-k table's metrics for what they are with k > 1 attempts per task (resq: a task
   * passes when any attempt passed, so pass@1 is pass@k); absent, the names stay.
   */
  labelForAttempts?(table: Record<string, unknown>, attempts: number): Record<string, unknown>;
  /** The benchmark's own name, for report headings ("ScienceAgentBench"). */
  displayName: string;
  /**
   * The report's metric cards after "tasks": the headline figures of the family's run table
   * (summary.json) and of the upstream lines of its graded (not errored) tasks.
   */
  reportMetrics(table: Record<string, unknown>, upstreams: ReadonlyArray<Record<string, unknown>>): ReportMetric[];
  /** The grader's own words in an upstream line, labelled as upstream names them, for the report. */
  feedback(upstream: Record<string, unknown>): ReportFeedback[];
  /** The rule a run table's attempts were chosen by (sab: best-of-N), for the report; absent: none. */
  attemptsRule?(table: Record<string, unknown>): string | null;
}

/**
 * One metric card: a rate (a fraction shown as a percentage, named "best of k" with attempts), a
 * count, or a signed change (a fraction shown with its sign); null when not measured.
 */
export interface ReportMetric {
  key: string;
  label: string;
  kind: "rate" | "count" | "signed-rate";
  value: number | null;
  /** The label already says the rate is over k attempts (pass@k): the report adds no "best of k". */
  labelNamesAttempts?: boolean;
}

export interface ReportFeedback {
  label: string;
  text: string;
}

/** A labelled text of an upstream line when it is a non-blank string (what the report shows). */
export function textFeedback(label: string, value: unknown): ReportFeedback[] {
  return typeof value === "string" && value.trim() !== "" ? [{ label, text: value }] : [];
}

/** A number of a run table, or null. */
export function numberIn(table: Record<string, unknown>, key: string): number | null {
  const value = table[key];
  return typeof value === "number" ? value : null;
}

/** One agent attempt at a task (with its result, if any), as the run table sees it. */
export interface RunAttempt {
  id: string;
  attempt: number;
  outcome: "passed" | "failed" | "error";
  cost_usd: number;
  upstream: Record<string, unknown> | null;
}

/** The mean over `total` tasks of per-verdict values (tasks without a verdict count 0); null when there are no tasks. */
export function meanOver(total: number, values: number[]): number | null {
  return total === 0 ? null : values.reduce((sum, value) => sum + value, 0) / total;
}

/** A non-blank string's first line, trimmed; null for anything else. */
export function firstLineOf(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim().split("\n")[0]!.trim() : null;
}

/** A fraction as a percentage with one decimal; "n/a" when absent. */
export function percent(value: unknown): string {
  return typeof value === "number" ? `${(100 * value).toFixed(1)} %` : "n/a";
}

/** Summaries by family name (the family modules carry the same functions). */
export type FamilySummaries = Record<Family, FamilySummary>;
