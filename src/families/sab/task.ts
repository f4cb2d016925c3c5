// ScienceAgentBench tasks: rows with the twelve upstream fields (CSV, JSONL or JSON), and the
// benchmark/ tree beside them (datasets, gold programs, eval programs with their gold results).
// Everything is checked before anything is returned: a bad file gives one error that names the
// file, the line or row, the field, what was expected and the fix; nothing is half-loaded.

import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { readRows, rowFileFormat, type RawRow } from "./rows.js";
import { TaskFolder } from "../task-files.js";
import type { TaskBase } from "../types.js";

export { splitRows, type RawRow } from "./rows.js";

/** The upstream fields, in upstream order. */
export const SAB_FIELDS = [
  "instance_id",
  "domain",
  "subtask_categories",
  "github_name",
  "task_inst",
  "domain_knowledge",
  "dataset_folder_tree",
  "dataset_preview",
  "src_file_or_path",
  "gold_program_name",
  "output_fname",
  "eval_script_name",
] as const;

/** A file name that `python -m` and `importlib` can load: letters, digits, `_` and `-`, then `.py`. */
const PYTHON_FILE_NAME = /^[A-Za-z0-9_-]+\.py$/;

const pythonFileName = (example: string) =>
  z.string().regex(PYTHON_FILE_NAME, {
    message: `a plain Python file name such as "${example}" (letters, digits, _ or -, ending in .py, no folders)`,
  });

/** Why `output_fname` is unusable, or null when it is fine. */
export function outputPathProblem(outputFname: string): string | null {
  if (outputFname.includes("\\")) return "it must use forward slashes";
  const normalized = path.posix.normalize(outputFname);
  if (path.posix.isAbsolute(normalized) || normalized === ".." || normalized.startsWith("../")) {
    return "it must be a relative path inside the task root";
  }
  if (normalized !== outputFname || outputFname.endsWith("/")) return "it must be a normalized file path (no ./, .., // or trailing /)";
  const [top] = normalized.split("/");
  if (!normalized.includes("/")) return 'it must be inside a folder, such as "pred_results/out.csv"';
  if (top === "benchmark" || top === "pred_programs") return `it must not be under ${top}/ (use pred_results/)`;
  // The eval container's own files (driver, figure-judge requests and answers, the judge module)
  // live there; an output in their place could pose as them.
  if (top === ".dynabox" || top === "gpt4_visual_judge.py") return `it must not be under ${top}/, which dynabox's grader uses (use pred_results/)`;
  return null;
}

/**
 * Text that grading never reads. The hub's JSON and pandas give null for an empty cell; it is kept
 * as "". Any string, upstream's "None" in src_file_or_path included, is kept as it is.
 */
const metadataText = z
  .string()
  .nullable()
  .transform((value) => value ?? "");

// Other columns are dropped, as upstream's readers ignore them (run_eval.py and run_infer.py load
// the CSV with `datasets` and read only these fields): pandas' "Unnamed: 0" index column, notes.
export const sabRowSchema = z.object({
  // Upstream (the Hugging Face dataset) stores it as a number; dynabox keeps a string id.
  instance_id: z
    .union([z.string().min(1, { message: "a non-empty id" }), z.number().int()], {
      message: 'an id: a string such as "1" or an integer',
    })
    .transform(String),
  domain: metadataText,
  subtask_categories: metadataText,
  github_name: metadataText,
  task_inst: z.string().min(1, { message: "the task instruction, not an empty string" }),
  domain_knowledge: metadataText,
  dataset_folder_tree: z.string().min(1, { message: 'a tree whose first line is "|-- <folder>/"' }),
  dataset_preview: metadataText,
  src_file_or_path: metadataText,
  gold_program_name: pythonFileName("clintox_nn.py"),
  output_fname: z.string().superRefine((value, context) => {
    const problem = outputPathProblem(value);
    if (problem) context.addIssue({ code: "custom", message: `a path such as "pred_results/out.csv": ${problem}` });
  }),
  eval_script_name: pythonFileName("clintox_nn_eval.py"),
});

/** One row as loaded: the upstream fields, with `instance_id` as a string. */
export type SabRow = z.output<typeof sabRowSchema>;

