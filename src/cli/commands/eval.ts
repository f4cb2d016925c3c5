// `dynabox eval`: grade predictions and patches made elsewhere, safely, in the upstream result
// shapes: RES-Q patches, ScienceAgentBench programs, an MLAgentBench workspace.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { createMlabFamily, submissionFromFolder } from "../../families/mlab/grader.js";
import { findMlabLogRuns, looksLikeMlabLogFolder, mlabRunSubmission } from "../../families/mlab/logs.js";
import { createResqFamily, type ResqResultLine } from "../../families/resq/grader.js";
import { resqResultsFileText } from "../../families/resq/results-file.js";
import { createFigureJudge, type FigureJudge } from "../../families/sab/judge.js";
import type { SandboxLimits } from "../../sandbox/profile.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { openSelectedEngines } from "../engine-options.js";
import { evaluateItems, resultLine, summarizeBatch, type EvalItem } from "../../runs/evaluate.js";
import { reviewFlagLines } from "../review-flags.js";
import { ResultsStore } from "../../runs/store.js";
import { checkOutputFolder } from "../../sandbox/copy-out.js";
import { discoverMlabTasks } from "../../families/mlab/task.js";
import { checkResqDataset, readResqDatasetJson, type ResqTask } from "../../families/resq/task.js";
import { matchSubmissions, parseResqSubmissions } from "../../families/resq/submissions.js";
import type { Family, TaskBase } from "../../families/types.js";
import { isInfrastructureKind } from "../../runs/infrastructure-errors.js";
import { CONFIG_FILE_NAMES, findConfigFile, readConfigFile, withConfig } from "../config-file.js";
import { EXIT_INFRASTRUCTURE_ERRORS, EXIT_ITEM_ERRORS } from "../exit-codes.js";
import { numberFlag, parseFlags } from "../flags.js";
import { keepEvalSubmissions } from "../../report/submission-file.js";
import { writeReportAfterCommand } from "../../report/write.js";
import { createRenderer } from "../progress.js";
import { addMlabPrepareOptions, mlabFamilyOptions, mlabPrepareFlagsSchema } from "../../families/mlab/options.js";
import { planSabEval, writeSabEvalOutputs, type SabEvalPlan } from "../../families/sab/eval-plan.js";
import { printableLine, printableText } from "../terminal-text.js";
import { addEnvironmentOptions, environmentSettingsFromFlags } from "../environment-options.js";
import { gradingContext, interruptSignal } from "../shared.js";
import { addShardingOptions, mergedRunContext, parseShardingFlags, runBatchOnSlurm } from "../sharding.js";
import { selectShard, shardDirectory, writeShardMarker } from "../../runs/shards.js";

const flagsSchema = mlabPrepareFlagsSchema.extend({
  resq: z.string().optional(),
  submissions: z.string().optional(),
  sab: z.string().optional(),
  benchmark: z.string().optional(),
  programs: z.array(z.string()).optional(),
  judgeModel: z.string().optional(),
  baseUrl: z.string().optional(),
  apiKey: z.string().optional(),
  mlab: z.string().optional(),
  workspace: z.string().optional(),
  logs: z.string().optional(),
  runDir: z.string().optional(),
  concurrency: numberFlag.pipe(z.number().int().min(1)).optional(),
  timeout: numberFlag.pipe(z.number().positive()).optional(),
  memory: numberFlag.pipe(z.number().int().min(64)).optional(),
  // Docker refuses a quota above the machine's CPU count when the container starts.
  cpus: numberFlag.pipe(z.number().positive().max(availableParallelism())).optional(),
  workspaceSize: numberFlag.pipe(z.number().int().min(16)).optional(),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
});
/** What a good value of each flag looks like, for the one-line usage error. */
const FLAG_FIXES: Record<string, string> = {
  concurrency: "a whole number of items at once, at least 1 (e.g. --concurrency 2)",
  timeout: "a number of seconds above 0 (e.g. --timeout 120)",
  memory: "a whole number of MiB per grading container, at least 64 (e.g. --memory 4096)",
  cpus: `a number of cores per grading container above 0 and at most this machine's ${availableParallelism()} (e.g. --cpus 0.5)`,
  workspaceSize: "a whole number of MiB for the grading container's workspace, at least 16 (e.g. --workspace-size 4096)",
  pythonMismatch: "error or warn (e.g. --python-mismatch warn)",
};
type Flags = z.infer<typeof flagsSchema>;

