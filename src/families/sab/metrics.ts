// ScienceAgentBench's metrics over graded attempts, as upstream's calculate_metrics.py defines
// them (at 72220ee), and the eval log that calculate_metrics.py reads.
//
// Upstream's best-of-N (evaluate_best_run): for each task, among the N runs, keep those with the
// highest success_rate; if several, those with the highest valid_program; if several, the highest
// codebert_score; if several, the lowest cost; then take the first remaining run in run order.
// The metrics are the means, over tasks, of the selected runs' success_rate, valid_program,
// codebert_score and cost.
//
// What dynabox can not know: CodeBERTScore (it needs model weights; grading is offline) and,
// for `dynabox eval`, the agent's cost. A criterion nobody measured is skipped (every attempt
// ties on it) and the task says so; for a task whose selection upstream would have decided by
// CodeBERTScore, the selected attempt's success_rate and valid_program are the same as upstream's
// (all remaining attempts tie on them), so SR and VER stay exact.
//
// Figure tasks not judged (no --judge-model) are neither successes nor failures: they are left
// out of SR's denominator and listed.

/** log_info as the eval returned it when JSON can hold it (upstream writes it so), else text. */
export type SabLogInfo = string | number | boolean | null | SabLogInfo[] | { [key: string]: SabLogInfo };

/** success_rate of a result line: a number in [0, 1] as the eval returned it, 0 for anything else. */
export function successRateOf(value: unknown): number {
  if (value === true) return 1;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) return 0;
  return value;
}

/** What the metrics read from one graded attempt of one task. */
export interface SabAttempt {
  valid_program: number;
  success_rate: number;
  codebert_score: number | null;
  /** Dollars the agent spent on this attempt, when known. */
  cost?: number | null;
  not_judged?: boolean;
}

export type SelectionCriterion = "success_rate" | "valid_program" | "codebert_score" | "cost" | "first";

export interface AttemptSelection {
  /** Index of the selected attempt, from 0. */
  index: number;
  /** The criterion that left one attempt ("first": several tied on all, the first was taken). */
  decidedBy: SelectionCriterion;
  /** Criteria skipped because no attempt had a value, while several attempts still tied. */
  skipped: Array<"codebert_score" | "cost">;
}

/** Upstream's selection among one task's attempts (see the file comment for the order). */
export function selectBestAttempt(attempts: readonly SabAttempt[]): AttemptSelection {
  if (attempts.length === 0) throw new RangeError("selectBestAttempt needs at least one attempt");
  let remaining = attempts.map((attempt, index) => ({ attempt, index }));
  const skipped: AttemptSelection["skipped"] = [];
  const steps: Array<[SelectionCriterion, (attempt: SabAttempt) => number | null | undefined, "max" | "min"]> = [
    ["success_rate", (attempt) => attempt.success_rate, "max"],
    ["valid_program", (attempt) => attempt.valid_program, "max"],
    ["codebert_score", (attempt) => attempt.codebert_score, "max"],
    ["cost", (attempt) => attempt.cost, "min"],
  ];
  for (const [criterion, value, direction] of steps) {
    const values = remaining.map(({ attempt }) => value(attempt));
    if (values.some((each) => each === null || each === undefined)) {
      // Not measured for some attempt: upstream's max() would crash; every attempt ties here.
      skipped.push(criterion as "codebert_score" | "cost");
      continue;
    }
    const numbers = values as number[];
    const best = direction === "max" ? Math.max(...numbers) : Math.min(...numbers);
    remaining = remaining.filter((_, position) => numbers[position] === best);
    if (remaining.length === 1) return { index: remaining[0]!.index, decidedBy: criterion, skipped };
  }
  return { index: remaining[0]!.index, decidedBy: "first", skipped };
}

export interface SabMetrics {
  /** Tasks of the dataset (the denominator of VER). */
  tasks: number;
  /** Mean valid_program over all tasks. */
  VER: number | null;
  /** Successes over the tasks that were judged (all but the figure tasks not judged). */
  SR: number | null;
  /** The sum of the judged tasks' success_rate (fractions count as they are). */
  successes: number;
  /** Figure tasks whose eval wanted the judge when none was configured. */
  not_judged: string[];
  /** Mean cost of the selected attempts, when every one is known. */
  cost: number | null;
}

