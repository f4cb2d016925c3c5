// MLAgentBench's headline: the success rate (a run succeeds when it improves the baseline by
// more than 10 %, as the upstream paper counts it); per task, its score and improvement.

import { firstLineOf, meanOver, percent, type FamilySummary } from "../summary.js";
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
};
