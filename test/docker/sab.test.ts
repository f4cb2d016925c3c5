// The bundled ScienceAgentBench tasks graded in real containers: every gold program passes, an
// empty program is invalid, a constant output fails, a program past its timeout is invalid; and
// the agent hooks give the agent the dataset and nothing else.

import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { GradingContext } from "../../src/grading/context.js";
import { gradeSabProgram, sabFamily } from "../../src/families/sab/grader.js";
import { loadSabTasks, sabPaths, type SabTask } from "../../src/families/sab/task.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const tasks = await loadSabTasks(BUNDLED_ROWS);
let context: GradingContext;
beforeAll(() => {
  context = { docker, sandboxImage: image(), cacheDirectory: tmpdir(), runId: "test-sab" };
});

/** The gold program, then its output made constant: first column kept, the rest 0.5; text cut to one line. */
async function constantProgram(task: SabTask): Promise<string> {
  const gold = await readFile(sabPaths(task).goldProgram, "utf8");
  return `${gold}

import csv as _csv
_path = ${JSON.stringify(task.row.output_fname)}
if _path.endswith(".csv"):
    with open(_path) as _handle:
        _rows = list(_csv.reader(_handle))
    with open(_path, "w", newline="") as _handle:
        _csv.writer(_handle).writerows([_rows[0]] + [[_row[0]] + ["0.5"] * (len(_row) - 1) for _row in _rows[1:]])
else:
    with open(_path) as _handle:
        _first = _handle.readline()
    with open(_path, "w") as _handle:
        _handle.write(_first)
`;
}

describe.each(tasks.map((task) => [`${task.id} ${task.datasetFolder}`, task] as const))("sab task %s", (_name, task) => {
  it("is valid: the gold program passes and an empty program is invalid", async () => {
    const result = await sabFamily.validate(context, task);
    const checks = result.checks as { gold: Record<string, unknown>; empty: Record<string, unknown>; seconds: number };
    expect(checks.gold).toMatchObject({ valid_program: 1, codebert_score: null, success_rate: 1, program: task.row.gold_program_name });
    expect(checks.empty).toMatchObject({ valid_program: 0, codebert_score: null, success_rate: 0 });
    expect(checks.empty.log_info).toMatch(/does not save its output correctly/);
    expect(result.valid).toBe(true);
    console.log(`sab ${task.id}: gold ${JSON.stringify(checks.gold.log_info)}, validate ${checks.seconds.toFixed(1)} s`);
  });

  it("fails a constant output", async () => {
    const verdict = await sabFamily.grade(context, task, { fileName: "constant.py", source: await constantProgram(task) });
    expect(verdict).toMatchObject({ taskId: task.id, family: "sab", passed: false, score: 0 });
    expect(verdict.upstream).toMatchObject({ valid_program: 1, success_rate: 0, program: "constant.py" });
    console.log(`sab ${task.id}: constant ${JSON.stringify(verdict.upstream.log_info)}, ${verdict.seconds.toFixed(1)} s`);
  });
});

describe("sab grading limits", () => {
  it("stops a program that runs forever and calls it invalid with a timeout note", async () => {
    const task = tasks[3]!;
    const source = 'import os, time\nos.makedirs("pred_results", exist_ok=True)\nopen("' + task.row.output_fname + '", "w").write("x\\n")\nwhile True:\n    time.sleep(0.1)\n';
    const started = performance.now();
    const { line } = await gradeSabProgram(context, task, { fileName: "forever.py", source }, { timeoutSeconds: 2 });
    expect(line).toMatchObject({ valid_program: 0, success_rate: 0, codebert_score: null });
    expect(line.log_info).toMatch(/^Timeout: the program did not finish within 2 s/);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it("reports a crashing program's traceback", async () => {
    const { line } = await gradeSabProgram(context, tasks[0]!, { fileName: "crash.py", source: "raise ValueError('no model today')\n" });
    expect(line).toMatchObject({ valid_program: 0, success_rate: 0 });
    expect(line.log_info).toMatch(/exited with code 1\n[\s\S]*ValueError: no model today/);
  });
});

describe("sab agent hooks", () => {
  it("puts only the task's dataset into the workspace and collects the program", async () => {
    const task = tasks[0]!;
    const box = await sandbox();
    await sabFamily.setUpWorkspace(context, task, box);
    const listing = await box.shell("find . -mindepth 1 | sort", { cwd: "/workspace" });
    expect(listing.stdout.trim().split("\n")).toEqual([
      "./benchmark",
      "./benchmark/datasets",
      "./benchmark/datasets/toxcls",
      "./benchmark/datasets/toxcls/toxcls_test.csv",
      "./benchmark/datasets/toxcls/toxcls_train.csv",
      "./pred_programs",
      "./pred_results",
    ]);

    expect(await sabFamily.collectSubmission(context, task, box)).toEqual({ fileName: "pred_toxcls_model.py", source: "" });
    await box.putFiles([{ path: "pred_programs/pred_toxcls_model.py", content: "print('hi')\n" }]);
    expect(await sabFamily.collectSubmission(context, task, box)).toEqual({ fileName: "pred_toxcls_model.py", source: "print('hi')\n" });
    await box.shell("rm pred_programs/pred_toxcls_model.py && ln -s /etc/passwd pred_programs/pred_toxcls_model.py", { cwd: "/workspace" });
    expect(await sabFamily.collectSubmission(context, task, box)).toEqual({ fileName: "pred_toxcls_model.py", source: "" });
  });
});
