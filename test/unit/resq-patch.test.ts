import { describe, expect, it } from "vitest";
import { resqResultLine } from "../../src/families/resq/grader.js";
import { EMPTY_PATCH_FEEDBACK, formatPatchAsUpstream, planPatch, pythonSplitLinesKeepEnds } from "../../src/families/resq/patch.js";

const TEXT_PATCH = [
  "diff --git a/pkg/a.py b/pkg/a.py",
  "index 3b18e51..a1b2c3d 100644",
  "--- a/pkg/a.py",
  "+++ b/pkg/a.py",
  "@@ -1 +1 @@",
  "-old",
  "+new",
  "",
].join("\n");

describe("RES-Q patches as upstream hands them to git (resq/task.py, resq/git/utils.py)", () => {
  it("an empty string is never applied: PATCH FAILED with upstream's feedback", () => {
    expect(planPatch("")).toEqual({ apply: false, feedback: EMPTY_PATCH_FEEDBACK });
    expect(EMPTY_PATCH_FEEDBACK).toBe("Empty patch");
  });

  it("a blank patch goes to git as it is (git refuses it with its own error)", () => {
    expect(planPatch("   \n")).toEqual({ apply: true, text: "   \n" });
  });

  it("never adds a missing final newline", () => {
    const cut = TEXT_PATCH.slice(0, -1);
    const plan = planPatch(cut);
    expect(plan.apply && plan.text.endsWith("+new")).toBe(true);
  });

  it("drops every line starting with 'index ' and nothing else", () => {
    expect(formatPatchAsUpstream(TEXT_PATCH)).toBe(TEXT_PATCH.replace("index 3b18e51..a1b2c3d 100644\n", ""));
    // An added or context line that happens to hold "index " is kept: it starts with "+" or " ".
    const content = TEXT_PATCH.replace("+new", "+index = 1\n index 2");
    expect(formatPatchAsUpstream(content)).toContain("+index = 1\n index 2");
  });

  it("cuts a 'Binary files differ' diff (its three lines) and a GIT binary patch section", () => {
    const binaryDiffer = ["diff --git a/x.png b/x.png", "new file mode 100644", "Binary files /dev/null and b/x.png differ", ""].join("\n");
    expect(formatPatchAsUpstream(binaryDiffer + TEXT_PATCH)).toBe(formatPatchAsUpstream(TEXT_PATCH));
    const gitBinary = ["diff --git a/y.bin b/y.bin", "new file mode 100644", "GIT binary patch", "literal 3", "KcmZQz", "", ""].join("\n");
    // Upstream never leaves a binary section until a "Binary files ... differ" line: what follows is cut too.
    expect(formatPatchAsUpstream(gitBinary + TEXT_PATCH)).toBe("diff --git a/y.bin b/y.bin\nnew file mode 100644\n");
  });

  it("splits lines as Python's splitlines(keepends=True)", () => {
    expect(pythonSplitLinesKeepEnds("a\r\nb\rc\nd\u2028e")).toEqual(["a\r\n", "b\r", "c\n", "d\u2028", "e"]);
    expect(pythonSplitLinesKeepEnds("")).toEqual([]);
    // A line "index ..." after a lone carriage return is a line of its own for upstream, and goes.
    expect(formatPatchAsUpstream("x\rindex 1..2\n+y\n")).toBe("x\r+y\n");
  });

  it("builds upstream's result line: PASS and TIMED OUT carry no feedback", () => {
    expect(resqResultLine("0_0", "PASS", "all output")).toEqual({ id: "0_0", success: true, message: "PASS", test_suite_feedback: "" });
    expect(resqResultLine("0_0", "TIMED OUT", "partial")).toMatchObject({ success: false, test_suite_feedback: "" });
    expect(resqResultLine("0_0", "FAIL", "boom")).toMatchObject({ success: false, test_suite_feedback: "boom" });
  });
});
