// `dynabox eval --mlab TASK --workspace DIR | --logs DIR`: one final workspace, or every run of
// an upstream MLAgentBench log folder, graded on the one task.

import { UserError } from "../../errors.js";
import type { EvalItem } from "../../runs/evaluate.js";
import type { EvalFlags, EvalPlan, FamilyEvalPlanner } from "../eval-plan.js";
import { createMlabFamily, submissionFromFolder } from "./grader.js";
import { findMlabLogRuns, looksLikeMlabLogFolder, mlabRunSubmission } from "./logs.js";
import { mlabFamilyOptions } from "./options.js";
import { discoverMlabTasks } from "./task.js";

export const mlabEvalPlanner: FamilyEvalPlanner = {
  family: "mlab",
  flag: "mlab",
  plan: (flags) => planMlab(flags.mlab!, flags),
};

async function planMlab(taskPath: string, flags: EvalFlags): Promise<EvalPlan> {
  if ((flags.workspace === undefined) === (flags.logs === undefined)) {
    throw new UserError("DYNABOX_USAGE", "--mlab needs one of --workspace DIR (a final workspace) or --logs DIR (an upstream MLAgentBench log folder)");
  }
  const notes: string[] = [];
  const options = await mlabFamilyOptions(flags, (message) => notes.push(message));
  const tasks = await discoverMlabTasks(taskPath, flags.timeout === undefined ? {} : { timeoutSeconds: Math.ceil(flags.timeout) }, options.onWarning);
  if (tasks.length !== 1) {
    throw new UserError("DYNABOX_INVALID_INPUT", `--mlab takes one task folder; ${taskPath} holds ${tasks.length} task(s)`);
  }
  const task = tasks[0]!;
  const module = createMlabFamily(options);
  notes.push(...task.warnings.map((warning) => `${task.id}: ${warning}`));
  // Assumptions (upstream's settings, defaults) stay with each result line.
  const warnings = task.warnings.length > 0 ? { warnings: task.warnings } : {};
  let logs = flags.logs;
  if (logs === undefined && (await looksLikeMlabLogFolder(flags.workspace!))) {
    notes.push(`${flags.workspace} is an upstream MLAgentBench log folder (it holds trace.json): grading each run's traces/step_final_files`);
    logs = flags.workspace;
  }
  if (logs === undefined) {
    const submission = await submissionFromFolder(flags.workspace!);
    return { family: "mlab", items: [{ task, module, submission, item: "", extra: warnings }], total: 1, notes };
  }
  // As upstream's MLAgentBench.eval: every trace.json under the folder is one run, graded on its final snapshot.
  const runs = await findMlabLogRuns(logs);
  if (runs.length === 0) {
    throw new UserError("DYNABOX_INVALID_INPUT", `${logs} holds no upstream run (no trace.json, as in <run>/env_log/trace.json): give the log folder of MLAgentBench runs`);
  }
  const items: EvalItem[] = [];
  for (const run of runs) {
    items.push({
      task,
      module,
      submission: await mlabRunSubmission(run),
      item: run.run,
      extra: { run: run.run, submitted_final_answer: run.submittedFinalAnswer, ...warnings },
      ...(run.skippedByUpstream === null ? {} : { problem: { code: "DYNABOX_INVALID_INPUT", message: run.skippedByUpstream } }),
    });
  }
  return { family: "mlab", items, total: runs.length, notes };
}
