// ScienceAgentBench programs get the packages they import, as upstream's harness installs them:
// a program importing a package the base image lacks gets it from the package index (a PEP 503
// index on loopback, wheels built by the test); one the index lacks is named in the verdict's log.

import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GradingContext } from "../../src/grading/context.js";
import { sabFamily } from "../../src/grading/sab.js";
import { loadSabTasks, sabPaths } from "../../src/tasks/sab.js";
import { startPackageIndex, type PackageIndex } from "../../src/testing/package-index.js";
import { buildWheel } from "../../src/testing/wheels.js";
import { docker, image } from "./sandbox-fixture.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const tasks = await loadSabTasks(BUNDLED_ROWS);
let index: PackageIndex;
let context: GradingContext;
const warnings: string[] = [];

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
  };
});
afterAll(async () => {
  await index?.close();
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
