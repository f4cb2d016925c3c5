// A faithful re-implementation, in our own code, of what ScienceAgentBench's calculate_metrics.py
// (at 72220ee) reads and how it fails, so tests can check that dynabox's eval logs satisfy it
// without shipping or fetching upstream's script. The contract, read from upstream:
//   - each --run_logs and --eval_logs file is read line by line, every line through json.loads
//     (a blank line is a JSONDecodeError);
//   - the task loop runs over len(run_logs[0]); every log must have a line per task (IndexError);
//   - run log lines need "cost"; eval log lines need "success_rate", "valid_program",
//     "codebert_score" (KeyError);
//   - per task it takes max() of success_rate, then of valid_program, then of codebert_score, and
//     min() of cost, over the tied runs (None vs None: TypeError), and the first run in order
//     that has the best values;
//   - it adds the selected runs' valid_program, success_rate, codebert_score and cost with +=
//     (int + None: TypeError) and divides each by the number of tasks.
// The Python semantics are kept: numbers and booleans add and compare; anything else fails.

import { readFile } from "node:fs/promises";

export class PythonError extends Error {}

function loadJsonLines(text: string, file: string): Record<string, unknown>[] {
  const lines = text.split(/(?<=\n)/).filter((line) => line.length > 0);
  return lines.map((line, index) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new PythonError(`JSONDecodeError in ${file} line ${index + 1}: ${(error as Error).message}`);
    }
  });
}

function item(row: object | undefined, key: string, where: string): unknown {
  if (row === undefined) throw new PythonError(`IndexError: list index out of range (${where})`);
  if (typeof row !== "object" || row === null || !(key in row)) throw new PythonError(`KeyError: '${key}' (${where})`);
  return (row as Record<string, unknown>)[key];
}

function numeric(value: unknown, operation: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new PythonError(`TypeError: unsupported operand for ${operation}: ${JSON.stringify(value)}`);
}

function pythonMax(values: unknown[], operation = "max"): unknown {
  if (values.length > 1) values.forEach((value) => numeric(value, `'>' in ${operation}()`));
  return values.length === 1 ? values[0] : Math.max(...values.map((value) => numeric(value, operation)));
}

function pythonMin(values: unknown[]): unknown {
  if (values.length > 1) values.forEach((value) => numeric(value, "'<' in min()"));
  return values.length === 1 ? values[0] : Math.min(...values.map((value) => numeric(value, "min")));
}

export interface CalculatedMetrics {
  success_rate: number;
  codebert_score: number;
  valid_program_rate: number;
  cost: number;
  /** The selected run per task, from 0. */
  selected: number[];
}

export function calculateMetrics(runLogs: Record<string, unknown>[][], evalLogs: ReadonlyArray<ReadonlyArray<object>>): CalculatedMetrics {
  const selected: number[] = [];
  const tasks = runLogs[0]?.length ?? 0;
  for (let task = 0; task < tasks; task += 1) {
    const all = evalLogs.map((log, run) => {
      const row = log[task];
      if (row === undefined) throw new PythonError(`IndexError: list index out of range (eval log ${run}, task ${task})`);
      return { ...row } as Record<string, unknown>;
    });
    all.forEach((row, run) => {
      row.cost = item(runLogs[run]?.[task], "cost", `run log ${run}, task ${task}`);
    });
    const get = (row: Record<string, unknown>, key: string) => item(row, key, `task ${task}`);
    const bestSr = pythonMax(all.map((row) => get(row, "success_rate")));
    let tied = all.filter((row) => get(row, "success_rate") === bestSr);
    const conditions: Array<(row: Record<string, unknown>) => boolean> = [(row) => get(row, "success_rate") === bestSr];
    if (tied.length > 1) {
      const bestVer = pythonMax(tied.map((row) => get(row, "valid_program")));
      tied = tied.filter((row) => get(row, "valid_program") === bestVer);
      conditions.push((row) => get(row, "valid_program") === bestVer);
      if (tied.length > 1) {
        const bestCbs = pythonMax(tied.map((row) => get(row, "codebert_score")));
        tied = tied.filter((row) => get(row, "codebert_score") === bestCbs);
        conditions.push((row) => get(row, "codebert_score") === bestCbs);
        if (tied.length > 1) {
          const bestCost = pythonMin(tied.map((row) => row.cost));
          conditions.push((row) => row.cost === bestCost);
        }
      }
    }
    const index = all.findIndex((row) => conditions.every((condition) => condition(row)));
    if (index >= 0) selected.push(index);
  }
  let ver = 0;
  let sr = 0;
  let cbs = 0;
  let cost = 0;
  selected.forEach((run, task) => {
    ver += numeric(item(evalLogs[run]?.[task], "valid_program", `task ${task}`), "+=");
    sr += numeric(item(evalLogs[run]?.[task], "success_rate", `task ${task}`), "+=");
    cbs += numeric(item(evalLogs[run]?.[task], "codebert_score", `task ${task}`), "+=");
    cost += numeric(item(runLogs[run]?.[task], "cost", `task ${task}`), "+=");
  });
  if (selected.length === 0) throw new PythonError("ZeroDivisionError: division by zero");
  return {
    success_rate: sr / selected.length,
    codebert_score: cbs / selected.length,
    valid_program_rate: ver / selected.length,
    cost: cost / selected.length,
    selected,
  };
}

/** Reads the files as calculate_metrics.py's main() does, then computes. */
export async function calculateMetricsFromFiles(runLogFiles: string[], evalLogFiles: string[]): Promise<CalculatedMetrics> {
  const runLogs = await Promise.all(runLogFiles.map(async (file) => loadJsonLines(await readFile(file, "utf8"), file)));
  const evalLogs = await Promise.all(evalLogFiles.map(async (file) => loadJsonLines(await readFile(file, "utf8"), file)));
  return calculateMetrics(runLogs, evalLogs);
}
