// `dynabox validate` and `dynabox eval` as a user runs them: the built CLI, bundled tasks.

import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { prepareMlabTask } from "../../src/families/mlab/grader.js";
import { discoverMlabTasks } from "../../src/families/mlab/task.js";
import { temporaryFolders } from "../temporary-folders.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-cli-grading-");

interface DatasetRow {
  id: string;
  solution_patch: string;
}

describe("dynabox validate", () => {
  it("prints one JSON array with every task valid, and skips finished tasks on a rerun", async () => {
    const runDirectory = await scratch();
    const args = [cli, "validate", "tasks/resq", "tasks/mlab/wine-mini", "--json", "--run-dir", runDirectory];
    const first = await execa("node", args, { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    const reports = JSON.parse(first.stdout) as { id: string; family: string; valid: boolean; checks: Record<string, unknown>; seconds: number }[];
    expect(reports.map((report) => `${report.family}/${report.id}`).sort()).toEqual(["mlab/wine-mini", "resq/0_0", "resq/1_0", "resq/2_0", "resq/3_0"]);
    expect(reports.every((report) => report.valid && report.seconds > 0)).toBe(true);
    expect(reports.find((report) => report.family === "resq")?.checks).toMatchObject({ base: "FAIL", solution: "PASS" });
    const second = await execa("node", args, { reject: false });
    expect(second.exitCode).toBe(0);
    expect(second.stderr.match(/skipped/g)?.length).toBe(5);
    expect(JSON.parse(second.stdout)).toEqual(reports);
  });

  it("refuses a RES-Q task for another Python unless --python-mismatch warn", async () => {
    const folder = await scratch();
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as (DatasetRow & { repo_url: string })[];
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([{ ...rows[0]!, repo_url: path.resolve("tasks/resq", rows[0]!.repo_url), testbed_environment: "python3.10" }]));
    const refused = await execa("node", [cli, "validate", dataset, "--json", "--run-dir", path.join(folder, "strict")], { reject: false });
    const [strict] = JSON.parse(refused.stdout) as { valid: boolean; checks: Record<string, unknown> }[];
    expect(strict?.valid).toBe(false);
    expect(JSON.stringify(strict?.checks)).toContain("python3.10");
    const allowed = await execa("node", [cli, "validate", dataset, "--json", "--python-mismatch", "warn", "--run-dir", path.join(folder, "lenient")], { reject: false });
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect((JSON.parse(allowed.stdout) as { valid: boolean }[])[0]?.valid).toBe(true);
  });

  it("names the problem in a malformed task file, before any container starts", async () => {
    const folder = await scratch();
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([{ id: "0_0", repo_url: "repos/x.bundle" }]));
    const result = await execa("node", [cli, "validate", dataset], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(dataset);
    expect(result.stderr).toMatch(/base_commit/);
  });
});

describe("dynabox eval", () => {
  it("grades RES-Q patches with the upstream verdicts: gold PASS, empty PATCH FAILED, malformed PATCH FAILED", async () => {
    const folder = await scratch();
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as DatasetRow[];
    const submissions = path.join(folder, "submissions.jsonl");
    await writeFile(
      submissions,
      [
        { id: rows[0]!.id, patch: rows[0]!.solution_patch },
        { id: rows[1]!.id, patch: "" },
        { id: rows[2]!.id, patch: "--- a/nothing\n+++ b/nothing\n@@ this is not a hunk @@\n" },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n") + "\n",
    );
    const runDirectory = path.join(folder, "run");
    const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", runDirectory, "--json"], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.id, line.success, line.message])).toEqual([
      [rows[0]!.id, true, "PASS"],
      [rows[1]!.id, false, "PATCH FAILED"],
      [rows[2]!.id, false, "PATCH FAILED"],
    ]);
    expect(lines.every((line) => Object.keys(line).sort().join() === "id,message,success,test_suite_feedback")).toBe(true);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toMatchObject({ family: "resq", tasks: 4, graded: 3, passed: 1, "pass@1": 0.25 });
  });

  it("grades ScienceAgentBench programs, a missing one as an empty program", async () => {
    const folder = await scratch();
    const programs = path.join(folder, "programs");
    await mkdir(programs);
    const rows = (await readFile("tasks/sab/tasks.jsonl", "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { gold_program_name: string });
    const gold = rows[3]!.gold_program_name;
    await writeFile(path.join(programs, `pred_${gold}`), await readFile(path.join("tasks/sab/benchmark/gold_programs", gold)));
    const result = await execa("node", [cli, "eval", "--sab", "tasks/sab/tasks.jsonl", "--programs", programs, "--run-dir", path.join(folder, "run"), "--json"], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.filter((line) => line.success_rate === 1).map((line) => line.program)).toEqual([`pred_${gold}`]);
    expect(lines.every((line) => "valid_program" in line && "codebert_score" in line && "log_info" in line)).toBe(true);
    expect(result.stderr).toContain("is missing");
  });

  it("reports a test that loops past --timeout as TIMED OUT", async () => {
    const folder = await scratch();
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as (DatasetRow & { repo_url: string; test_script: string })[];
    const looping = { ...rows[0]!, repo_url: path.resolve("tasks/resq", rows[0]!.repo_url), test_script: "import sys\nwhile True:\n    pass\nsys.exit(0)\n" };
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([looping]));
    const submissions = path.join(folder, "submissions.jsonl");
    await writeFile(submissions, JSON.stringify({ id: looping.id, patch: looping.solution_patch }) + "\n");
    const result = await execa("node", [cli, "eval", "--resq", dataset, "--submissions", submissions, "--timeout", "2", "--run-dir", path.join(folder, "run"), "--json"], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: looping.id, success: false, message: "TIMED OUT" });
  });

  it("grades an MLAgentBench workspace made elsewhere: the reference's output succeeds, an empty folder is invalid", async () => {
    const folder = await scratch();
    const [task] = await discoverMlabTasks("tasks/mlab/wine-mini");
    const prepared = await prepareMlabTask({ docker, sandboxImage: image(), cacheDirectory: path.join(folder, "cache") }, task!);
    // A user's workspace: the task's files with the reference train.py, run in a sandbox by `dynabox exec`.
    const workspace = path.join(folder, "workspace");
    await cp(prepared.env, workspace, { recursive: true });
    await cp("tasks/mlab/wine-mini/solution/train.py", path.join(workspace, "train.py"));
    const output = path.join(folder, "output");
    const ran = await execa("node", [cli, "exec", "--copy-in", workspace, "--copy-out", output, "-c", "import runpy\nrunpy.run_path('train.py', run_name='__main__')"], { reject: false });
    expect(ran.exitCode, ran.stderr).toBe(0);
    const graded = await execa("node", [cli, "eval", "--mlab", "tasks/mlab/wine-mini", "--workspace", output, "--run-dir", path.join(folder, "run"), "--json"], { reject: false });
    expect(graded.exitCode, graded.stderr).toBe(0);
    const line = JSON.parse(graded.stdout) as Record<string, unknown>;
    expect(Object.keys(line).sort()).toEqual(["baseline", "error", "improvement", "score", "success", "task"]);
    expect(line).toMatchObject({ task: "wine-mini", success: true, error: null });
    expect(line.improvement as number).toBeGreaterThan(0.1);
    const empty = path.join(folder, "empty");
    await mkdir(empty);
    const invalid = await execa("node", [cli, "eval", "--mlab", "tasks/mlab/wine-mini", "--workspace", empty, "--run-dir", path.join(folder, "run-empty"), "--json"], { reject: false });
    expect(JSON.parse(invalid.stdout)).toMatchObject({ task: "wine-mini", score: -1, success: false });
  });

  it("reports a submission with an unknown id as that item's error, naming the line (exit 4)", async () => {
    const folder = await scratch();
    const submissions = path.join(folder, "submissions.jsonl");
    await writeFile(submissions, JSON.stringify({ id: "no-such-task", patch: "" }) + "\n");
    const runDirectory = path.join(folder, "run");
    const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", runDirectory], { reject: false });
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain("line 1");
    expect(result.stderr).toContain("no-such-task");
    const line = JSON.parse(await readFile(path.join(runDirectory, "results.jsonl"), "utf8")) as Record<string, unknown>;
    expect(line).toMatchObject({ id: "no-such-task", code: "DYNABOX_INVALID_INPUT" });
    expect(String(line.not_graded)).toContain("line 1");
  });
});