/** VER, SR (not-judged tasks out of its denominator) and cost over one attempt per task. */
export function sabMetrics(attempts: ReadonlyArray<{ taskId: string; attempt: SabAttempt }>, total = attempts.length): SabMetrics {
  const notJudged = attempts.filter(({ attempt }) => attempt.not_judged === true).map(({ taskId }) => taskId);
  // Upstream adds success_rate up as the eval returned it, so a fraction counts as that fraction.
  const successes = attempts.reduce((sum, { attempt }) => sum + (attempt.not_judged === true ? 0 : successRateOf(attempt.success_rate)), 0);
  const valid = attempts.reduce((sum, { attempt }) => sum + attempt.valid_program, 0);
  const judged = total - notJudged.length;
  const costs = attempts.map(({ attempt }) => attempt.cost);
  const knownCost = attempts.length > 0 && costs.every((cost) => typeof cost === "number");
  return {
    tasks: total,
    VER: total === 0 ? null : valid / total,
    SR: judged === 0 ? null : successes / judged,
    successes,
    not_judged: notJudged,
    cost: knownCost ? (costs as number[]).reduce((sum, cost) => sum + cost, 0) / attempts.length : null,
  };
}

export interface BestOfN extends SabMetrics {
  attempts: number;
  /** Per task: the selected attempt (from 1) and the criterion that decided. */
  selected: Array<{ taskId: string; attempt: number; decidedBy: SelectionCriterion; skipped: AttemptSelection["skipped"] }>;
  /** Tasks where upstream would have used a figure dynabox does not have (CodeBERTScore, cost). */
  selection_differs_possibly: string[];
}

/** Upstream's best-of-N over attempts[attempt][task] (every attempt lists the tasks in one order). */
export function bestOfN(taskIds: readonly string[], attempts: ReadonlyArray<ReadonlyArray<SabAttempt>>): BestOfN {
  const selected: BestOfN["selected"] = [];
  const chosen: Array<{ taskId: string; attempt: SabAttempt }> = [];
  taskIds.forEach((taskId, position) => {
    const candidates = attempts.map((list) => list[position]!);
    const selection = selectBestAttempt(candidates);
    selected.push({ taskId, attempt: selection.index + 1, decidedBy: selection.decidedBy, skipped: selection.skipped });
    chosen.push({ taskId, attempt: candidates[selection.index]! });
  });
  return {
    ...sabMetrics(chosen, taskIds.length),
    attempts: attempts.length,
    selected,
    selection_differs_possibly: selected.filter((each) => each.skipped.length > 0).map((each) => each.taskId),
  };
}

/** One line of upstream's eval log (run_eval.py / the harness): exactly the four fields. */
export interface UpstreamEvalLogLine {
  valid_program: number;
  codebert_score: number;
  success_rate: number;
  log_info: SabLogInfo;
}

/**
 * What dynabox writes in place of the CodeBERTScore it can not compute, so that upstream's
 * calculate_metrics.py (which adds and compares the field) runs. 0 on every line: the
 * "CodeBERTScore" that calculate_metrics prints is then 0 and means "not computed".
 */
export const CODEBERT_PLACEHOLDER = 0;

/** The eval-log line calculate_metrics.py reads, from a result line (dynabox's extras dropped). */
export function upstreamEvalLogLine(line: Record<string, unknown> | undefined, error?: string): UpstreamEvalLogLine {
  const valid = line?.valid_program;
  if (line === undefined || (valid !== 0 && valid !== 1)) {
    // Upstream's harness writes valid_program 0 and success_rate 0 for an instance with no result.
    return { valid_program: 0, codebert_score: CODEBERT_PLACEHOLDER, success_rate: 0, log_info: `not graded: ${error ?? "no result"}` };
  }
  const computed = line.codebert_score;
  return {
    valid_program: valid,
    codebert_score: typeof computed === "number" ? computed : CODEBERT_PLACEHOLDER,
    success_rate: successRateOf(line.success_rate),
    log_info: line.log_info === undefined ? "" : (line.log_info as SabLogInfo),
  };
}