interface Plan {
  family: Family;
  items: EvalItem[];
  /** The denominator of the headline metric: every task of the dataset. */
  total: number;
  notes: string[];
  /** ScienceAgentBench: the attempts and their tasks, for the eval logs and best-of-N. */
  sab?: { plan: SabEvalPlan; judge: FigureJudge | undefined };
  /** The submissions file's format, when there is one. */
  format?: string;
}

async function planSab(flags: Flags): Promise<Plan> {
  if (flags.judgeModel === undefined && (flags.baseUrl !== undefined || flags.apiKey !== undefined)) {
    throw new UserError("DYNABOX_USAGE", "--base-url and --api-key are the figure judge's endpoint: give them with --judge-model MODEL");
  }
  const judge =
    flags.judgeModel === undefined
      ? undefined
      : createFigureJudge({
          model: flags.judgeModel,
          ...(flags.baseUrl !== undefined ? { baseURL: flags.baseUrl } : {}),
          ...(flags.apiKey !== undefined ? { apiKey: flags.apiKey } : {}),
        });
  const plan = await planSabEval(flags.sab!, flags.programs ?? [], {
    ...(flags.benchmark !== undefined ? { benchmark: flags.benchmark } : {}),
    ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
    ...(judge ? { judge } : {}),
  });
  return { family: "sab", items: plan.items, total: plan.total, notes: plan.notes, sab: { plan, judge } };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function planResq(dataset: string, submissionsFile: string | undefined, flags: Flags): Promise<Plan> {
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

async function planMlab(taskPath: string, flags: Flags): Promise<Plan> {
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

async function plan(flags: Flags): Promise<Plan> {
  const chosen = [flags.resq, flags.sab, flags.mlab].filter((value) => value !== undefined).length;
  if (chosen !== 1) {
    throw new UserError(
      "DYNABOX_USAGE",
      "give exactly one of: --resq DATASET.json --submissions FILE.jsonl | --sab ROWS.csv|.jsonl|.json --programs DIR [--programs DIR ...] [--benchmark DIR] | --mlab TASK_DIR --workspace DIR | --mlab TASK_DIR --logs LOG_DIR",
    );
  }
  if (flags.resq !== undefined) return planResq(flags.resq, flags.submissions, flags);
  if (flags.sab !== undefined) return planSab(flags);
  return planMlab(flags.mlab!, flags);
}

/** The batch counters summarizeBatch adds, kept when a family writes its own summary. */
function countersOf(summary: Record<string, unknown>): Record<string, unknown> {
  const keys = ["dataset_tasks", "from_store", "graded_now", "errors", "errored", "warnings", "flagged_for_review", "interrupted"];
  return Object.fromEntries(keys.filter((key) => key in summary).map((key) => [key, summary[key]]));
}

/** Writes a file whole or not at all: a reader never sees half a results.jsonl. */
async function writeWhole(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, file);
}

function graderLimits(flags: Flags): Partial<SandboxLimits> {
  return {
    ...(flags.memory !== undefined ? { memoryMb: flags.memory } : {}),
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.workspaceSize !== undefined ? { workspaceMb: flags.workspaceSize } : {}),
  };
}

export function registerEvalCommand(program: Command): void {
  const command = addShardingOptions(program
    .command("eval"))
    .description("grade work made elsewhere in fresh locked-down containers, with the upstream result shapes")
    .option("--resq <dataset>", "a RES-Q dataset (JSON list)")
    .option("--submissions <file>", 'with --resq: a JSON list of {"id", "patch"} (as upstream\'s submit.py reads) or JSONL')
    .option("--sab <rows>", "ScienceAgentBench rows: upstream's ScienceAgentBench.csv, JSONL, or a JSON list")
    .option("--benchmark <dir>", "with --sab: the benchmark/ folder (default: beside the rows file, or the rows file's own folder)")
    .option("--programs <dir>", "with --sab: a folder of pred_*.py programs; repeat for several attempts (best-of-N as upstream)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--judge-model <name>", "with --sab: judge the figure tasks with this model (upstream: gpt-4o-2024-05-13); without it they are not judged")
    .option("--base-url <url>", "with --judge-model: an OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    .option("--api-key <key>", "with --judge-model: the endpoint's key (or OPENAI_API_KEY)")
    .option("--mlab <task>", "an MLAgentBench task folder")
    .option("--workspace <dir>", "with --mlab: the final workspace to grade")
    .option("--logs <dir>", "with --mlab: an upstream MLAgentBench log folder; each run's traces/step_final_files is graded")
    .option("--run-dir <dir>", "where results.sqlite, results.jsonl and summary.json go (default: .dynabox/eval/<family>)")
    .option("--concurrency <n>", "items graded at once (default: the CPU count)")
    .option("--timeout <seconds>", "RES-Q: limit of one test run (60); ScienceAgentBench: of one program run (900); MLAgentBench: of each script (task.json)")
    .option("--memory <mb>", "memory limit of each grading container in MiB (2048)")
    .option("--cpus <n>", "CPU quota of each grading container in cores (1)")
    .option("--workspace-size <mb>", "size of each grading container's workspace in MiB (1024)")
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--force", "grade again items that already have a result in the run folder")
    .option("--json", "print only the result lines, one JSON object per item");
  addEnvironmentOptions(command);
  addMlabPrepareOptions(command.option("--config <file>", `a config file of flag settings, under "eval" (default: ${CONFIG_FILE_NAMES.join(" or ")} in the working folder)`)).action(
    async (rawFlags: Record<string, unknown>, self: Command) => {
      const configFile = findConfigFile(typeof rawFlags.config === "string" ? rawFlags.config : undefined);
      const { config: _config, ...given } = withConfig(self, rawFlags, configFile === undefined ? undefined : readConfigFile(configFile).eval);
      const sharding = parseShardingFlags(given);
      const flags = parseFlags(flagsSchema, given, FLAG_FIXES);
      const work = await plan(flags);
      const baseDirectory = flags.runDir ?? path.join(".dynabox", "eval", work.family);
      await checkOutputFolder(baseDirectory, "--run-dir");
      const signal = interruptSignal();
      // --slurm: the shards grade on the cluster; this command merges and reports from the merged store.
      const slurm = sharding.slurm
        ? await runBatchOnSlurm({ runDirectory: baseDirectory, items: work.items.length, slurm: sharding.slurm, force: flags.force, jobName: `dynabox-eval-${work.family}`, signal })
        : undefined;
      const runDirectory = sharding.shard ? shardDirectory(baseDirectory, sharding.shard) : baseDirectory;
      const limits = graderLimits(flags);
      const context = slurm
        ? mergedRunContext(signal)
        : { ...(await gradingContext(signal, { quiet: flags.json, environment: environmentSettingsFromFlags(given) })), ...(Object.keys(limits).length > 0 ? { graderLimits: limits } : {}) };
      const engines = slurm ? undefined : await openSelectedEngines(context, flags.json);
      const concurrency = engines?.capacity ?? flags.concurrency ?? defaultConcurrency();
      for (const note of work.notes) process.stderr.write(`dynabox: ${printableLine(note)}\n`);
      const renderer = createRenderer({ json: false });
      using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
      let items = sharding.shard ? selectShard(work.items, sharding.shard) : work.items;
      if (slurm) {
        const graded = items.filter(({ task, item }) => store.has({ kind: "eval", family: task.family, taskId: task.id, item }));
        if (graded.length < items.length) {
          process.stderr.write(`dynabox: ${items.length - graded.length} item(s) have no result because their shard failed on the cluster; rerun the same command to grade only them\n`);
          process.exitCode = 1;
        }
        items = graded;
      }
      // For the report: each submission as a diff (a warning, never a failure, when it can not be kept).
      for (const warning of await keepEvalSubmissions(runDirectory, items)) process.stderr.write(`dynabox: warning: ${printableLine(warning)}\n`);
      renderer.onEvent({ type: "run-start", kind: `eval ${work.family}`, tasks: items.length, concurrency, runDirectory });
      const batch = await evaluateItems(items, {
        context,
        concurrency,
        store,
        force: flags.force && !slurm,
        onEvent: (event) => renderer.onEvent(event),
        // What else can change a verdict: part of each item's resume key.
        settings: { timeout: flags.timeout ?? null, pythonMismatch: flags.pythonMismatch, limits },
        ...(engines ? { engines } : {}),
      }).finally(() => renderer.close());
      // Written whatever happened to single items, and after Ctrl-C for what finished.
      const lines = batch.results.map((result) => JSON.stringify(resultLine(result)));
      let summary = summarizeBatch(work.family, batch, work.total);
      await mkdir(runDirectory, { recursive: true });
      await writeWhole(path.join(runDirectory, "results.jsonl"), lines.map((line) => line + "\n").join(""));
      // A shard's own outputs stay plain: the SAB eval logs are written over the whole plan, by the merge.
      if (work.sab && !sharding.shard) {
        // Positional verdicts: an item error or an interrupted item is "not graded" in the eval logs.
        const verdicts = batch.byItem.map((result) => result?.verdict ?? undefined);
        const written = await writeSabEvalOutputs(runDirectory, work.sab.plan, verdicts, work.sab.judge);
        summary = { ...written.summary, ...countersOf(summary) };
        for (const note of written.notes) process.stderr.write(`dynabox: ${printableText(note)}\n`);
      }
      await writeWhole(path.join(runDirectory, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
      if (work.family === "resq") {
        // Upstream's own results file (scripts/submit.py), for scripts written against it: graded items only.
        const graded = batch.results.flatMap((result) => (result.verdict === null ? [] : [result.verdict.upstream as unknown as ResqResultLine]));
        await writeWhole(path.join(runDirectory, "results.json"), resqResultsFileText(graded));
      }
      if (sharding.shard) writeShardMarker(runDirectory, sharding.shard, { items: items.length, errors: Number(summary.errors ?? 0) });
      if (!sharding.shard) await writeReportAfterCommand(runDirectory, (line) => process.stderr.write(line + "\n"));
      if (flags.json) {
        process.stdout.write(lines.map((line) => line + "\n").join(""));
      } else {
        process.stdout.write(`${JSON.stringify(summary)}\nresults: ${path.join(runDirectory, "results.jsonl")}\n`);
        for (const line of reviewFlagLines(batch.results.flatMap((result) => (result.verdict === null ? [] : [result.verdict])))) process.stdout.write(`${line}\n`);
      }
      const errors = Number(summary.errors);
      const fromStore = Number(summary.from_store);
      const warnings = Number(summary.warnings);
      process.stderr.write(
        `dynabox: ${batch.results.length} of ${work.items.length} item(s) finished: ${Number(summary.graded_now)} graded now, ${fromStore} from the store` +
          `${errors > 0 ? `, ${errors} could not be graded (see "errored" in summary.json; not counted as failures)` : ""}` +
          `${warnings > 0 ? `, ${warnings} warning(s)` : ""}\n`,
      );
      if (batch.interrupted) {
        process.stderr.write("dynabox: interrupted; the results of the finished items are written\n");
        process.exitCode = 130;
      } else if (errors > 0) {
        // An infrastructure error among them wins: a rerun may grade it (README, "Exit codes").
        const infrastructure = batch.results.some((result) => result.status === "error" && isInfrastructureKind(result.error?.kind ?? "input"));
        process.exitCode = infrastructure ? EXIT_INFRASTRUCTURE_ERRORS : EXIT_ITEM_ERRORS;
      }
    });
}
