// `dynabox eval --resq DATASET --submissions FILE`: every submission entry becomes an item (a
// bad entry or a dataset row that can not be loaded is that item's error, nothing is dropped), and
// upstream's results.json (scripts/submit.py) is written beside results.jsonl.

import path from "node:path";
import { UserError } from "../../errors.js";
import type { EvalBatch, EvalItem } from "../../runs/evaluate.js";
import { readText, writeWhole, type EvalFlags, type EvalOutputs, type EvalPlan, type FamilyEvalPlanner } from "../eval-plan.js";
import type { TaskBase } from "../types.js";
import { createResqFamily, type ResqResultLine } from "./grader.js";
import { resqResultsFileText } from "./results-file.js";
import { matchSubmissions, parseResqSubmissions } from "./submissions.js";
import { checkResqDataset, readResqDatasetJson, type ResqTask } from "./task.js";

export const resqEvalPlanner: FamilyEvalPlanner = {
  family: "resq",
  flag: "resq",
  async plan(flags) {
    return { ...(await planResq(flags.resq!, flags.submissions, flags)), writeOutputs: writeResqOutputs };
  },
};

async function writeResqOutputs(runDirectory: string, batch: EvalBatch, summary: Record<string, unknown>): Promise<EvalOutputs> {
  // Upstream's own results file (scripts/submit.py), for scripts written against it: graded items only.
  const graded = batch.results.flatMap((result) => (result.verdict === null ? [] : [result.verdict.upstream as unknown as ResqResultLine]));
  await writeWhole(path.join(runDirectory, "results.json"), resqResultsFileText(graded));
  return { summary, notes: [] };
}

async function planResq(dataset: string, submissionsFile: string | undefined, flags: EvalFlags): Promise<EvalPlan> {
  if (submissionsFile === undefined) {
    throw new UserError("DYNABOX_USAGE", '--resq needs --submissions FILE (a JSON list of {"id", "patch"} as upstream\'s submit.py reads, or JSONL)');
  }
  // Rows that can not be loaded are that item's error; the other rows are graded.
  const { tasks, rowProblems } = checkResqDataset(dataset, await readResqDatasetJson(dataset));
  const resqFamily = createResqFamily({
    pythonMismatch: flags.pythonMismatch,
    ...(flags.timeout !== undefined ? { testTimeoutSeconds: flags.timeout } : {}),
  });
  const parsed = parseResqSubmissions(await readText(submissionsFile, "the submissions file"), submissionsFile);
  const badRowIds = new Set(rowProblems.flatMap((problem) => (problem.id === null ? [] : [problem.id])));
  const knownIds = new Set([...tasks.map((task) => task.id), ...badRowIds]);
  const { accepted, problems } = matchSubmissions(parsed, knownIds, dataset);
  const byId = new Map<string, ResqTask>(tasks.map((task) => [task.id, task]));
  const placeholder = (id: string): TaskBase => ({ id, family: "resq", origin: path.resolve(dataset) });
  // Items in the submissions file's order, whatever became of each entry.
  const placed: { where: string; item: EvalItem }[] = [];
  for (const entry of accepted) {
    const task = byId.get(entry.id);
    if (task !== undefined) {
      placed.push({ where: entry.where, item: { task, module: resqFamily, submission: entry.patch, item: "" } });
      continue;
    }
    const rowProblem = rowProblems.find((problem) => problem.id === entry.id);
    const item: EvalItem = {
      task: placeholder(entry.id),
      module: resqFamily,
      submission: entry.patch,
      item: "",
      problem: { code: "DYNABOX_TASK_INVALID", message: `the dataset row can not be loaded: ${rowProblem?.messages.join("; ") ?? "unknown"}` },
    };
    placed.push({ where: entry.where, item });
  }
  // Bad submission entries are items too (their own error), so nothing is dropped silently.
  for (const problem of problems) {
    const item: EvalItem = {
      task: placeholder(problem.id ?? `(${problem.where})`),
      module: resqFamily,
      submission: null,
      item: problem.where,
      outsideTotal: true,
      problem: { code: "DYNABOX_INVALID_INPUT", message: `${submissionsFile}: ${problem.message}` },
    };
    placed.push({ where: problem.where, item });
  }
  const position = (where: string): number => Number(/\d+$/.exec(where)?.[0] ?? 0);
  const items = placed.sort((a, b) => position(a.where) - position(b.where)).map((each) => each.item);
  const submitted = new Set(accepted.map((entry) => entry.id));
  const notes: string[] = [];
  const missing = tasks.filter((task) => !submitted.has(task.id)).length;
  if (missing > 0) notes.push(`${missing} task(s) have no submission and count as not passed`);
  const unsubmittedBadRows = rowProblems.filter((problem) => problem.id === null || !submitted.has(problem.id));
  for (const problem of unsubmittedBadRows) notes.push(`a dataset row can not be loaded (no submission for it either): ${problem.messages.join("; ")}`);
  return { family: "resq", items, total: tasks.length + rowProblems.length - unsubmittedBadRows.length, notes, format: parsed.format };
}
