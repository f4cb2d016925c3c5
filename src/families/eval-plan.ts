// The eval-planning part of the family contract: how `dynabox eval` turns a family's flags
// (a dataset and submissions, rows and program folders, a task and a workspace) into the items
// of one batch, and which of the family's own upstream files it writes after grading. The eval
// command dispatches through this without knowing which family it holds.

import { readFile, rename, writeFile } from "node:fs/promises";
import { UserError } from "../errors.js";
import type { EvalBatch, EvalItem } from "../runs/evaluate.js";
import type { MlabPrepareFlags } from "./mlab/options.js";
import type { Family } from "./types.js";

/** The flags of `dynabox eval`, as each family's planner reads them. */
export interface EvalFlags extends MlabPrepareFlags {
  resq?: string | undefined;
  submissions?: string | undefined;
  sab?: string | undefined;
  benchmark?: string | undefined;
  programs?: string[] | undefined;
  judgeModel?: string | undefined;
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  mlab?: string | undefined;
  workspace?: string | undefined;
  logs?: string | undefined;
  timeout?: number | undefined;
  pythonMismatch: "error" | "warn";
}

/** A family's files beside results.jsonl, and the summary they make (the batch counters kept). */
export interface EvalOutputs {
  summary: Record<string, unknown>;
  notes: string[];
}

export interface EvalPlan {
  family: Family;
  items: EvalItem[];
  /** The denominator of the headline metric: every task of the dataset. */
  total: number;
  notes: string[];
  /** The submissions file's format, when there is one. */
  format?: string;
  /**
   * Writes the family's upstream output files into the run folder after grading (sab: the eval
   * logs; resq: submit.py's results.json) and returns the summary to write, given the batch
   * summary; absent when the family writes none. `shard` is set when the batch is one shard of
   * --shard i/n: outputs that need the whole plan wait for the merge.
   */
  writeOutputs?(runDirectory: string, batch: EvalBatch, summary: Record<string, unknown>, scope: { shard: boolean }): Promise<EvalOutputs>;
}

export interface FamilyEvalPlanner {
  family: Family;
  /** The flag that names this family's input, named after the family (`--resq`, `--sab`, `--mlab`); it must be a key of EvalFlags. */
  flag: Family & keyof EvalFlags;
  plan(flags: EvalFlags): Promise<EvalPlan>;
}

/** The batch counters summarizeBatch adds, kept when a family writes its own summary. */
export function countersOf(summary: Record<string, unknown>): Record<string, unknown> {
  const keys = ["dataset_tasks", "from_store", "graded_now", "errors", "errored", "warnings", "flagged_for_review", "interrupted"];
  return Object.fromEntries(keys.filter((key) => key in summary).map((key) => [key, summary[key]]));
}

/** Writes a file whole or not at all: a reader never sees half a results file. */
export async function writeWhole(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, file);
}

/** A user's input file as text, or a message naming the file and what it is for. */
export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
