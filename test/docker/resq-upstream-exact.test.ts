// RES-Q patch verdicts and messages as upstream gives them (Qurrent-AI/RES-Q 39399b1,
// resq/task.py and resq/git/utils.py). The reference is computed here the way upstream does it,
// with real git on the host: drop "index " lines, write the patch to ../temp.patch, run
// `git -C repo apply --reject --whitespace=fix -v ../temp.patch`, keep stderr.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanRepositoryFor, resqFamily } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import { bundledTask, bundledTasks, resqContext, withRow } from "./resq-helpers.js";

let context: Awaited<ReturnType<typeof resqContext>>;
let tasks: ResqTask[];

beforeAll(async () => {
  context = await resqContext();
  tasks = await bundledTasks();
});
afterAll(async () => {
  await context?.dispose();
});

/** Upstream's apply, on the host: success and git's stderr. */
async function upstreamApply(task: ResqTask, patch: string): Promise<{ applied: boolean; stderr: string }> {
  const clean = await cleanRepositoryFor(context, task);
  const work = await mkdtemp(path.join(tmpdir(), "dynabox-resq-upstream-"));
  try {
    const repository = path.join(work, "repo");
    await execa("git", ["clone", "-q", clean.directory, repository]);
    await execa("git", ["-C", repository, "reset", "-q", "--hard", clean.baseCommit]);
    // Upstream's filter drops every line that starts with "index " (no binary parts here).
    const filtered = patch.split(/(?<=\n)/).filter((line) => !line.startsWith("index ")).join("");
    await writeFile(path.join(work, "temp.patch"), filtered);
    // Upstream keeps git's bytes (`stderr.decode()`): no final newline stripped, CRs kept.
    const result = await execa("git", ["-C", repository, "apply", "--reject", "--whitespace=fix", "-v", "../temp.patch"], {
      reject: false,
      stripFinalNewline: false,
    });
    return { applied: result.exitCode === 0, stderr: result.stderr };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe("RES-Q patch text as upstream", () => {
  it("a gold patch without its final newline is PATCH FAILED with git's 'corrupt patch' text, never fixed", async () => {
    const task = bundledTask(tasks, "1_0");
    const cut = task.row.solution_patch.replace(/\n$/, "");
    expect(cut.endsWith("\n")).toBe(false);
    const verdict = await resqFamily.grade(context, task, cut);
    const reference = await upstreamApply(task, cut);
    expect(reference.applied).toBe(false);
    expect(verdict.upstream).toEqual({ id: "1_0", success: false, message: "PATCH FAILED", test_suite_feedback: reference.stderr });
    expect(verdict.upstream.test_suite_feedback).toMatch(/^error: corrupt patch at line \d+\n$/);
    // The same patch with its newline passes, with upstream's empty feedback.
    const whole = await resqFamily.grade(context, task, task.row.solution_patch);
    expect(whole.upstream).toEqual({ id: "1_0", success: true, message: "PASS", test_suite_feedback: "" });
  });

  it("an empty patch is PATCH FAILED 'Empty patch'; a blank one gets git's own error", async () => {
    const task = bundledTask(tasks, "0_0");
    expect((await resqFamily.grade(context, task, "")).upstream).toEqual({
      id: "0_0",
      success: false,
      message: "PATCH FAILED",
      test_suite_feedback: "Empty patch",
    });
    // Upstream decides before any environment: even a task whose Python can not be given says so.
    expect((await resqFamily.grade(context, withRow(task, { testbed_environment: "python3.10" }), "")).upstream).toMatchObject({
      message: "PATCH FAILED",
      test_suite_feedback: "Empty patch",
    });
    const blank = await resqFamily.grade(context, task, "   \n");
    const reference = await upstreamApply(task, "   \n");
    expect(blank.upstream).toEqual({ id: "0_0", success: false, message: "PATCH FAILED", test_suite_feedback: reference.stderr });
    expect(reference.stderr).toBe('error: No valid patches in input (allow with "--allow-empty")\n');
  });

  it("a patch that does not apply carries git's verbose stderr, as upstream's -v gives it", async () => {
    const task = bundledTask(tasks, "2_0");
    const other = bundledTask(tasks, "1_0");
    // A patch made for another repository, and one whose hunk does not match (a reject).
    const foreign = other.row.solution_patch;
    const mismatched = task.row.solution_patch.replace(/^-(?!--).*$/m, "-a line that is not there");
    expect(mismatched).not.toBe(task.row.solution_patch);
    for (const patch of [foreign, mismatched]) {
      const verdict = await resqFamily.grade(context, task, patch);
      const reference = await upstreamApply(task, patch);
      expect(reference.applied).toBe(false);
      expect(verdict.upstream).toEqual({ id: "2_0", success: false, message: "PATCH FAILED", test_suite_feedback: reference.stderr });
      expect(reference.stderr).toMatch(/error: /);
    }
  });

  it("git's whitespace warnings name the patch file as upstream's ../temp.patch (a CRLF patch)", async () => {
    // An editor or a Windows agent saves the patch with CRLF line ends: every added line then ends
    // in whitespace, git warns per line naming the file, and the context no longer matches.
    const task = bundledTask(tasks, "0_0");
    const newFile = "diff --git a/NOTES.txt b/NOTES.txt\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n";
    const crlf = (task.row.solution_patch + newFile).replace(/\n/g, "\r\n");
    const verdict = await resqFamily.grade(context, task, crlf);
    const reference = await upstreamApply(task, crlf);
    expect(reference.applied).toBe(false);
    expect(reference.stderr).toMatch(/^\.\.\/temp\.patch:\d+: trailing whitespace\.\r?\n/m);
    expect(verdict.upstream).toEqual({ id: "0_0", success: false, message: "PATCH FAILED", test_suite_feedback: reference.stderr });
  });

  it("a patch with trailing whitespace on its added lines is fixed by git and passes, as upstream", async () => {
    const task = bundledTask(tasks, "0_0");
    const spaced = task.row.solution_patch.replace(/^(\+(?!\+\+).*\S)$/gm, "$1  \t");
    expect(spaced).not.toBe(task.row.solution_patch);
    expect((await upstreamApply(task, spaced)).applied).toBe(true);
    expect((await resqFamily.grade(context, task, spaced)).upstream).toEqual({ id: "0_0", success: true, message: "PASS", test_suite_feedback: "" });
  });

  it("a test script with no sys.exit(0) / sys.exit(exit_code) line never passes, as upstream's secret is never printed; a comment naming it is where upstream prints", async () => {
    const task = bundledTask(tasks, "0_0");
    const script = task.row.test_script;
    expect(script).toContain("sys.exit(exit_code)\n");
    // Ends with `raise SystemExit(exit_code)`: exit status 0 for the gold patch, but no line for upstream's print.
    const noExitLine = withRow(task, { test_script: script.replace("sys.exit(exit_code)\n", "raise SystemExit(exit_code)\n") });
    const gold = await resqFamily.grade(context, noExitLine, task.row.solution_patch);
    expect(gold.upstream).toMatchObject({ success: false, message: "FAIL" });
    expect(gold.upstream.test_suite_feedback).toContain("[the test script has no line with sys.exit(0) or sys.exit(exit_code), where upstream prints its secret, so, as upstream, no run of it can pass]");
    // Such a task can not be graded by upstream; validate says so, and why, in words.
    const validation = await resqFamily.validate(context, noExitLine);
    expect(validation.valid).toBe(false);
    expect(validation.checks).toMatchObject({ base: "FAIL", solution: "FAIL" });
    expect((validation.checks as { problems: string[] }).problems).toEqual([expect.stringMatching(/^solution_patch gives FAIL: [^]*no line with sys\.exit\(0\) or sys\.exit\(exit_code\)/)]);
    // The same with a comment that names the exit: upstream prints its secret at the comment.
    const commented = withRow(task, { test_script: "# the script ends like sys.exit(exit_code)\n" + noExitLine.row.test_script });
    expect((await resqFamily.grade(context, commented, task.row.solution_patch)).upstream).toEqual({ id: "0_0", success: true, message: "PASS", test_suite_feedback: "" });
    expect((await resqFamily.grade(context, commented, "")).upstream.message).toBe("PATCH FAILED");
  });
});
