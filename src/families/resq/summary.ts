// RES-Q's headline: pass@1 over the tasks, and how many verdicts a person should review first;
// per task, the upstream message.

import { firstLineOf, meanOver, numberIn, percent, textFeedback, type FamilySummary } from "../summary.js";
import type { Verdict } from "../types.js";

export const resqSummary: FamilySummary = {
  summarize(verdicts: readonly Verdict[], total = verdicts.length) {
    return {
      family: "resq",
      tasks: total,
      graded: verdicts.length,
      passed: verdicts.filter((v) => v.passed).length,
      "pass@1": meanOver(total, verdicts.map((v) => (v.passed ? 1 : 0))),
      // Verdicts a person should review before trusting them (see docs/resq.md, "Review flags").
      flagged: verdicts.filter((v) => (v.reviewFlags?.length ?? 0) > 0).length,
    };
  },
  summaryLine(upstream) {
    return String(upstream.message);
  },
  failureLine(upstream) {
    const message = firstLineOf(upstream.message);
    return message ? `tests: ${message}` : null;
  },
  metricLine(summary) {
    // A run with several attempts per task reports pass@N, the best of its N tries.
    const attempts = Number(summary.attempts ?? 1);
    const passAt = attempts > 1 ? `pass@${attempts}` : "pass@1";
    return `${passAt} ${percent(summary[passAt])}`;
  },
  labelForAttempts(table, attempts) {
    // A task passes when any of its k attempts passed: with k > 1 that is pass@k, not pass@1.
    if (attempts <= 1) return table;
    const { "pass@1": passAtOne, ...rest } = table;
    return { ...rest, [`pass@${attempts}`]: passAtOne };
  },
  displayName: "RES-Q",
  reportMetrics(table) {
    // `run --attempts k` names its table's figure pass@k (labelForAttempts).
    const attempts = Number(table.attempts ?? 1);
    if (attempts > 1 && numberIn(table, `pass@${attempts}`) !== null) {
      return [{ key: `pass@${attempts}`, label: `pass@${attempts}`, kind: "rate", value: numberIn(table, `pass@${attempts}`), labelNamesAttempts: true }];
    }
    return [{ key: "pass@1", label: "pass@1", kind: "rate", value: numberIn(table, "pass@1") }];
  },
  feedback(upstream) {
    return [...textFeedback("message", upstream.message), ...textFeedback("test_suite_feedback", upstream.test_suite_feedback)];
  },
};
