// ScienceAgentBench rows as upstream ships them: ScienceAgentBench.csv (quoted fields with commas,
// quotes and line breaks), the hub viewer's JSON, the dataset card's parquet, null cells, and benchmark/ folders whose task
// files are links that leave the benchmark.

import { cp, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { splitRows } from "../../src/families/sab/rows.js";
import { SAB_FIELDS, discoverSabTasks, loadSabTasks, outputPathProblem } from "../../src/families/sab/task.js";
import { parquetBytes, type ParquetCompression } from "../parquet-writer.js";
import { sabLoadError as loadError } from "../sab-load-error.js";
import { temporaryFolders } from "../temporary-folders.js";

const BUNDLED = fileURLToPath(new URL("../../tasks/sab/", import.meta.url));
const scratch = temporaryFolders("dynabox-sab-rows-");

async function bundledRows(): Promise<Record<string, unknown>[]> {
  const text = await readFile(path.join(BUNDLED, "tasks.jsonl"), "utf8");
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** RFC 4180 quoting, as pandas' to_csv writes upstream's file: every field quoted here. */
function toCsv(rows: Record<string, unknown>[]): string {
  const quote = (value: unknown) => `"${String(value).replace(/"/g, '""')}"`;
  return [SAB_FIELDS.join(","), ...rows.map((row) => SAB_FIELDS.map((field) => quote(row[field])).join(","))].join("\r\n") + "\r\n";
}

describe("ScienceAgentBench.csv", () => {
  it("reads quoted fields with commas, doubled quotes and line breaks exactly as the JSONL rows", async () => {
    const rows = await bundledRows();
    // Upstream's rows carry "None" in src_file_or_path and quotes inside task_inst.
    rows[0] = { ...rows[0], src_file_or_path: "None", task_inst: `${String(rows[0]!.task_inst)} Save it as "pred_results/x.csv", please.` };
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    await writeFile(path.join(directory, "rows.csv"), toCsv(rows));
    await writeFile(path.join(directory, "rows.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
    const fromCsv = await loadSabTasks(path.join(directory, "rows.csv"));
    const fromJsonl = await loadSabTasks(path.join(directory, "rows.jsonl"));
    expect(fromCsv.map((task) => task.row)).toEqual(fromJsonl.map((task) => task.row));
    expect(fromCsv[0]!.row.src_file_or_path).toBe("None");
    expect(fromCsv[0]!.row.dataset_folder_tree).toContain("\n|---- ");
    expect(fromCsv[0]!.origin).toMatch(/rows\.csv row 1 \(lines 2-\d+\)$/);
  });

  it("keeps upstream's unquoted instance ids and None, and reads the rows from inside benchmark/ as upstream keeps them", async () => {
    const rows = await bundledRows();
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    const csv = toCsv(rows).replace(/^"1",/m, "1,");
    await writeFile(path.join(directory, "benchmark", "ScienceAgentBench.csv"), csv);
    const tasks = await loadSabTasks(path.join(directory, "benchmark", "ScienceAgentBench.csv"));
    expect(tasks.map((task) => task.id)).toEqual(rows.map((row) => String(row.instance_id)));
    expect(tasks[0]!.benchmarkDirectory).toBe(path.join(directory, "benchmark"));
    // Upstream's checkout root, and the folder itself, are found too.
    expect(await discoverSabTasks(directory)).toHaveLength(rows.length);
    expect(await discoverSabTasks(path.join(directory, "benchmark", "ScienceAgentBench.csv"))).toHaveLength(rows.length);
  });

  it("names the line of a broken quote and says how to fix it", () => {
    const { problems } = splitRows("x.csv", `${SAB_FIELDS.join(",")}\n1,"open quote,b\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/line \d+: not valid CSV/);
    expect(problems[0]).toMatch(/Fix: quote every field/);
  });

  it("names the row, its lines and the field of a bad value", async () => {
    const rows = await bundledRows();
    rows[1] = { ...rows[1], eval_script_name: "evals/x.py" };
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    await writeFile(path.join(directory, "rows.csv"), toCsv(rows));
    const error = await loadError(path.join(directory, "rows.csv"));
    expect(error.message).toMatch(/row 2 \(lines \d+-\d+\), field "eval_script_name": expected a plain Python file name/);
    expect(error.message).toMatch(/Fix: set "eval_script_name"/);
  });

  it("ignores a column that is not an upstream field (pandas' Unnamed: 0), as upstream's datasets CSV reader does", async () => {
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    const rows = await bundledRows();
    const csv = toCsv(rows).replace(/^instance_id,/, "Unnamed: 0,instance_id,").replace(/\r\n"/g, '\r\n"0","');
    expect(csv).toContain("Unnamed: 0");
    await writeFile(path.join(directory, "rows.csv"), csv);
    const tasks = await loadSabTasks(path.join(directory, "rows.csv"));
    expect(tasks.map((task) => task.row)).toEqual(rows.map((row) => ({ ...row, instance_id: String(row.instance_id) })));
    expect(tasks.every((task) => !("Unnamed: 0" in task.row))).toBe(true);
  });
});

describe("JSON rows from the hub", () => {
  it("unwraps the dataset viewer's {rows: [{row}]} and keeps null metadata as empty text", async () => {
    const rows = await bundledRows();
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    const viewer = {
      features: SAB_FIELDS.map((name) => ({ name })),
      rows: rows.map((row, index) => ({ row_idx: index, row: { ...row, instance_id: Number(row.instance_id), domain_knowledge: null }, truncated_cells: [] })),
    };
    await writeFile(path.join(directory, "rows.json"), JSON.stringify(viewer));
    const tasks = await loadSabTasks(path.join(directory, "rows.json"));
    expect(tasks.map((task) => task.id)).toEqual(rows.map((row) => String(row.instance_id)));
    expect(tasks.every((task) => task.row.domain_knowledge === "")).toBe(true);
  });

});

// The dataset card's files (`validation-00000-of-00001.parquet`), written here by parquet-wasm
// (arrow-rs), not by hyparquet, the reader under test.
describe("the dataset card's parquet", () => {
  async function parquetFixture(rows: Record<string, unknown>[], compression: ParquetCompression, columns: readonly string[] = SAB_FIELDS) {
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    const file = path.join(directory, "validation-00000-of-00001.parquet");
    await writeFile(file, parquetBytes(rows, columns, compression));
    return { directory, file };
  }

  for (const compression of ["snappy", "uncompressed", "gzip", "brotli"] as const) {
    it(`reads ${compression} pages as the same rows as the JSONL, int64 ids as strings`, async () => {
      const rows = await bundledRows();
      const { directory, file } = await parquetFixture(rows, compression);
      await writeFile(path.join(directory, "rows.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
      const fromParquet = await loadSabTasks(file);
      const fromJsonl = await loadSabTasks(path.join(directory, "rows.jsonl"));
      expect(fromParquet.map((task) => task.row)).toEqual(fromJsonl.map((task) => task.row));
      expect(fromParquet.map((task) => task.id)).toEqual(rows.map((row) => String(row.instance_id)));
      expect(fromParquet[0]!.origin).toBe(`${file} row 1`);
      // discover (what eval, run and validate call) takes the file too.
      expect(await discoverSabTasks(file)).toHaveLength(rows.length);
    });
  }

  it("reads null cells in the nullable metadata columns as empty, as the hub's domain_knowledge", async () => {
    const rows = (await bundledRows()).map((row) => ({ ...row, domain_knowledge: null, dataset_preview: null }));
    const { file } = await parquetFixture(rows, "snappy");
    const tasks = await loadSabTasks(file);
    expect(tasks.map((task) => task.row.domain_knowledge)).toEqual(rows.map(() => ""));
    expect(tasks.map((task) => task.row.dataset_preview)).toEqual(rows.map(() => ""));
  });

  it("leaves out the index column pandas writes for a filtered frame", async () => {
    const rows = (await bundledRows()).map((row, index) => ({ ...row, __index_level_0__: index + 7 }));
    const { file } = await parquetFixture(rows, "snappy", [...SAB_FIELDS, "__index_level_0__"]);
    const tasks = await loadSabTasks(file);
    expect(tasks).toHaveLength(rows.length);
    expect(Object.keys(tasks[0]!.row).sort()).toEqual([...SAB_FIELDS].sort());
  });

  it("names the row and field of a null where a value is required", async () => {
    const rows = await bundledRows();
    rows[1] = { ...rows[1], eval_script_name: null };
    const { file } = await parquetFixture(rows, "snappy");
    const error = await loadError(file);
    expect(error.message).toMatch(/row 2\b.*eval_script_name/);
  });

  it("names a missing column as a missing field", async () => {
    const rows = await bundledRows();
    const { file } = await parquetFixture(rows, "snappy", SAB_FIELDS.filter((field) => field !== "output_fname"));
    const error = await loadError(file);
    expect(error.message).toMatch(/row 1\b.*output_fname/);
  });

  it("refuses a file that is not parquet, naming the file and the way to convert it", async () => {
    const directory = await scratch();
    const file = path.join(directory, "validation-00000-of-00001.parquet");
    await writeFile(file, "instance_id,domain\n1,x\n");
    const error = await loadError(file);
    expect(error.code).toBe("DYNABOX_TASK_INVALID");
    expect(error.message).toContain(`${file} can not be read as parquet`);
    expect(error.message).toMatch(/Fix: use the dataset's ScienceAgentBench\.csv, or convert.*read_parquet/);
  });

  it("refuses a codec hyparquet and node:zlib can not decode, naming the file and the way to convert it", async () => {
    const rows = await bundledRows();
    const { file } = await parquetFixture(rows, "lz4_raw");
    const error = await loadError(file);
    expect(error.message).toContain(`${file} can not be read as parquet`);
    expect(error.message).toMatch(/LZ4_RAW/);
    expect(error.message).toMatch(/Fix: .*read_parquet/);
  });
});

describe("links out of the benchmark folder", () => {
  it("refuses a dataset folder, eval script or gold program that links outside benchmark/", async () => {
    const rows = await bundledRows();
    const directory = await scratch();
    const outside = path.join(directory, "outside");
    await mkdir(path.join(outside, "secret"), { recursive: true });
    await writeFile(path.join(outside, "secret", "id_rsa"), "not for the container");
    await writeFile(path.join(outside, "eval.py"), "def eval():\n    return 1, ''\n");
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    await writeFile(path.join(directory, "rows.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
    const first = rows[0]!;
    const folder = String(first.dataset_folder_tree).split("\n")[0]!.replace(/^\|--\s+/, "").replace(/\/$/, "");
    const datasetPath = path.join(directory, "benchmark", "datasets", folder);
    await rm(datasetPath, { recursive: true });
    await symlink(path.join(outside, "secret"), datasetPath);
    const evalPath = path.join(directory, "benchmark", "eval_programs", String(rows[1]!.eval_script_name));
    await rm(evalPath);
    await symlink(path.join(outside, "eval.py"), evalPath);
    const error = await loadError(path.join(directory, "rows.jsonl"));
    // The shared task-file reader (task-files.ts) refuses these before the SAB loader's own check.
    expect(error.message).toMatch(/line 1 \(instance 1\), field "dataset_folder_tree": .* (is a symbolic link to|is a link to) .*outside.*(Fix: copy the files into benchmark\/|replace the link with the files)/);
    expect(error.message).toMatch(/line 2 \(instance 2\), field "eval_script_name": .* (is a symbolic link to|is a link to) .*outside/);
  });

  it("accepts a link that stays inside benchmark/", async () => {
    const rows = await bundledRows();
    const directory = await scratch();
    await cp(path.join(BUNDLED, "benchmark"), path.join(directory, "benchmark"), { recursive: true });
    const first = rows[0]!;
    const folder = String(first.dataset_folder_tree).split("\n")[0]!.replace(/^\|--\s+/, "").replace(/\/$/, "");
    const datasets = path.join(directory, "benchmark", "datasets");
    await rename(path.join(datasets, folder), path.join(datasets, `${folder}-real`));
    await symlink(`${folder}-real`, path.join(datasets, folder));
    await writeFile(path.join(directory, "rows.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
    expect(await loadSabTasks(path.join(directory, "rows.jsonl"))).toHaveLength(rows.length);
  });
});

describe("output_fname and the grader's own files", () => {
  it("refuses an output where the eval container keeps its driver, judge requests and judge module", () => {
    expect(outputPathProblem(".dynabox/judge/request.json")).toMatch(/dynabox's grader uses/);
    expect(outputPathProblem(".dynabox/sab_eval_driver.py")).toMatch(/dynabox's grader uses/);
    expect(outputPathProblem("gpt4_visual_judge.py/x.png")).toMatch(/dynabox's grader uses/);
    expect(outputPathProblem("pred_results/.dynabox")).toBeNull();
  });
});
