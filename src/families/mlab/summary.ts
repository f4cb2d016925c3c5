// MLAgentBench's headline: the success rate (a run succeeds when it improves the baseline by
// more than 10 %, as the upstream paper counts it); per task, its score and improvement.

import { firstLineOf, meanOver, numberIn, percent, type FamilySummary } from "../summary.js";
import type { Verdict } from "../types.js";

export const mlabSummary: FamilySummary = {
  summarize(verdicts: readonly Verdict[], total = verdicts.length) {
    return { family: "mlab", tasks: total, graded: verdicts.length, success_rate: meanOver(total, verdicts.map((v) => (v.passed ? 1 : 0))) };
  },
  summaryLine(upstream) {
    return upstream.error ? `invalid: ${String(upstream.error).slice(0, 120)}` : `score ${upstream.score}, improvement ${upstream.improvement}`;
  },
  failureLine(upstream) {
    const error = firstLineOf(upstream.error);
    if (error) return `invalid: ${error}`;
    const improvement = typeof upstream.improvement === "number" ? upstream.improvement : null;
    if (improvement !== null) return `improvement ${(improvement * 100).toFixed(1)} % (needs > 10 %)`;
    return null;
  },
  metricLine(summary) {
    return `success rate ${percent(summary.success_rate)}`;
  },
  displayName: "MLAgentBench",
  reportMetrics(table, upstreams) {
    const improvements = upstreams.map((upstream) => upstream.improvement).filter((value): value is number => typeof value === "number");
    const mean = improvements.length === 0 ? null : improvements.reduce((sum, value) => sum + value, 0) / improvements.length;
    return [
      { key: "success_rate", label: "success rate", kind: "rate", value: numberIn(table, "success_rate") },
      { key: "mean_improvement", label: "mean improvement", kind: "signed-rate", value: mean },
    ];
  },
  // Its grader's words are the error, which the report shows for every family.
  feedback: () => [],
};