export interface SabTask extends TaskBase {
  family: "sab";
  row: SabRow;
  /** The dataset folder under benchmark/datasets/ (first line of dataset_folder_tree). */
  datasetFolder: string;
  /** The absolute benchmark/ folder the task's files live in. */
  benchmarkDirectory: string;
}

/**
 * The dataset folder named by the first line of `dataset_folder_tree` ("|-- clintox/" gives
 * "clintox"), or the reason it can not be read.
 */
export function parseDatasetFolder(tree: string): { folder: string } | { problem: string } {
  const first = tree.split(/\r?\n/, 1)[0]?.trim() ?? "";
  const match = /^\|--\s+(.+?)\/?$/.exec(first);
  if (!match?.[1]) return { problem: `its first line is ${JSON.stringify(first)}, expected "|-- <folder>/"` };
  const folder = match[1].trim().replace(/\/+$/, "");
  const normalized = path.posix.normalize(folder);
  if (
    folder === "" ||
    folder.includes("\\") ||
    normalized !== folder ||
    path.posix.isAbsolute(folder) ||
    folder === "." ||
    folder === ".." ||
    folder.startsWith("../")
  ) {
    return { problem: `the folder ${JSON.stringify(folder)} is not a plain relative folder name` };
  }
  return { folder };
}

/** Where the files of a task are, on the host and in the task root of a container. */
export function sabPaths(task: SabTask) {
  const { row, benchmarkDirectory, datasetFolder } = task;
  const moduleName = `pred_${row.gold_program_name.slice(0, -".py".length)}`;
  return {
    datasetDirectory: path.join(benchmarkDirectory, "datasets", datasetFolder),
    goldProgram: path.join(benchmarkDirectory, "gold_programs", row.gold_program_name),
    evalProgramsDirectory: path.join(benchmarkDirectory, "eval_programs"),
    evalScript: path.join(benchmarkDirectory, "eval_programs", row.eval_script_name),
    /** Relative to the task root. */
    datasetPath: `benchmark/datasets/${datasetFolder}`,
    programPath: `pred_programs/${moduleName}.py`,
    programModule: `pred_programs.${moduleName}`,
    evalModule: `benchmark.eval_programs.${row.eval_script_name.slice(0, -".py".length)}`,
  };
}

export interface LoadSabOptions {
  /** The benchmark/ folder; by default the one beside the rows file. */
  benchmarkDirectory?: string;
}

const ROW_FIX = `each row must be a JSON object with these fields: ${SAB_FIELDS.join(", ")}`;

function invalid(file: string, problems: string[]): UserError {
  const shown = problems.slice(0, 20);
  const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `${file} is not a valid ScienceAgentBench task file (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${shown.join("\n  ")}${more}`,
    { details: { file, problems } },
  );
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks one raw row against the schema; problems name the field, what was expected and the fix. */
export function checkRow(raw: RawRow): { row: SabRow; datasetFolder: string } | { problems: string[] } {
  if (typeof raw.value !== "object" || raw.value === null || Array.isArray(raw.value)) {
    return { problems: [`${raw.where}: expected a JSON object, got ${describeValue(raw.value)}. Fix: ${ROW_FIX}`] };
  }
  const record = raw.value as Record<string, unknown>;
  const result = sabRowSchema.safeParse(record);
  if (!result.success) {
    const problems: string[] = [];
    for (const issue of result.error.issues) {
      const field = String(issue.path[0] ?? "(row)");
      const value = record[field];
      const expected = issue.code === "invalid_type" ? `a ${issue.expected}` : issue.message;
      const fix = value === undefined ? `add "${field}"` : `set "${field}" to ${expected}`;
      problems.push(`${raw.where}, field "${field}": expected ${expected}, got ${describeValue(value)}. Fix: ${fix}`);
    }
    return { problems };
  }
  const folder = parseDatasetFolder(result.data.dataset_folder_tree);
  if ("problem" in folder) {
    return {
      problems: [
        `${raw.where}, field "dataset_folder_tree": ${folder.problem}. Fix: start the tree with the dataset folder, e.g. "|-- clintox/"`,
      ],
    };
  }
  return { row: result.data, datasetFolder: folder.folder };
}

async function kindOf(target: string): Promise<"file" | "directory" | "missing" | "other"> {
  try {
    const info = await stat(target);
    return info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
  } catch {
    return "missing";
  }
}

