// ScienceAgentBench asks for upstream's Python 3.10. On this air-gapped engine python:3.10-slim is
// neither present nor pullable, and no Debian release ships 3.10: programs run on the sandbox
// image's 3.11, and every result says so (which Python, why, how to get 3.10), counted in the summary.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { sabFamily } from "../../src/families/sab/grader.js";
import { loadSabTasks } from "../../src/families/sab/task.js";
import type { GradingContext } from "../../src/grading/context.js";
import { temporaryFolders } from "../temporary-folders.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-sab-python-");
const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const WARNING = /upstream harness runs programs on Python 3\.10; this one ran on Python 3\.11 .*python:3\.10-slim is not on this engine, no registry answers, and no Debian release ships 3\.10.*docker load/;

describe("ScienceAgentBench's Python 3.10, air-gapped", () => {
  it("the engine really lacks python:3.10-slim (so the rest tests the warning path)", async () => {
    const images = await docker.listImages({ filters: JSON.stringify({ reference: ["python:3.10-slim", "python:3.10"] }) });
    expect(images).toEqual([]);
  });

  it("a program is graded on 3.11 as before, and its verdict's warnings name the Python used and how to get 3.10; the agent's image is the same", async () => {
    const tasks = await loadSabTasks(BUNDLED_ROWS);
    const task = tasks[3]!;
    const warnings: string[] = [];
    const folder = await scratch();
    const context: GradingContext = { docker, sandboxImage: image(), cacheDirectory: folder, runId: "test-sab-python", onWarning: (warning) => warnings.push(warning) };
    const source = await readFile(path.join(path.dirname(BUNDLED_ROWS), "benchmark", "gold_programs", task.row.gold_program_name), "utf8");
    const verdict = await sabFamily.grade(context, task, { fileName: `pred_${task.row.gold_program_name}`, source });
    expect(verdict.passed).toBe(true);
    expect(warnings.some((warning) => WARNING.test(warning)), warnings.join("\n")).toBe(true);
    warnings.length = 0;
    expect(await sabFamily.agentImage!(context, task)).toBe(image());
    expect(warnings.some((warning) => WARNING.test(warning))).toBe(true);
  }, 300_000);

  it("dynabox eval: every row carries the warning, and the summary counts it", async () => {
    const folder = await scratch();
    const programs = path.join(folder, "programs");
    await mkdir(programs);
    const rows = (await readFile(BUNDLED_ROWS, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { gold_program_name: string });
    const gold = rows[3]!.gold_program_name;
    await writeFile(path.join(programs, `pred_${gold}`), await readFile(path.join(path.dirname(BUNDLED_ROWS), "benchmark", "gold_programs", gold)));
    const runDirectory = path.join(folder, "run");
    const result = await execa("node", [cli, "eval", "--sab", BUNDLED_ROWS, "--programs", programs, "--run-dir", runDirectory, "--json"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(WARNING);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as { warnings?: number };
    expect(summary.warnings).toBeGreaterThanOrEqual(rows.length);
  }, 600_000);
});
