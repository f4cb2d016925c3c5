// Every family answers the whole contract, so the runner, the CLI and the reports can use any of
// them without knowing which it is.

import { describe, expect, it } from "vitest";
import { EVAL_PLANNERS } from "../../src/families/eval-planners.js";
import { FAMILY_MODULES } from "../../src/families/registry.js";
import { FAMILY_SUMMARIES } from "../../src/families/summaries.js";
import { FAMILIES, type Verdict } from "../../src/families/types.js";

describe("the family contract", () => {
  it("has a module, a summary and an eval planner for every family, and the module summarizes as the summary does", () => {
    for (const family of FAMILIES) {
      const module = FAMILY_MODULES[family];
      expect(module.family).toBe(family);
      expect(module.summarize).toBe(FAMILY_SUMMARIES[family].summarize);
      expect(module.summaryLine).toBe(FAMILY_SUMMARIES[family].summaryLine);
      expect(EVAL_PLANNERS.filter((planner) => planner.family === family).map((planner) => planner.flag)).toEqual([family]);
    }
  });

  it("counts a task without a verdict as failed, and has no metric over no tasks", () => {
    const passed = (family: Verdict["family"], upstream: Record<string, unknown>): Verdict => ({ taskId: "t", family, passed: true, score: 1, upstream, seconds: 1 });
    expect(FAMILY_SUMMARIES.mlab.summarize([passed("mlab", {})], 4)).toEqual({ family: "mlab", tasks: 4, graded: 1, success_rate: 0.25 });
    expect(FAMILY_SUMMARIES.resq.summarize([passed("resq", {})], 2)).toMatchObject({ tasks: 2, passed: 1, "pass@1": 0.5, flagged: 0 });
    expect(FAMILY_SUMMARIES.sab.summarize([passed("sab", { valid_program: 1, success_rate: 1 })], 2)).toMatchObject({ VER: 0.5, SR: 0.5 });
    expect(FAMILY_SUMMARIES.sab.summarize([passed("sab", { valid_program: 1, success_rate: 0.5 })], 2)).toMatchObject({ VER: 0.5, SR: 0.25 });
    for (const family of FAMILIES) expect(FAMILY_SUMMARIES[family].metricLine(FAMILY_SUMMARIES[family].summarize([], 0))).toContain("n/a");
  });

  it("says a few words per task in each family's own terms", () => {
    expect(FAMILY_SUMMARIES.resq.summaryLine({ message: "PASS" })).toBe("PASS");
    expect(FAMILY_SUMMARIES.sab.summaryLine({ valid_program: 1, success_rate: 0 })).toBe("valid_program 1, success_rate 0");
    expect(FAMILY_SUMMARIES.mlab.summaryLine({ score: 0.9, improvement: 0.2 })).toBe("score 0.9, improvement 0.2");
    expect(FAMILY_SUMMARIES.mlab.summaryLine({ error: "no submission.csv" })).toBe("invalid: no submission.csv");
    expect(FAMILY_SUMMARIES.resq.failureLine({ message: "FAIL\nmore" })).toBe("tests: FAIL");
    expect(FAMILY_SUMMARIES.sab.failureLine({ valid_program: 0, log_info: "Timeout\n..." })).toBe("program invalid: Timeout");
    expect(FAMILY_SUMMARIES.sab.failureLine({ valid_program: 1, log_info: "" })).toBe("program ran, eval failed");
    expect(FAMILY_SUMMARIES.sab.failureLine({ valid_program: 1, success_rate: 0.5, log_info: { rmse: 2 } })).toBe('program ran, eval gave success_rate 0.5: {"rmse":2}');
    expect(FAMILY_SUMMARIES.mlab.failureLine({ improvement: 0.05 })).toBe("improvement 5.0 % (needs > 10 %)");
    expect(FAMILY_SUMMARIES.mlab.failureLine({ error: "no submission.csv" })).toBe("invalid: no submission.csv");
  });

  it("lets a family pick among attempts by its own rule: sab's best-of-N, resq's pass@k", () => {
    const attempt = (id: string, number: number, passed: boolean, upstream: Record<string, unknown>) => ({ id, attempt: number, outcome: passed ? ("passed" as const) : ("failed" as const), cost_usd: number, upstream });
    const sabTable = FAMILY_SUMMARIES.sab.attemptsTable!([attempt("1", 1, false, { valid_program: 1, success_rate: 0 }), attempt("1", 2, true, { valid_program: 1, success_rate: 1 })]);
    expect(sabTable).toMatchObject({ SR: 1, VER: 1, best_of_n: { selected: [{ taskId: "1", attempt: 2 }] } });
    const resqTable = FAMILY_SUMMARIES.resq.summarize([{ taskId: "t", family: "resq", passed: true, score: 1, upstream: {}, seconds: 1 }], 2);
    expect(FAMILY_SUMMARIES.resq.labelForAttempts!(resqTable, 3)).toMatchObject({ "pass@3": 0.5 });
    expect(FAMILY_SUMMARIES.resq.labelForAttempts!(resqTable, 3)).not.toHaveProperty("pass@1");
    expect(FAMILY_SUMMARIES.resq.labelForAttempts!(resqTable, 1)).toEqual(resqTable);
    expect(FAMILY_SUMMARIES.mlab.attemptsTable).toBeUndefined();
  });

  it("gives the report its name, metric cards, feedback fields and attempts rule", () => {
    expect(Object.fromEntries(FAMILIES.map((family) => [family, FAMILY_SUMMARIES[family].displayName]))).toEqual({ mlab: "MLAgentBench", sab: "ScienceAgentBench", resq: "RES-Q" });
    expect(FAMILY_SUMMARIES.mlab.reportMetrics({ success_rate: 0.5 }, [{ improvement: 0.1 }, { improvement: 0.3 }, {}])).toEqual([
      { key: "success_rate", label: "success rate", kind: "rate", value: 0.5 },
      { key: "mean_improvement", label: "mean improvement", kind: "signed-rate", value: 0.2 },
    ]);
    expect(FAMILY_SUMMARIES.sab.reportMetrics({ SR: 0.25, VER: 1 }, []).map((metric) => metric.key)).toEqual(["SR", "VER"]);
    expect(FAMILY_SUMMARIES.sab.reportMetrics({ SR: 0.25, VER: 1, not_judged: 2 }, []).at(-1)).toEqual({ key: "not_judged", label: "not judged", kind: "count", value: 2 });
    expect(FAMILY_SUMMARIES.resq.reportMetrics({ "pass@1": null }, [])).toEqual([{ key: "pass@1", label: "pass@1", kind: "rate", value: null }]);
    // run --attempts 3 names the table's figure pass@3; the card shows it under that name.
    const resqTable = FAMILY_SUMMARIES.resq.labelForAttempts!({ ...FAMILY_SUMMARIES.resq.summarize([], 2), "pass@1": 0.5 }, 3);
    expect(FAMILY_SUMMARIES.resq.reportMetrics({ ...resqTable, attempts: 3 }, [])).toEqual([{ key: "pass@3", label: "pass@3", kind: "rate", value: 0.5, labelNamesAttempts: true }]);
    expect(FAMILY_SUMMARIES.resq.feedback({ message: "FAIL", test_suite_feedback: "1 failed" })).toEqual([
      { label: "message", text: "FAIL" },
      { label: "test_suite_feedback", text: "1 failed" },
    ]);
    expect(FAMILY_SUMMARIES.sab.feedback({ log_info: "ROC-AUC 0.8" })).toEqual([{ label: "log_info", text: "ROC-AUC 0.8" }]);
    expect(FAMILY_SUMMARIES.sab.feedback({ log_info: { rmse: 2 }, environment_notes: "[dynabox environment] not installed: rdkit" })).toEqual([
      { label: "log_info", text: '{\n  "rmse": 2\n}' },
      { label: "environment notes", text: "[dynabox environment] not installed: rdkit" },
    ]);
    expect(FAMILY_SUMMARIES.mlab.feedback({ error: "shown by the report for every family" })).toEqual([]);
    expect(FAMILY_SUMMARIES.sab.attemptsRule!({ best_of_n: { rule: "highest success_rate first" } })).toBe("highest success_rate first");
    expect(FAMILY_SUMMARIES.sab.attemptsRule!({})).toBeNull();
    expect(FAMILY_SUMMARIES.resq.attemptsRule).toBeUndefined();
  });
});
