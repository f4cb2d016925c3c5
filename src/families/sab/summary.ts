// ScienceAgentBench's headline: VER (valid execution rate) and SR (success rate) over the tasks,
// as its calculate_metrics.py reports them; per task, valid_program and success_rate.

import { firstLineOf, meanOver, percent, type FamilySummary } from "../summary.js";
import type { Verdict } from "../types.js";
import { sabRunTable } from "./attempts.js";
import { successRateOf } from "./metrics.js";

export const sabSummary: FamilySummary = {
  summarize(verdicts: readonly Verdict[], total = verdicts.length) {
    return {
      family: "sab",
      tasks: total,
      graded: verdicts.length,
      VER: meanOver(total, verdicts.map((v) => Number(v.upstream.valid_program ?? 0))),
      SR: meanOver(total, verdicts.map((v) => successRateOf(v.upstream.success_rate))),
    };
  },
  summaryLine(upstream) {
    if (upstream.not_judged === true) return `valid_program ${upstream.valid_program}, not judged (figure task; no --judge-model): neither success nor failure`;
    return `valid_program ${upstream.valid_program}, success_rate ${upstream.success_rate}`;
  },
  failureLine(upstream) {
    // log_info is text, or what the eval returned when JSON can hold it (a dict).
    const log = firstLineOf(typeof upstream.log_info === "string" || upstream.log_info === undefined ? upstream.log_info : JSON.stringify(upstream.log_info));
    if (upstream.valid_program === 0) return `program invalid${log ? `: ${log}` : ""}`;
    const rate = successRateOf(upstream.success_rate);
    if (rate > 0) return `program ran, eval gave success_rate ${rate}${log ? `: ${log}` : ""}`;
    return `program ran, eval failed${log ? `: ${log}` : ""}`;
  },
  metricLine(summary) {
    return `SR ${percent(summary.SR)}  VER ${percent(summary.VER)}`;
  },
  // Upstream's best-of-N (calculate_metrics.py) picks one attempt per task by its own rule.
  attemptsTable: sabRunTable,
};
