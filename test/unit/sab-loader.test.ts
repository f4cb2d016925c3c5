import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SAB_FIELDS, discoverSabTasks, loadSabTasks, outputPathProblem, parseDatasetFolder, sabPaths } from "../../src/families/sab/task.js";
import { sabLoadError } from "../sab-load-error.js";
import { temporaryFolders } from "../temporary-folders.js";

const BUNDLED = fileURLToPath(new URL("../../tasks/sab/", import.meta.url));
const BUNDLED_ROWS = path.join(BUNDLED, "tasks.jsonl");

const scratch = temporaryFolders("dynabox-sab-");

async function bundledRows(): Promise<Record<string, unknown>[]> {
  const text = await readFile(BUNDLED_ROWS, "utf8");
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A copy of the bundled benchmark with the given rows, as `name` beside it. */
async function fixture(rows: unknown[] | string, name = "tasks.jsonl"): Promise<string> {
  const directory = await scratch();
  await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
  const text = typeof rows === "string" ? rows : name.endsWith(".json") ? JSON.stringify(rows) : rows.map((row) => JSON.stringify(row)).join("\n") + "\n";
  await writeFile(path.join(directory, name), text);
  return path.join(directory, name);
}

describe("parseDatasetFolder", () => {
  it("takes the first line without its |-- prefix and trailing slash", () => {
    expect(parseDatasetFolder("|-- clintox/\n|---- clintox_test.csv")).toEqual({ folder: "clintox" });
    expect(parseDatasetFolder("|-- FACTORS\n|---- a.csv")).toEqual({ folder: "FACTORS" });
    expect(parseDatasetFolder("|-- toxcls/\r\n|---- x.csv")).toEqual({ folder: "toxcls" });
    expect(parseDatasetFolder("  |-- nested/inner/  ")).toEqual({ folder: "nested/inner" });
  });

  it("refuses trees without the prefix and folders that leave benchmark/datasets", () => {
    expect(parseDatasetFolder("clintox/")).toHaveProperty("problem");
    expect(parseDatasetFolder("")).toHaveProperty("problem");
    expect(parseDatasetFolder("|-- ../secrets/")).toHaveProperty("problem");
    expect(parseDatasetFolder("|-- /etc/")).toHaveProperty("problem");
    expect(parseDatasetFolder("|-- a/../../b/")).toHaveProperty("problem");
  });
});

describe("outputPathProblem", () => {
  it("accepts files inside a folder and refuses the rest", () => {
    expect(outputPathProblem("pred_results/out.csv")).toBeNull();
    expect(outputPathProblem("pred_results/sub/out.png")).toBeNull();
    expect(outputPathProblem("out.csv")).toMatch(/inside a folder/);
    expect(outputPathProblem("/tmp/out.csv")).toMatch(/relative/);
    expect(outputPathProblem("../out.csv")).toMatch(/relative/);
    expect(outputPathProblem("pred_results/../x/out.csv")).toMatch(/normalized/);
    expect(outputPathProblem("benchmark/out.csv")).toMatch(/benchmark/);
    expect(outputPathProblem("pred_programs/out.csv")).toMatch(/pred_programs/);
  });
});

describe("loadSabTasks", () => {
  it("loads the bundled tasks with string ids and their dataset folders", async () => {
    const tasks = await loadSabTasks(BUNDLED_ROWS);
    expect(tasks.map((task) => task.id)).toEqual(["1", "2", "3", "4"]);
    expect(tasks.map((task) => task.datasetFolder)).toEqual(["toxcls", "drug_response", "air_quality", "stroop"]);
    expect(Object.keys(tasks[0]!.row)).toEqual([...SAB_FIELDS]);
    expect(tasks[0]!.benchmarkDirectory).toBe(path.join(BUNDLED, "benchmark"));
    expect(tasks[0]!.origin).toBe(`${BUNDLED_ROWS} line 1`);
    expect(sabPaths(tasks[0]!)).toMatchObject({
      datasetPath: "benchmark/datasets/toxcls",
      programPath: "pred_programs/pred_toxcls_model.py",
      programModule: "pred_programs.pred_toxcls_model",
      evalModule: "benchmark.eval_programs.toxcls_eval",
    });
  });

  it("keeps a numeric instance_id as a string and reads a .json list", async () => {
    const rows = await bundledRows();
    const file = await fixture([{ ...rows[0], instance_id: 7 }, rows[1]], "tasks.json");
    const tasks = await loadSabTasks(file);
    expect(tasks.map((task) => task.id)).toEqual(["7", "2"]);
    expect(tasks[0]!.origin).toMatch(/tasks\.json row 1$/);
  });

  it("names the file, the line, the field, what was expected and the fix", async () => {
    const rows = await bundledRows();
    const { eval_script_name: _dropped, ...withoutEval } = rows[1]!;
    const file = await fixture([rows[0], withoutEval, { ...rows[2], gold_program_name: 42 }, { ...rows[3], extra: "x" }]);
    const error = await sabLoadError(file);
    expect(error.code).toBe("DYNABOX_TASK_INVALID");
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/line 2, field "eval_script_name": expected a string, got nothing \(the field is missing\)\. Fix: add "eval_script_name"/);
    expect(error.message).toMatch(/line 3, field "gold_program_name": expected a string, got 42\. Fix: set "gold_program_name"/);
    // Another column is ignored, as upstream ignores it: line 4 is not a problem.
    expect(error.message).not.toMatch(/line 4/);
    expect(error.details).toMatchObject({ file });
  });

  it("explains bad values: file names, output paths, trees, ids", async () => {
    const rows = await bundledRows();
    const file = await fixture([
      { ...rows[0], gold_program_name: "programs/model.py" },
      { ...rows[1], output_fname: "/tmp/out.csv" },
      { ...rows[2], dataset_folder_tree: "air_quality/\n|-- x.csv" },
      rows[3],
      { ...rows[0], instance_id: 4 },
    ]);
    const error = await sabLoadError(file);
    expect(error.message).toMatch(/line 1, field "gold_program_name": expected a plain Python file name such as "clintox_nn.py".*got "programs\/model.py"/);
    expect(error.message).toMatch(/line 2, field "output_fname": expected a path such as "pred_results\/out.csv": it must be a relative path/);
    expect(error.message).toMatch(/line 3, field "dataset_folder_tree": its first line is "air_quality\/", expected "\|-- <folder>\/"\. Fix:/);
    expect(error.message).toMatch(/line 5, field "instance_id": "4" was already used on line 4/);
  });

  it("reports JSON syntax errors by line, and a .json that is not a list", async () => {
    const rows = await bundledRows();
    const jsonl = await fixture(`${JSON.stringify(rows[0])}\n{"instance_id": \n\n${JSON.stringify(rows[1])}\n`);
    expect((await sabLoadError(jsonl)).message).toMatch(/line 2: not valid JSON .*Fix: each line must hold one complete JSON object/);
    const json = await fixture(JSON.stringify(rows[0]), "tasks.json");
    expect((await sabLoadError(json)).message).toMatch(/expected a JSON list of row objects.*Fix: wrap the rows in \[ \.\.\. \]/);
    const empty = await fixture("\n\n");
    expect((await sabLoadError(empty)).message).toMatch(/no rows/);
  });

  it("names missing benchmark files and loads nothing", async () => {
    const rows = await bundledRows();
    const file = await fixture(rows);
    const benchmark = path.join(path.dirname(file), "benchmark");
    await rm(path.join(benchmark, "datasets", "stroop"), { recursive: true });
    await rm(path.join(benchmark, "eval_programs", "toxcls_eval.py"));
    await rm(path.join(benchmark, "gold_programs", "region_pm25_stats.py"));
    const error = await sabLoadError(file);
    expect(error.message).toContain(`line 4 (instance 4), field "dataset_folder_tree": the directory ${path.join(benchmark, "datasets", "stroop")} does not exist`);
    expect(error.message).toContain(`line 1 (instance 1), field "eval_script_name": the file ${path.join(benchmark, "eval_programs", "toxcls_eval.py")} does not exist`);
    expect(error.message).toContain(`line 3 (instance 3), field "gold_program_name": the file ${path.join(benchmark, "gold_programs", "region_pm25_stats.py")} does not exist`);
    expect(error.message).toMatch(/3 problems/);
  });

  it("says when there is no benchmark folder, and takes one given explicitly", async () => {
    const directory = await scratch();
    const file = path.join(directory, "rows.jsonl");
    await writeFile(file, await readFile(BUNDLED_ROWS));
    expect((await sabLoadError(file)).message).toMatch(/the benchmark folder .*benchmark does not exist\. Fix:/);
    const tasks = await loadSabTasks(file, { benchmarkDirectory: path.join(BUNDLED, "benchmark") });
    expect(tasks).toHaveLength(4);
  });

  it("says when the file can not be read", async () => {
    const directory = await scratch();
    await expect(loadSabTasks(path.join(directory, "missing.jsonl"))).rejects.toThrow(/can not read the ScienceAgentBench rows file/);
  });
});