/**
 * The benchmark/ folder of a rows file: benchmark/ beside it (tasks.jsonl + benchmark/), or the
 * rows file's own folder when that is a benchmark folder (upstream keeps its rows in
 * benchmark/ScienceAgentBench.csv, beside datasets/, eval_programs/ and gold_programs/).
 */
async function defaultBenchmarkDirectory(rowsFile: string): Promise<string> {
  const beside = path.join(path.dirname(rowsFile), "benchmark");
  if ((await kindOf(beside)) === "directory") return beside;
  const own = path.dirname(rowsFile);
  const isBenchmark = (await kindOf(path.join(own, "eval_programs"))) === "directory" && (await kindOf(path.join(own, "gold_programs"))) === "directory";
  return isBenchmark ? own : beside;
}

/** Loads every task of a rows file (.csv, .jsonl, a .json list or .parquet), checking the benchmark/ files too. */
export async function loadSabTasks(file: string, options: LoadSabOptions = {}): Promise<SabTask[]> {
  const origin = path.resolve(file);
  let split: { rows: RawRow[]; problems: string[] };
  try {
    split = await readRows(origin);
  } catch (error) {
    throw new UserError("DYNABOX_TASK_INVALID", `can not read the ScienceAgentBench rows file ${origin}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const benchmarkDirectory = path.resolve(options.benchmarkDirectory ?? (await defaultBenchmarkDirectory(origin)));
  const { rows, problems } = split;
  const tasks: SabTask[] = [];
  const lines = new Map<SabTask, string>();
  const seen = new Map<string, string>();
  for (const raw of rows) {
    const checked = checkRow(raw);
    if ("problems" in checked) {
      problems.push(...checked.problems);
      continue;
    }
    const { row, datasetFolder } = checked;
    const earlier = seen.get(row.instance_id);
    if (earlier) {
      problems.push(`${raw.where}, field "instance_id": ${JSON.stringify(row.instance_id)} was already used on ${earlier}. Fix: give every row its own instance_id`);
      continue;
    }
    seen.set(row.instance_id, raw.where);
    const task: SabTask = { id: row.instance_id, family: "sab", origin: `${origin} ${raw.where}`, row, datasetFolder, benchmarkDirectory };
    tasks.push(task);
    lines.set(task, raw.where);
  }
  if (rows.length === 0 && problems.length === 0) {
    problems.push(`no rows. Fix: ${ROW_FIX}`);
  }
  if (problems.length === 0) {
    if ((await kindOf(benchmarkDirectory)) !== "directory") {
      problems.push(
        `the benchmark folder ${benchmarkDirectory} does not exist. Fix: put benchmark/ (datasets/, gold_programs/, eval_programs/) beside the rows file, or name it explicitly`,
      );
    } else if (options.benchmarkDirectory === undefined && !(await insideRowsFolder(origin, benchmarkDirectory))) {
      // Found beside the rows file, not named by the user: it belongs to the download, and a link out of it is refused.
      problems.push(
        `the benchmark folder ${benchmarkDirectory} is a link that leads out of the folder of the rows file; dynabox reads task files only from inside it. Fix: replace the link with the folder, or name it explicitly with --benchmark`,
      );
    } else {
      const realBenchmark = await realpath(benchmarkDirectory);
      for (const task of tasks) {
        const where = lines.get(task) ?? task.origin;
        const missing = await missingBenchmarkFiles(task, where);
        problems.push(...(missing.length > 0 ? missing : await linksLeavingBenchmark(task, where, realBenchmark)));
      }
    }
  }
  if (problems.length > 0) throw invalid(origin, problems);
  return tasks;
}

/** Whether benchmark/ beside the rows file really lies inside the rows file's folder. */
async function insideRowsFolder(rowsFile: string, benchmarkDirectory: string): Promise<boolean> {
  try {
    await (await TaskFolder.open(path.dirname(rowsFile))).resolve(path.relative(path.dirname(rowsFile), benchmarkDirectory));
    return true;
  } catch (error) {
    if (!UserError.isInstance(error)) throw error;
    return false;
  }
}

async function missingBenchmarkFiles(task: SabTask, where: string): Promise<string[]> {
  const paths = sabPaths(task);
  // Read through the benchmark folder: a datasets/<x> (or any file) that links out of it is refused.
  const benchmark = await TaskFolder.open(task.benchmarkDirectory);
  const expected: Array<[string, string, "file" | "directory"]> = [
    ["dataset_folder_tree", paths.datasetDirectory, "directory"],
    ["eval_script_name", paths.evalScript, "file"],
    ["gold_program_name", paths.goldProgram, "file"],
  ];
  const problems: string[] = [];
  for (const [field, target, kind] of expected) {
    const relative = path.relative(task.benchmarkDirectory, target);
    let found: string;
    try {
      found = await benchmark.kind(relative);
      if (found === "directory") await benchmark.walk(relative);
    } catch (error) {
      if (!UserError.isInstance(error)) throw error;
      problems.push(`${where} (instance ${task.id}), field "${field}": ${error.message}`);
      continue;
    }
    if (found !== kind) {
      problems.push(
        `${where} (instance ${task.id}), field "${field}": the ${kind} ${target} ${found === "missing" ? "does not exist" : `is not a ${kind}`}. Fix: add it under benchmark/ or correct the field`,
      );
    }
  }
  return problems;
}

/**
 * A task's dataset folder, eval script or gold program that is a symbolic link (or lies under
 * one) resolving outside the benchmark folder would let a downloaded benchmark make dynabox copy
 * any host folder into a container: refused. Links that stay inside benchmark/ are fine.
 */
async function linksLeavingBenchmark(task: SabTask, where: string, realBenchmark: string): Promise<string[]> {
  const paths = sabPaths(task);
  const checked: Array<[string, string]> = [
    ["dataset_folder_tree", paths.datasetDirectory],
    ["eval_script_name", paths.evalScript],
    ["gold_program_name", paths.goldProgram],
    ["eval_script_name", paths.evalProgramsDirectory],
  ];
  const problems: string[] = [];
  for (const [field, target] of checked) {
    const resolved = await realpath(target);
    if (resolved !== realBenchmark && !resolved.startsWith(realBenchmark + path.sep)) {
      problems.push(
        `${where} (instance ${task.id}), field "${field}": ${target} is a symbolic link to ${resolved}, outside the benchmark folder ${realBenchmark}. Fix: copy the files into benchmark/ instead of linking them`,
      );
    }
  }
  return problems;
}

/** Whether a rows file looks like ScienceAgentBench rather than another family's dataset. */
async function looksLikeSab(file: string): Promise<boolean> {
  let split: { rows: RawRow[]; problems: string[] };
  try {
    split = await readRows(file);
  } catch {
    return true; // let the loader report it
  }
  const { rows, problems } = split;
  const first = rows[0]?.value;
  if (problems.length > 0 || first === undefined) return true;
  if (typeof first !== "object" || first === null) return true;
  return ["gold_program_name", "eval_script_name", "dataset_folder_tree"].some((key) => key in first);
}

/** The rows files a folder may hold, in order of preference. */
export const SAB_ROWS_FILES = ["tasks.jsonl", "tasks.json", "ScienceAgentBench.csv"];

/**
 * Tasks at `target`: a .csv/.jsonl/.json/.parquet rows file (benchmark/ beside it, or the rows file inside
 * benchmark/ as upstream keeps it), or a folder holding tasks.jsonl, tasks.json or
 * ScienceAgentBench.csv with benchmark/ beside it, or upstream's checkout root holding
 * benchmark/ScienceAgentBench.csv. [] when the path holds no SAB tasks; an error when it does
 * but they are malformed.
 */
export async function discoverSabTasks(target: string): Promise<SabTask[]> {
  const kind = await kindOf(target);
  if (kind === "file") {
    const format = rowFileFormat(target);
    if (format === undefined) return [];
    return (await looksLikeSab(target)) ? loadSabTasks(target) : [];
  }
  if (kind !== "directory") return [];
  for (const name of SAB_ROWS_FILES) {
    const file = path.join(target, name);
    if ((await kindOf(file)) === "file" && (await kindOf(path.join(target, "benchmark"))) === "directory") {
      return loadSabTasks(file);
    }
  }
  const upstreamRows = path.join(target, "benchmark", "ScienceAgentBench.csv");
  if ((await kindOf(upstreamRows)) === "file") return loadSabTasks(upstreamRows);
  return [];
}
