// ScienceAgentBench's headline: VER (valid execution rate) and SR (success rate) over the tasks,
// as its calculate_metrics.py reports them; per task, valid_program and success_rate.

import { firstLineOf, meanOver, numberIn, percent, textFeedback, type FamilySummary, type ReportMetric } from "../summary.js";
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
  displayName: "ScienceAgentBench",
  reportMetrics(table) {
    const metrics: ReportMetric[] = [
      { key: "SR", label: "SR", kind: "rate", value: numberIn(table, "SR") },
      { key: "VER", label: "VER", kind: "rate", value: numberIn(table, "VER") },
    ];
    const notJudged = numberIn(table, "not_judged");
    if (notJudged !== null && notJudged > 0) metrics.push({ key: "not_judged", label: "not judged", kind: "count", value: notJudged });
    return metrics;
  },
  feedback(upstream) {
    // log_info is what the eval returned: text, or JSON (a dict) shown as JSON.
    const log = upstream.log_info;
    return [
      ...textFeedback("log_info", typeof log === "string" || log === undefined || log === null ? log : JSON.stringify(log, null, 2)),
      ...textFeedback("environment notes", upstream.environment_notes),
    ];
  },
  attemptsRule(table) {
    const bestOf = table.best_of_n as Record<string, unknown> | undefined;
    return typeof bestOf?.rule === "string" ? bestOf.rule : null;
  },
};
