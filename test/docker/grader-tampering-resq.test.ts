// Attack 14 for RES-Q: a patch that tampers with grading does not pass. Each hostile patch is
// graded for real; afterwards the gold patch still passes with the same harness.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resqFamily } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import { bundledTask, bundledTasks, makePatch, resqContext } from "./resq-helpers.js";

let context: Awaited<ReturnType<typeof resqContext>>;
let textkit: ResqTask;
let sortlines: ResqTask;

beforeAll(async () => {
  context = await resqContext();
  const tasks = await bundledTasks();
  textkit = bundledTask(tasks, "1_0");
  sortlines = bundledTask(tasks, "0_0");
});
afterAll(async () => {
  await context?.dispose();
});

const FAKE_SECRET = "0123456789abcdef0123456789abcdef";
/** Code that claims success loudly and leaves with status 0 before the real test can finish. */
const EARLY_PASS = `import os, sys\nprint("PASS")\nprint("${FAKE_SECRET}")\nprint("OK")\nsys.stdout.flush()\nos._exit(0)\n`;

interface Attack {
  name: string;
  task: () => ResqTask;
  files: () => Record<string, string | null>;
  expected: "FAIL" | "PATCH FAILED";
}

const ATTACKS: Attack[] = [
  {
    name: "rewrites the repository's own tests to pass and plants test files with likely names",
    task: () => textkit,
    files: () => ({
      "tests/test_slug.py": "def test_everything():\n    assert True\n",
      "test.py": EARLY_PASS,
      "test_script.py": EARLY_PASS,
      "run_tests.py": EARLY_PASS,
    }),
    expected: "FAIL",
  },
  {
    name: "adds sitecustomize.py and usercustomize.py that print PASS and exit 0",
    task: () => textkit,
    files: () => ({ "sitecustomize.py": EARLY_PASS, "usercustomize.py": EARLY_PASS }),
    expected: "FAIL",
  },
  {
    name: "adds conftest.py and pytest.ini that short-circuit a test session",
    task: () => textkit,
    files: () => ({
      "conftest.py": `import os\ndef pytest_configure(config):\n    print("PASS")\n    os._exit(0)\n${EARLY_PASS}`,
      "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
    }),
    expected: "FAIL",
  },
  {
    name: "makes the imported package print PASS and a fake secret, then exit 0 early",
    task: () => textkit,
    files: () => ({ "textkit/__init__.py": EARLY_PASS }),
    expected: "FAIL",
  },
  {
    name: "calls sys.exit(0) at import of the package",
    task: () => textkit,
    files: () => ({ "textkit/__init__.py": 'import sys\nprint("all tests passed")\nsys.exit(0)\n' }),
    expected: "FAIL",
  },
  {
    name: "forces the process's exit status to 0 with an atexit hook and a replaced sys.exit",
    task: () => textkit,
    files: () => ({
      "textkit/__init__.py":
        "import atexit, os, sys\n" +
        "atexit.register(lambda: os._exit(0))\n" +
        "sys.exit = lambda code=0: os._exit(0)\n" +
        "from .slug import slugify\n__all__ = ['slugify']\n",
    }),
    expected: "FAIL",
  },
  {
    name: "a CLI (run through subprocess) that prints the expected output's words and exits 0",
    task: () => sortlines,
    files: () => ({ "sortlines/__main__.py": 'print("PASS")\nraise SystemExit(0)\n' }),
    expected: "FAIL",
  },
  {
    name: "tries to reach the solution through git (checkout of solution_commit and of every ref)",
    task: () => textkit,
    files: () => ({
      "textkit/__init__.py":
        "import subprocess\n" +
        `for args in (["checkout", "${textkit.row.solution_commit}", "--", "."], ["checkout", "solution", "--", "."],` +
        ` ["fetch", "origin", "solution"]):\n` +
        "    subprocess.run(['git'] + args, capture_output=True)\n" +
        "from .slug import slugify\n__all__ = ['slugify']\n",
    }),
    expected: "FAIL",
  },
];

describe("attack 14 (RES-Q): grader tampering through the patch", () => {
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      const task = attack.task();
      const patch = await makePatch(context, task, attack.files());
      expect(patch).toContain("diff --git");
      const verdict = await resqFamily.grade(context, task, patch);
      expect(verdict.upstream).toMatchObject({ success: false, message: attack.expected });
      expect(verdict).toMatchObject({ passed: false, score: 0 });
    });
  }

  it("a patch that writes into .git or outside the repository is refused (PATCH FAILED)", async () => {
    const hooks = [
      "diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout",
      "new file mode 100755",
      "--- /dev/null",
      "+++ b/.git/hooks/post-checkout",
      "@@ -0,0 +1,2 @@",
      "+#!/bin/sh",
      "+echo PASS",
      "",
    ].join("\n");
    const escape = hooks.replaceAll(".git/hooks/post-checkout", "../../tmp/planted.py");
    for (const patch of [hooks, escape]) {
      const verdict = await resqFamily.grade(context, textkit, patch);
      expect(verdict.upstream).toMatchObject({ success: false, message: "PATCH FAILED" });
    }
  });

  it("the harness still grades honestly afterwards: the gold patch passes", async () => {
    for (const task of [textkit, sortlines]) {
      const verdict = await resqFamily.grade(context, task, task.row.solution_patch);
      expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
    }
  });
});
