import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { createResqFamily, gradeResq, resqFamily, RESQ_REPOSITORY_PATH } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import { sandbox } from "./sandbox-fixture.js";
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

const MALFORMED_PATCH = [
  "diff --git a/does/not/exist.py b/does/not/exist.py",
  "--- a/does/not/exist.py",
  "+++ b/does/not/exist.py",
  "@@ -1,2 +1,2 @@",
  "-old line",
  "+new line",
  " context",
  "",
].join("\n");

describe("RES-Q grading of the bundled tasks", () => {
  for (const id of ["0_0", "1_0", "2_0", "3_0"]) {
    it(`${id}: gold patch PASS, empty patch PATCH FAILED, malformed patch PATCH FAILED`, async () => {
      const task = bundledTask(tasks, id);
      const gold = await resqFamily.grade(context, task, task.row.solution_patch);
      expect(gold.upstream).toMatchObject({ id, success: true, message: "PASS" });
      expect(gold).toMatchObject({ taskId: id, family: "resq", passed: true, score: 1 });
      expect(Object.keys(gold.upstream).sort()).toEqual(["id", "message", "success", "test_suite_feedback"]);
      expect(gold.upstream.test_suite_feedback).toBe("");

      const empty = await resqFamily.grade(context, task, "");
      expect(empty.upstream).toEqual({ id, success: false, message: "PATCH FAILED", test_suite_feedback: "Empty patch" });
      expect(empty).toMatchObject({ passed: false, score: 0 });

      const malformed = await resqFamily.grade(context, task, MALFORMED_PATCH);
      expect(malformed.upstream).toMatchObject({ success: false, message: "PATCH FAILED" });
      expect(String(malformed.upstream.test_suite_feedback)).toMatch(/does\/not\/exist\.py/);
    });
  }

  it("validates a bundled task: fails at base, passes with the solution", async () => {
    const result = await resqFamily.validate(context, bundledTask(tasks, "1_0"));
    expect(result.valid).toBe(true);
    expect(result.checks).toMatchObject({ base: "FAIL", solution: "PASS" });
    expect(typeof result.checks.seconds).toBe("number");
  });

  it("a test that loops forever is TIMED OUT after the configured timeout, and the next grade works", async () => {
    const task = bundledTask(tasks, "0_0");
    const looping = withRow(task, { test_script: "import sys\nprint('starting', flush=True)\nwhile True:\n    pass\nsys.exit(0)\n" });
    const started = performance.now();
    const verdict = await gradeResq(context, looping, task.row.solution_patch, { testTimeoutSeconds: 2 });
    expect(verdict.upstream).toMatchObject({ success: false, message: "TIMED OUT" });
    // Upstream (resq/task.py) gives a timed-out test no feedback.
    expect(verdict.upstream.test_suite_feedback).toBe("");
    expect(performance.now() - started).toBeLessThan(30_000);
    expect((await gradeResq(context, task, task.row.solution_patch)).passed).toBe(true);
  });

  it("a task whose validity check fails is reported invalid (the test passes at base)", async () => {
    const task = withRow(bundledTask(tasks, "1_0"), { test_script: "import sys\nexit_code = 0\nsys.exit(exit_code)\n" });
    const result = await resqFamily.validate(context, task);
    expect(result).toMatchObject({ valid: false, checks: { base: "PASS", solution: "PASS" } });
  });

  it("refuses another Python by default and runs on 3.11 with pythonMismatch: warn", async () => {
    const task = withRow(bundledTask(tasks, "1_0"), { testbed_environment: "python3.10" });
    const error = await resqFamily.grade(context, task, task.row.solution_patch).catch((caught: unknown) => caught);
    expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_TASK_INVALID");
    expect((error as Error).message).toMatch(/python3\.10.*Python 3\.11.*--python-mismatch warn/s);
    expect((error as Error).message).not.toContain("pythonMismatch");
    const lines: string[] = [];
    const warned = await createResqFamily({ pythonMismatch: "warn" }).grade(
      { ...context, onProgress: (line) => lines.push(line) },
      task,
      task.row.solution_patch,
    );
    expect(warned.passed).toBe(true);
    expect(lines.join("\n")).toMatch(/warning: 1_0: .*python3\.10/);
  });
});

