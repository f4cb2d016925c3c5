import { describe, expect, it } from "vitest";
import { resqFamily } from "../../src/families/resq/grader.js";
import { resultLine, summarizeBatch, type EvalItem, type EvalResult } from "../../src/runs/evaluate.js";

function item(id: string, more: Partial<EvalItem> = {}): EvalItem {
  return { task: { id, family: "resq", origin: "/data/dataset.json" }, module: resqFamily, submission: "", item: "", ...more };
}

function graded(id: string, passed: boolean, more: Partial<EvalResult> = {}): EvalResult {
  const upstream = { id, success: passed, message: passed ? "PASS" : "FAIL", test_suite_feedback: "" };
  return { item: item(id), status: "graded", verdict: { taskId: id, family: "resq", passed, score: passed ? 1 : 0, upstream, seconds: 1 }, error: null, warnings: [], ...more };
}

function failed(id: string, code: string, outsideTotal = false): EvalResult {
  return { item: item(id, outsideTotal ? { outsideTotal } : {}), status: "error", verdict: null, error: { code, message: `reason for ${id}` }, warnings: [] };
}

describe("eval results and summary", () => {
  it("a clean line is the upstream line exactly; warnings and review flags are added only when present", () => {
    expect(resultLine(graded("0_0", true))).toEqual({ id: "0_0", success: true, message: "PASS", test_suite_feedback: "" });
    const warned = graded("1_0", true, { warnings: ["pins not honoured"] });
    expect(resultLine(warned)).toMatchObject({ warnings: ["pins not honoured"] });
    const flagged = graded("2_0", true);
    flagged.verdict!.reviewFlags = ["adds a module named like the standard library's json"];
    expect(resultLine(flagged)).toMatchObject({ review_flags: ["adds a module named like the standard library's json"] });
    expect(resultLine(failed("3_0", "DYNABOX_SANDBOX_LOST"))).toEqual({ id: "3_0", not_graded: "reason for 3_0", code: "DYNABOX_SANDBOX_LOST" });
  });

  it("errors are neither passes nor failures: they leave the denominator, and are listed apart", () => {
    const results = [
      graded("0_0", true),
      { ...graded("1_0", false), status: "stored" as const },
      failed("2_0", "DYNABOX_TASK_INVALID"),
      failed("(entry 9)", "DYNABOX_INVALID_INPUT", true),
      graded("3_0", true, { warnings: ["a", "b"] }),
    ];
    const batch = { results, byItem: results, interrupted: false };
    const summary = summarizeBatch("resq", batch, 5);
    // 5 tasks, one errored (the bad entry is not one of the tasks): 2 passed of 4.
    expect(summary).toMatchObject({ tasks: 4, dataset_tasks: 5, graded: 3, passed: 2, "pass@1": 0.5, from_store: 1, graded_now: 2, errors: 2, warnings: 2, interrupted: false });
    expect((summary.errored as { id: string; code: string }[]).map((entry) => [entry.id, entry.code])).toEqual([
      ["2_0", "DYNABOX_TASK_INVALID"],
      ["(entry 9)", "DYNABOX_INVALID_INPUT"],
    ]);
  });
});
