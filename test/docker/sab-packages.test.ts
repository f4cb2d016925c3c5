// ScienceAgentBench programs get the packages they import, as upstream's harness installs them:
// a program importing a package the base image lacks gets it from the package index (a PEP 503
// index on loopback, wheels built by the test); one the index lacks is named in the verdict's log.

import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GradingContext } from "../../src/grading/context.js";
import { sabFamily } from "../../src/families/sab/grader.js";
import { loadSabTasks, sabPaths } from "../../src/families/sab/task.js";
import { startPackageIndex, type PackageIndex } from "../../src/testing/package-index.js";
import { buildSdist, buildWheel } from "../../src/testing/wheels.js";
import { docker, image } from "./sandbox-fixture.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const tasks = await loadSabTasks(BUNDLED_ROWS);
let index: PackageIndex;
let context: GradingContext;
const warnings: string[] = [];
const made: string[] = [];

beforeAll(async () => {
  const wheel = buildWheel({ name: "dynabox-sabdemo", version: "3.1", files: { "dynabox_sabdemo/__init__.py": "VERSION = '3.1'\n" } });
  index = await startPackageIndex({ "dynabox-sabdemo": [wheel] });
  context = {
    docker,
    sandboxImage: image(),
    cacheDirectory: tmpdir(),
    runId: "test-sab-packages",
    environment: { pipIndexUrl: index.url },
    onWarning: (warning) => warnings.push(warning),
    // The packages layers this file builds (their hash covers the index's random port): removed after.
    onProgress: (line) => {
      const built = /^built packages layer (\S+)/.exec(line);
      if (built) made.push(built[1]!);
    },
  };
});
afterAll(async () => {
  await index?.close();
  for (const tag of made) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
});

describe("ScienceAgentBench packages", () => {
  it("a program importing a package the base lacks gets it from the index, and passes", async () => {
    const task = tasks[0]!;
    const gold = await readFile(sabPaths(task).goldProgram, "utf8");
    const source = `import dynabox_sabdemo\nassert dynabox_sabdemo.VERSION == "3.1"\n${gold}`;
    const verdict = await sabFamily.grade(context, task, { fileName: "with_package.py", source });
    expect(verdict.upstream).toMatchObject({ valid_program: 1, success_rate: 1 });
    expect(String(verdict.upstream.log_info)).not.toContain("[dynabox environment]");
  });

  it("a package the index does not have is named in the verdict's log; the program is then invalid", async () => {
    const task = tasks[0]!;
    const gold = await readFile(sabPaths(task).goldProgram, "utf8");
    const source = `import dynabox_not_in_any_index\n${gold}`;
    const verdict = await sabFamily.grade(context, task, { fileName: "missing_package.py", source });
    expect(verdict.upstream).toMatchObject({ valid_program: 0, success_rate: 0 });
    expect(String(verdict.upstream.log_info)).toMatch(/\[dynabox environment\] not installed: dynabox_not_in_any_index.*the package index does not have|\[dynabox environment\] not installed: dynabox_not_in_any_index/);
    expect(String(verdict.upstream.log_info)).toMatch(/ModuleNotFoundError/);
    expect(warnings.join("\n")).toMatch(/sab .*: not installed: dynabox_not_in_any_index/);
  });
});

describe("ScienceAgentBench packages: what a program's imports may make a build run", () => {
  it("an import whose package exists only as an sdist runs no install code (wheels only); it is named as not installed", async () => {
    // The sdist's build backend would call back to the index's server on the host's loopback the
    // moment pip loaded it. With wheels only, pip never loads it.
    const callback = `${index.url.replace(/\/simple$/, "")}/install-code-ran`;
    const sdist = await buildSdist("dynabox-sdistonly", "1.0", {
      "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
      "backend.py": `import urllib.request\ntry:\n    urllib.request.urlopen(${JSON.stringify(callback)}, timeout=5)\nexcept Exception:\n    pass\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    raise RuntimeError("not built")\n`,
    });
    index.add("dynabox-sdistonly", sdist);
    const task = tasks[0]!;
    const gold = await readFile(sabPaths(task).goldProgram, "utf8");
    const graded = await sabFamily
      .grade(context, task, { fileName: "sdist_import.py", source: `import dynabox_sdistonly\n${gold}` })
      .catch((error: unknown) => error);
    // First what matters: the package's install code never ran.
    expect(index.requests.get("/install-code-ran") ?? 0).toBe(0);
    const verdict = graded as Awaited<ReturnType<typeof sabFamily.grade>>;
    expect(index.requests.get("/simple/dynabox-sdistonly/") ?? 0).toBeGreaterThan(0);
    expect(String(verdict.upstream.log_info)).toMatch(/not installed: dynabox_sdistonly \(the package index has no wheel of it/);
  });
});
