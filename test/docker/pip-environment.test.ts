// Task environments installed by pip from a PEP 503 index on the host's loopback, with wheels this
// test builds itself: two versions of one project whose behaviour differs. A pin gets exactly the
// pinned version, no pin gets the newest, an impossible pin is an error naming it and the index,
// and a built layer is reused without asking the index again.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { withGraderSandbox, type GradingContext } from "../../src/grading/context.js";
import { ensureTaskImage } from "../../src/grading/environment.js";
import { startPackageIndex, type PackageIndex } from "../../src/testing/package-index.js";
import { buildWheel } from "../../src/testing/wheels.js";
import { docker, image } from "./sandbox-fixture.js";

const demo = (version: string, value: string) =>
  buildWheel({
    name: "dynabox-demo",
    version,
    files: { "dynabox_demo/__init__.py": `VERSION = ${JSON.stringify(version)}\ndef answer():\n    return ${JSON.stringify(value)}\n` },
  });

let index: PackageIndex;
const made: string[] = [];

beforeAll(async () => {
  index = await startPackageIndex({ "dynabox-demo": [demo("1.0", "first"), demo("2.0", "second")] });
});
afterAll(async () => {
  await index?.close();
  // Only the images this file built: the packages layers (the Python layer is shared and cheap to keep).
  for (const tag of made) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
});

function context(lines: string[] = [], warnings: string[] = []): GradingContext {
  return {
    docker,
    sandboxImage: image(),
    cacheDirectory: "/nonexistent",
    environment: { pipIndexUrl: index.url },
    onProgress: (line) => lines.push(line),
    onWarning: (warning) => warnings.push(warning),
  };
}

async function answerIn(tag: string): Promise<string> {
  return withGraderSandbox(context(), { image: tag }, async (grader) => {
    const run = await grader.shell("python3 -c 'import dynabox_demo, sys; print(dynabox_demo.VERSION, dynabox_demo.answer(), sys.prefix)'");
    expect(run.stderr).toBe("");
    return run.stdout.trim();
  });
}

describe("pip from a loopback index", () => {
  it("a pinned requirement gets exactly the pinned version, one progress line per build", async () => {
    const lines: string[] = [];
    const tag = await ensureTaskImage(context(lines), { pythonRequirements: "dynabox-demo==1.0\n" });
    made.push(tag);
    expect(tag).toMatch(/^dynabox-env:[0-9a-f]{16}$/);
    expect(await answerIn(tag)).toBe("1.0 first /opt/dynabox/venv");
    // Not a thousand lines of pip output: a line when a build starts and one when it ends.
    expect(lines.every((line) => /^(building|built) (python|packages) layer /.test(line))).toBe(true);
    expect(lines.some((line) => line.startsWith("building packages layer") && line.includes(index.url))).toBe(true);
  });

  it("an unpinned requirement gets the newest version", async () => {
    const tag = await ensureTaskImage(context(), { pythonRequirements: "Dynabox_Demo\n" });
    made.push(tag);
    expect(await answerIn(tag)).toBe("2.0 second /opt/dynabox/venv");
  });

  it("a pin the index can not meet is an error naming the requirement and the index", async () => {
    const error = await ensureTaskImage(context(), { pythonRequirements: "dynabox-demo==9.9\n" }).catch((caught: unknown) => caught);
    expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_TASK_INVALID");
    const message = (error as Error).message;
    expect(message).toContain('"dynabox-demo==9.9"');
    expect(message).toContain(`index ${index.url}`);
    expect(message).toMatch(/versions there: 1\.0, 2\.0/);
    expect(message).toMatch(/nothing else is installed in its place/);
  });

  it("rows sharing a requirements set reuse one layer: no build, no index request, well under 50 ms", async () => {
    const first = await ensureTaskImage(context(), { pythonRequirements: "dynabox-demo==1.0\n" });
    const asked = [...index.requests.values()].reduce((sum, count) => sum + count, 0);
    const lines: string[] = [];
    const started = performance.now();
    // The same set written differently (case, spacing, a comment) is the same layer.
    const again = await ensureTaskImage(context(lines), { pythonRequirements: "# pinned\nDynabox-Demo == 1.0\n" });
    const milliseconds = performance.now() - started;
    expect(again).toBe(first);
    expect(lines).toEqual([]);
    expect([...index.requests.values()].reduce((sum, count) => sum + count, 0)).toBe(asked);
    expect(milliseconds).toBeLessThan(50);
  });

  it("an index that does not answer is a clear error; with consent, Debian substitutes are installed and listed", async () => {
    const closed = { pipIndexUrl: "http://127.0.0.1:9/simple" };
    const refused = await ensureTaskImage({ ...context(), environment: closed }, { pythonRequirements: "toml==0.10.2\n" }).catch(
      (caught: unknown) => caught,
    );
    expect(DynaboxError.isInstance(refused) && refused.code).toBe("DYNABOX_TASK_INVALID");
    expect((refused as Error).message).toMatch(/the package index does not answer: index http:\/\/127\.0\.0\.1:9\/simple/);
    expect((refused as Error).message).toMatch(/--pip-index-url.*--wheelhouse.*--allow-debian-substitutes/s);

    const warnings: string[] = [];
    const tag = await ensureTaskImage(
      { ...context([], warnings), environment: { ...closed, allowDebianSubstitutes: true } },
      { pythonRequirements: "toml==0.10.2\n" },
    );
    made.push(tag);
    expect(tag).toMatch(/^dynabox-task:/);
    expect(warnings.join("\n")).toMatch(/Debian substitute: "toml==0\.10\.2" installed as python3-toml \(Debian's version; a pin is not honoured\)/);
  });
});

describe("a held-out RES-Q row: pinned requirements from a private index named only by PIP_INDEX_URL, on Python 3.9", () => {
  it("validates and grades as upstream would", async () => {
    const { resqFamily } = await import("../../src/families/resq/grader.js");
    const { bundledTask, bundledTasks, resqContext, withRow } = await import("./resq-helpers.js");
    const base = bundledTask(await bundledTasks(), "1_0");
    const task = withRow(base, {
      testbed_environment: "python3.9",
      requirements_txt: "dynabox-demo==1.0\n",
      test_script:
        "import sys, dynabox_demo\nassert sys.version_info[:2] == (3, 9), sys.version\nassert dynabox_demo.answer() == 'first', dynabox_demo.VERSION\n" +
        base.row.test_script,
    });
    const context = await resqContext(); // no `environment`: the index comes from PIP_INDEX_URL alone
    const saved = process.env.PIP_INDEX_URL;
    process.env.PIP_INDEX_URL = index.url;
    try {
      const validation = await resqFamily.validate(context, task);
      expect(validation.valid, JSON.stringify(validation.checks)).toBe(true);
      const verdict = await resqFamily.grade(context, task, task.row.solution_patch);
      expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
      const image = await resqFamily.agentImage!(context, task);
      expect(image).toMatch(/^dynabox-env:/);
      made.push(image);
    } finally {
      if (saved === undefined) delete process.env.PIP_INDEX_URL;
      else process.env.PIP_INDEX_URL = saved;
      await context.dispose();
    }
  });
});