describe("RES-Q agent hooks", () => {
  it("describes the task with the instruction, the repository path and the base commit", () => {
    const task = bundledTask(tasks, "0_0");
    const text = resqFamily.describe(task);
    expect(text.startsWith(task.row.instruction.trim())).toBe(true);
    expect(text).toContain(RESQ_REPOSITORY_PATH);
    expect(text).toContain(task.row.base_commit);
    expect(text).not.toContain(task.row.solution_commit);
    expect(text).not.toContain("sys.exit(exit_code)");
  });

  for (const id of ["0_0", "3_0"]) {
    it(`${id}: the workspace holds base_commit only (no solution object, no test script)`, async () => {
      const task = bundledTask(tasks, id);
      const box = await sandbox();
      await resqFamily.setUpWorkspace(context, task, box);
      const check = await box.shell(
        [
          `git rev-parse HEAD`,
          `git status --porcelain | wc -l`,
          `git cat-file -e ${task.row.solution_commit} 2>/dev/null && echo SOLUTION-PRESENT || echo solution-absent`,
          `git for-each-ref --format='%(refname)'`,
          `git rev-list --all --objects | wc -l`,
          `git fsck --no-dangling --unreachable 2>&1 | grep -c unreachable || true`,
          `grep -rl "sys.exit(exit_code)" . --exclude-dir=.git | wc -l`,
        ].join(" && "),
        { cwd: RESQ_REPOSITORY_PATH, timeoutSeconds: 60 },
      );
      const [head, dirty, solution, refs, , unreachable, testCopies] = check.stdout.trim().split("\n");
      expect(check.exitCode).toBe(0);
      expect(head).toBe(task.row.base_commit);
      expect(dirty).toBe("0");
      expect(solution).toBe("solution-absent");
      expect(refs).toBe("refs/heads/main");
      expect(unreachable).toBe("0");
      expect(testCopies).toBe("0");
    });
  }

  it("collects the agent's work as a patch (edits, new files, deletions; no __pycache__/.pyc) that grades PASS", async () => {
    const task = bundledTask(tasks, "1_0");
    const box = await sandbox();
    await resqFamily.setUpWorkspace(context, task, box);
    await box.putFiles([{ path: "solution.patch", content: task.row.solution_patch }], "/workspace");
    const work = await box.shell(
      [
        "git apply /workspace/solution.patch",
        "rm /workspace/solution.patch",
        "mkdir -p notes textkit/__pycache__",
        "echo 'new file' > notes/todo.txt",
        "echo junk > textkit/__pycache__/slug.cpython-311.pyc",
        "echo junk > stray.pyc",
        "git rm -q README.md",
        "python3 -c 'import textkit'",
        // An agent that commits, and then breaks its own .git, still gets its work collected.
        "git add -A && git commit -qm 'my work'",
        "echo 'garbage' > .git/HEAD",
      ].join(" && "),
      { cwd: RESQ_REPOSITORY_PATH, timeoutSeconds: 60 },
    );
    expect(work.exitCode, work.stderr).toBe(0);
    const patch = await resqFamily.collectSubmission(context, task, box);
    expect(patch).toContain("diff --git a/textkit/slug.py b/textkit/slug.py");
    expect(patch).toContain("diff --git a/notes/todo.txt b/notes/todo.txt");
    expect(patch).toContain("deleted file mode");
    expect(patch).not.toMatch(/__pycache__|\.pyc/);
    expect(patch).not.toContain("solution.patch");
    const left = await box.shell("ls -a /workspace", { timeoutSeconds: 30 });
    expect(left.stdout.trim().split("\n").sort()).toEqual([".", "..", "repo"]);

    const verdict = await resqFamily.grade(context, task, patch);
    expect(verdict.upstream).toMatchObject({ message: "PASS" });
  });

  it("collects an empty patch from an untouched workspace", async () => {
    const task = bundledTask(tasks, "2_0");
    const box = await sandbox();
    await resqFamily.setUpWorkspace(context, task, box);
    expect(await resqFamily.collectSubmission(context, task, box)).toBe("");
  });
});