describe("discoverSabTasks", () => {
  it("finds tasks from a rows file or a folder holding tasks.jsonl and benchmark/", async () => {
    expect(await discoverSabTasks(BUNDLED_ROWS)).toHaveLength(4);
    expect(await discoverSabTasks(BUNDLED)).toHaveLength(4);
  });

  it("returns [] for paths without SAB tasks: other families, other files, nothing", async () => {
    const tasksRoot = fileURLToPath(new URL("../../tasks/", import.meta.url));
    expect(await discoverSabTasks(tasksRoot)).toEqual([]);
    expect(await discoverSabTasks(path.join(tasksRoot, "resq", "dataset.json"))).toEqual([]);
    expect(await discoverSabTasks(path.join(tasksRoot, "sab", "generate.py"))).toEqual([]);
    expect(await discoverSabTasks(path.join(tasksRoot, "does-not-exist"))).toEqual([]);
    const directory = await scratch();
    await mkdir(path.join(directory, "benchmark"));
    expect(await discoverSabTasks(directory)).toEqual([]);
  });

  it("reports malformed SAB rows instead of hiding them", async () => {
    const rows = await bundledRows();
    const file = await fixture([{ ...rows[0], task_inst: "" }]);
    await expect(discoverSabTasks(path.dirname(file))).rejects.toThrow(/line 1, field "task_inst": expected the task instruction/);
  });
});
