// The task's own Python: a RES-Q row asking for python3.9 gets a sandbox on Python 3.9 (from
// python:3.9-slim when a registry answers; here, air-gapped, Debian bullseye bootstrapped from the
// mirror), the kernel answers in it, and the RES-Q test runs on 3.9. A version nobody can supply
// is a clear error that lists what can be had. The 3.9 image is built once per engine (its tag is
// a content hash) and kept, so later runs reuse it.

import { beforeAll, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { ensurePythonSandbox } from "../../src/environments/python-images.js";
import { createResqFamily, resqFamily } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";
import { bundledTask, bundledTasks, resqContext, withRow } from "./resq-helpers.js";

let tasks: ResqTask[];
beforeAll(async () => {
  tasks = await bundledTasks();
});

describe("the task's Python", () => {
  it("python3.9 gets a sandbox on 3.9 whose kernel answers, built once and then reused", async () => {
    const lines: string[] = [];
    const tag = await ensurePythonSandbox({ docker, sandboxImage: image(), onProgress: (line) => lines.push(line) }, "python3.9");
    expect(tag).toMatch(/^dynabox-sandbox-py:[0-9a-f]{16}$/);
    // No debootstrap chatter without verbose: a few lines, each saying a step.
    expect(lines.filter((line) => line.startsWith("debootstrap: "))).toEqual([]);
    const box = await sandbox({ image: tag });
    const cell = await box.exec("import sys\nprint('%d.%d' % sys.version_info[:2])");
    expect(cell.stdout.trim()).toBe("3.9");
    const started = performance.now();
    expect(await ensurePythonSandbox({ docker, sandboxImage: image() }, "3.9")).toBe(tag);
    expect(performance.now() - started).toBeLessThan(1000);
    // The default Python, or none named, is the sandbox image itself.
    expect(await ensurePythonSandbox({ docker, sandboxImage: image() }, "python3.11")).toBe(image());
    expect(await ensurePythonSandbox({ docker, sandboxImage: image() }, "python3")).toBe(image());
  });

  it("a RES-Q row with testbed_environment python3.9 is graded on 3.9, as upstream would", async () => {
    const context = await resqContext();
    try {
      const base = bundledTask(tasks, "1_0");
      const task = withRow(base, {
        testbed_environment: "python3.9",
        test_script: "import sys\nassert sys.version_info[:2] == (3, 9), sys.version\n" + base.row.test_script,
      });
      const verdict = await resqFamily.grade(context, task, task.row.solution_patch);
      expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
      // Without the solution the same test fails on 3.9: the verdict is the test's, not the image's.
      const broken = await resqFamily.grade(context, task, "");
      expect(broken.passed).toBe(false);
    } finally {
      await context.dispose();
    }
  });

  it("a version nobody can supply is a clear error naming what can be had", async () => {
    const context = await resqContext();
    try {
      const task = withRow(bundledTask(tasks, "1_0"), { testbed_environment: "python3.10" });
      const error = await createResqFamily({}).grade(context, task, task.row.solution_patch).catch((caught: unknown) => caught);
      expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_TASK_INVALID");
      const message = (error as Error).message;
      expect(message).toMatch(/asks for python3\.10, which can not be had here/);
      expect(message).toMatch(/3\.9 \(Debian bullseye\), 3\.11 \(Debian bookworm, the default sandbox image\), 3\.13 \(Debian trixie\)/);
      const unknown = await ensurePythonSandbox({ docker, sandboxImage: image() }, "my-conda-env").catch((caught: unknown) => caught);
      expect((unknown as Error).message).toMatch(/"my-conda-env", which is not a Python 3 version/);
    } finally {
      await context.dispose();
    }
  });
});
