// `dynabox run --attempts k` on ScienceAgentBench tasks: upstream's best-of-N selection
// (calculate_metrics.py's evaluate_best_run) over each task's attempts, with the agent's real
// cost, and which attempt was chosen by which criterion.

import type { RunAttempt } from "../summary.js";
import { sabMetrics, selectBestAttempt, successRateOf, type SabAttempt, type SelectionCriterion } from "./metrics.js";

export type SabRunAttempt = RunAttempt;

function asAttempt(summary: SabRunAttempt): SabAttempt {
  const line = summary.upstream ?? {};
  // An attempt that ended in an error has no result: invalid and failed, as upstream's harness writes it.
  return {
    valid_program: line.valid_program === 1 ? 1 : 0,
    success_rate: line.not_judged === true ? 0 : successRateOf(line.success_rate),
    codebert_score: typeof line.codebert_score === "number" ? line.codebert_score : null,
    cost: summary.cost_usd,
    not_judged: line.not_judged === true,
  };
}

/** VER, SR (figure tasks not judged left out) and the selected attempt of every task. */
export function sabRunTable(summaries: readonly SabRunAttempt[]): Record<string, unknown> {
  const byTask = new Map<string, SabRunAttempt[]>();
  for (const summary of summaries) byTask.set(summary.id, [...(byTask.get(summary.id) ?? []), summary]);
  const selected: Array<{ taskId: string; attempt: number; decidedBy: SelectionCriterion }> = [];
  const chosen: Array<{ taskId: string; attempt: SabAttempt }> = [];
  for (const [taskId, attempts] of byTask) {
    const ordered = [...attempts].sort((left, right) => left.attempt - right.attempt);
    const candidates = ordered.map(asAttempt);
    const selection = selectBestAttempt(candidates);
    selected.push({ taskId, attempt: ordered[selection.index]!.attempt, decidedBy: selection.decidedBy });
    chosen.push({ taskId, attempt: candidates[selection.index]! });
  }
  const metrics = sabMetrics(chosen, byTask.size);
  const table: Record<string, unknown> = { family: "sab", tasks: metrics.tasks, graded: byTask.size, VER: metrics.VER, SR: metrics.SR, not_judged: metrics.not_judged };
  if (summaries.some((summary) => summary.attempt > 1)) {
    table.best_of_n = {
      rule: "per task: highest success_rate, then valid_program, then codebert_score (not computed: skipped), then lowest cost, then the first attempt (upstream calculate_metrics.py)",
      selected,
      cost_usd_of_selected: metrics.cost,
    };
  }
  return table;
}
