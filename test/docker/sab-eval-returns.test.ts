// What a ScienceAgentBench eval returns, graded by the built CLI in real containers, kept as
// upstream keeps it: success as returned (a fraction counts as that fraction in SR, numpy's bools
// and floats as their values, anything else 0) and log_info as returned when JSON can hold it (a
// dict stays an object in results.jsonl and in the eval log calculate_metrics.py reads).

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { SAB_FIELDS } from "../../src/families/sab/task.js";
import { calculateMetricsFromFiles } from "../sab-calculate-metrics.js";
import { temporaryFolders } from "../temporary-folders.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-sab-returns-");

/** Each task's eval returns this Python expression as (success, log_info). */
const RETURNS: Record<string, string> = {
  half: `0.5, {"rmse": 0.3, "checks": [True, False]}`,
  numpy_true: `numpy.bool_(True), numpy.float64(0.9) > 0.5`,
  numpy_quarter: `numpy.float64(0.25), ["a", 1]`,
  text: `"yes", None`,
  too_large: `2, {"seen": {1, 2}}`,
};

function row(name: string, index: number): Record<string, string> {
  return {
    instance_id: String(index + 1),
    domain: "Testing",
    subtask_categories: "Evaluation",
    github_name: "dynabox/eval-returns",
    task_inst: `Write "done" to pred_results/${name}.txt.`,
    domain_knowledge: "",
    dataset_folder_tree: "|-- tiny/\n|---- values.txt",
    dataset_preview: "",
    src_file_or_path: "None",
    gold_program_name: `${name}.py`,
    output_fname: `pred_results/${name}.txt`,
    eval_script_name: `${name}_eval.py`,
  };
}

function program(name: string): string {
  return `import os\nos.makedirs("pred_results", exist_ok=True)\nopen("pred_results/${name}.txt", "w").write("done\\n")\n`;
}

function evalScript(name: string, returned: string): string {
  return `import numpy\n\n\ndef eval():\n    assert open("pred_results/${name}.txt").read() == "done\\n"\n    return ${returned}\n`;
}

async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("ScienceAgentBench eval return values", () => {
  it("keeps fractional success and JSON log_info as upstream does, in results, summary and eval log", async () => {
    const directory = await scratch();
    const benchmark = path.join(directory, "benchmark");
    const programs = path.join(directory, "programs");
    for (const folder of ["datasets/tiny", "gold_programs", "eval_programs/gold_results"]) await mkdir(path.join(benchmark, folder), { recursive: true });
    await mkdir(programs);
    await writeFile(path.join(benchmark, "datasets", "tiny", "values.txt"), "1\n");
    const names = Object.keys(RETURNS);
    for (const name of names) {
      await writeFile(path.join(benchmark, "gold_programs", `${name}.py`), program(name));
      await writeFile(path.join(benchmark, "eval_programs", `${name}_eval.py`), evalScript(name, RETURNS[name]!));
      await writeFile(path.join(programs, `pred_${name}.py`), program(name));
    }
    const rows = names.map(row);
    await writeFile(path.join(directory, "rows.jsonl"), rows.map((each) => JSON.stringify(Object.fromEntries(SAB_FIELDS.map((field) => [field, each[field]])))).join("\n") + "\n");

    const runDirectory = path.join(directory, "run");
    const result = await execa("node", [cli, "eval", "--sab", path.join(directory, "rows.jsonl"), "--programs", programs, "--run-dir", runDirectory, "--concurrency", "2"], {
      reject: false,
      env: { OPENAI_API_KEY: "", OPENAI_BASE_URL: "" },
    });
    expect([0, 1], result.stderr).toContain(result.exitCode);

    const lines = await jsonLines(path.join(runDirectory, "results.jsonl"));
    const byProgram = new Map(lines.map((line) => [String(line.program), line]));
    const expected: Record<string, [number, unknown, string]> = {
      half: [0.5, { rmse: 0.3, checks: [true, false] }, "failed"],
      numpy_true: [1, "True", "passed"],
      numpy_quarter: [0.25, ["a", 1], "failed"],
      text: [0, null, "failed"],
      too_large: [0, "{'seen': {1, 2}}", "failed"],
    };
    for (const [name, [rate, logInfo]] of Object.entries(expected)) {
      const line = byProgram.get(`pred_${name}.py`);
      expect(line, name).toMatchObject({ valid_program: 1, success_rate: rate });
      expect(line!.log_info, name).toEqual(logInfo);
    }
    expect(result.stderr).toMatch(/✗ sab\/1 failed in [\d.]+ s: valid_program 1, success_rate 0\.5\n/);

    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as { SR: number; VER: number };
    expect(summary.VER).toBe(1);
    expect(summary.SR).toBeCloseTo((0.5 + 1 + 0.25) / 5);

    // The eval log holds the same values, and calculate_metrics.py's reading counts the fractions.
    const log = await jsonLines(path.join(runDirectory, "eval_log.jsonl"));
    expect(log.map((line) => [line.success_rate, line.log_info])).toEqual(names.map((name) => [expected[name]![0], expected[name]![1]]));
    const runLog = path.join(directory, "run-log.jsonl");
    await writeFile(runLog, rows.map(() => JSON.stringify({ cost: 0 })).join("\n") + "\n");
    const metrics = await calculateMetricsFromFiles([runLog], [path.join(runDirectory, "eval_log.jsonl")]);
    expect(metrics.success_rate).toBeCloseTo(summary.SR);
  }, 300_000);
});
