// ScienceAgentBench's headline: VER (valid execution rate) and SR (success rate) over the tasks,
// as its calculate_metrics.py reports them; per task, valid_program and success_rate.

import { firstLineOf, meanOver, percent, type FamilySummary } from "../summary.js";
import type { Verdict } from "../types.js";
import { sabRunTable } from "./attempts.js";

export const sabSummary: FamilySummary = {
  summarize(verdicts: readonly Verdict[], total = verdicts.length) {
    return {
      family: "sab",
      tasks: total,
      graded: verdicts.length,
      VER: meanOver(total, verdicts.map((v) => Number(v.upstream.valid_program ?? 0))),
      SR: meanOver(total, verdicts.map((v) => Number(v.upstream.success_rate ?? 0))),
    };
  },
  summaryLine(upstream) {
    if (upstream.not_judged === true) return `valid_program ${upstream.valid_program}, not judged (figure task; no --judge-model): neither success nor failure`;
    return `valid_program ${upstream.valid_program}, success_rate ${upstream.success_rate}`;
  },
  failureLine(upstream) {
    const log = firstLineOf(upstream.log_info);
    if (upstream.valid_program === 0) return `program invalid${log ? `: ${log}` : ""}`;
    return `program ran, eval failed${log ? `: ${log}` : ""}`;
  },
  metricLine(summary) {
    return `SR ${percent(summary.SR)}  VER ${percent(summary.VER)}`;
  },
  // Upstream's best-of-N (calculate_metrics.py) picks one attempt per task by its own rule.
  attemptsTable: sabRunTable,
};
