// Task environment images for RES-Q, where no package index answers and the user allowed Debian
// substitutes: requirements become Debian packages in an image layered on the sandbox image, built
// once and reused, each substitution listed; what Debian does not have is a clear error. (pip from
// an index, with pins honoured, is test/docker/pip-environment.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import type { GradingContext } from "../../src/grading/context.js";
import { ensureTaskImage } from "../../src/grading/environment.js";
import { resqFamily } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import { docker } from "./sandbox-fixture.js";
import { bundledTask, bundledTasks, resqContext, withRow } from "./resq-helpers.js";

let context: Awaited<ReturnType<typeof resqContext>> & { environment: GradingContext["environment"] };
let textkit: ResqTask;

beforeAll(async () => {
  // Port 9 on loopback refuses at once: "no index answers", deterministically.
  context = { ...(await resqContext()), environment: { pipIndexUrl: "http://127.0.0.1:9/simple", allowDebianSubstitutes: true } };
  textkit = bundledTask(await bundledTasks(), "1_0");
});
afterAll(async () => {
  await context?.dispose();
});

describe("task environment images", () => {
  it("an empty spec is the sandbox image itself", async () => {
    expect(await ensureTaskImage(context, {})).toBe(context.sandboxImage);
    expect(await ensureTaskImage(context, { pythonRequirements: "# nothing\n" })).toBe(context.sandboxImage);
  });

  it("installs requirements_txt as Debian packages, once, and grades in that image", async () => {
    const task = withRow(textkit, {
      requirements_txt: "toml==0.10.2\n",
      // A PASS carries no output (upstream's rule), so the version is checked by the test itself.
      test_script: "import toml\nassert toml.__version__ == '0.10.2', toml.__version__\n" + textkit.row.test_script,
    });
    const lines: string[] = [];
    const first = await resqFamily.grade({ ...context, onProgress: (line) => lines.push(line) }, task, task.row.solution_patch);
    expect(first.upstream).toMatchObject({ message: "PASS" });
    const text = lines.join("\n");
    expect(text).toMatch(/warning: Debian substitute: "toml==0\.10\.2" installed as python3-toml \(Debian's version; a pin is not honoured\)/);

    const tag = await ensureTaskImage(context, { pythonRequirements: "toml==0.10.2\n" });
    expect(tag).toMatch(/^dynabox-task:[0-9a-f]{16}$/);
    const inspected = await docker.getImage(tag).inspect();
    expect(inspected.Config.User).toBe("1000:1000");
    expect(inspected.Config.Labels?.["dynabox.task-environment"]).toBe(tag.split(":")[1]);

    // Reused: no build the second time.
    const again: string[] = [];
    await ensureTaskImage({ ...context, onProgress: (line) => again.push(line) }, { pythonRequirements: "toml==0.10.2\n" });
    expect(again.some((line) => line.startsWith("building"))).toBe(false);
  });

  it("a requirement Debian does not package is an error that names it and says how to name an index", async () => {
    const task = withRow(textkit, { requirements_txt: "definitely-not-packaged-by-debian-xyz>=1\n" });
    const error = await resqFamily.grade(context, task, task.row.solution_patch).catch((caught: unknown) => caught);
    expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_TASK_INVALID");
    expect((error as Error).message).toMatch(/requirement "definitely-not-packaged-by-debian-xyz>=1" \(Debian package python3-definitely-not-packaged-by-debian-xyz\)/);
    expect((error as Error).message).toMatch(/which the Debian mirror does not have\. Name a package index that has it \(--pip-index-url/);
  });
});

describe("the agent's image", () => {
  it("is the task environment: the sandbox image for no requirements, the built image otherwise", async () => {
    expect(await resqFamily.agentImage?.(context, textkit)).toBe(context.sandboxImage);
    const withToml = withRow(textkit, { requirements_txt: "toml\n" });
    expect(await resqFamily.agentImage?.(context, withToml)).toBe(await ensureTaskImage(context, { pythonRequirements: "toml\n" }));
  });
});
