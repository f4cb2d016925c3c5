// ScienceAgentBench grading, validity check and agent hooks.
//
// A submission is one Python program. It is graded in two fresh, network-off containers:
//   1. the program's container holds only the task's dataset folder and the program; the program
//      runs as `python3 -m pred_programs.pred_<name>` from the task root, with a timeout;
//   2. only if it exited 0 and wrote output_fname, a second container gets the dataset folder,
//      benchmark/eval_programs/ (scripts and gold results) and the files the program wrote under
//      output_fname's folder, and a small driver outside the agent's reach calls the eval's eval().
// So the agent's code never shares a container with eval scripts or gold results: it can not
// read them, overwrite them, plant modules or .pth files for the eval's interpreter, or leave a
// process behind that tampers with them. Its stdout does not count; only eval() decides.

import { randomUUID } from "node:crypto";
import { z } from "zod";
import path from "node:path";
import { DynaboxError, SandboxError } from "../../errors.js";
import { WORKSPACE } from "../../sandbox/profile.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import type { ShellResult } from "../../sandbox/protocol.js";
import { discoverSabTasks, sabPaths, type SabTask } from "./task.js";
import { putTaskDirectory, TaskFolder } from "../task-files.js";
import type { FamilyModule, ValidationResult, Verdict } from "../types.js";
import { withGraderSandbox, type GraderSandboxOptions, type GradingContext } from "../../grading/context.js";
import { runContainerStep, stopwatch } from "../../grading/container-step.js";
import { sabBaseImage } from "../../environments/sab-python.js";
import { missingImports, sabEnvironmentFor } from "./environment.js";
import {
  DRIVER_PATH,
  MARKER_VARIABLE,
  SAB_EVAL_DRIVER,
  evalCommand,
  judgeProgramRun,
  outputLocation,
  parseEvalOutput,
  programCommand,
  shellQuote,
  type SabLogInfo,
} from "./steps.js";
import { JUDGE_ANSWERS_FILE, JUDGE_FOLDER, JUDGE_REQUEST_FILE, SAB_JUDGE_MODULE, judgementKey, type FigureJudge, type FigureJudgement } from "./judge.js";
import { sabSummary } from "./summary.js";

/** The agent's work: the program's source text and the file name it was saved under. */
export interface SabSubmission {
  fileName: string;
  source: string;
}

/** The upstream result line (run_eval's JSONL), plus the program's file name. */
export interface SabResultLine {
  valid_program: 0 | 1;
  /** Needs downloaded CodeBERT weights; dynabox grades offline, so always null. */
  codebert_score: number | null;
  /** As the eval returned it (upstream keeps it so): a number in [0, 1]; 1 is a success. */
  success_rate: number;
  /** As the eval returned it when JSON can hold it (a dict stays an object), else text. */
  log_info: SabLogInfo;
  /** dynabox's environment notes, when log_info is not text and they can not be appended to it. */
  environment_notes?: string;
  program: string;
  /** The eval asked the figure judge and none was configured: neither a success nor a failure. */
  not_judged?: true;
  /** The model that judged this task's figures, when the eval asked the judge. */
  judge_model?: string;
}

export interface SabOptions {
  /** Limit for one run of the program, in seconds (upstream: 900). */
  timeoutSeconds?: number;
  /** Limit for the eval step, in seconds. */
  evalTimeoutSeconds?: number;
  /** Most bytes of output copied from the program's container to the eval's. */
  maxOutputBytes?: number;
  /** Container limits for both grading containers. */
  limits?: GraderSandboxOptions["limits"];
  /** Whether describe() includes the task's domain_knowledge (upstream's "with expert knowledge"). */
  domainKnowledge?: boolean;
  /** The figure tasks' judge (opt-in); without it their evals end as "not judged". */
  judge?: FigureJudge;
}

export const SAB_DEFAULTS = {
  timeoutSeconds: 900,
  evalTimeoutSeconds: 900,
  maxOutputBytes: 256 * 1024 * 1024,
  domainKnowledge: true,
} as const;

/** Most bytes of program source collectSubmission accepts. */
const MAX_PROGRAM_BYTES = 5 * 1024 * 1024;

/**
 * Docker answers 404 both for a path missing in a container and for a container that is gone
 * (dockerode's text says "no such container" for both). Only the first is the program's doing;
 * the second is infrastructure and must never be graded as "the program wrote nothing", so a 404
 * is checked against the engine: a container it no longer knows is a lost sandbox.
 */
export async function isMissingPath(sandbox: Sandbox, error: unknown): Promise<boolean> {
  if ((error as { statusCode?: number }).statusCode !== 404) return false;
  try {
    await sandbox.container.inspect();
    return true;
  } catch (inspectError) {
    if ((inspectError as { statusCode?: number }).statusCode !== 404) throw inspectError;
  }
  throw new SandboxError("DYNABOX_SANDBOX_LOST", `the grading container ${sandbox.id.slice(0, 12)} disappeared while its files were read`, {
    cause: error,
    retryable: true,
  });
}

/** The files the program wrote under its output folder; a message when they are too large. */
export async function readProgramOutputs(sandbox: Sandbox, folder: string, maxBytes: number): Promise<Map<string, Buffer> | string> {
  try {
    return await sandbox.readFiles(`${WORKSPACE}/${folder}`, { maxBytes });
  } catch (error) {
    if (await isMissingPath(sandbox, error)) return new Map();
    if (DynaboxError.isInstance(error) && error.code === "DYNABOX_ARCHIVE_REJECTED") {
      return `the program's output folder ${folder}/ is too large to grade (${error.message})`;
    }
    throw error;
  }
}

export async function gradeSabProgram(
  context: GradingContext,
  task: SabTask,
  submission: SabSubmission,
  options: SabOptions = {},
): Promise<{ line: SabResultLine; seconds: number }> {
  const elapsed = stopwatch();
  // Upstream's Python 3.10 when it can be had, else the sandbox image with a warning (sab-python.ts).
  context = { ...context, sandboxImage: (await sabBaseImage(context)).image };
  const timeoutSeconds = options.timeoutSeconds ?? SAB_DEFAULTS.timeoutSeconds;
  const evalTimeoutSeconds = options.evalTimeoutSeconds ?? SAB_DEFAULTS.evalTimeoutSeconds;
  const maxBytes = options.maxOutputBytes ?? SAB_DEFAULTS.maxOutputBytes;
  const paths = sabPaths(task);
  const output = outputLocation(task.row.output_fname);
  let sandboxOptions: GraderSandboxOptions = options.limits ? { limits: options.limits } : {};
  const notes: string[] = [];
  const finish = (valid: 0 | 1, success: number, logInfo: SabLogInfo): { line: SabResultLine; seconds: number } => {
    const line: SabResultLine = { valid_program: valid, codebert_score: null, success_rate: success, log_info: logInfo, program: submission.fileName };
    if (notes.length > 0) {
      const note = `[dynabox environment] ${notes.join("; ")}`;
      // Text gets the note appended; a JSON log_info stays as the eval returned it.
      if (typeof logInfo === "string") line.log_info = `${logInfo}\n${note}`;
      else line.environment_notes = note;
    }
    return { line, seconds: elapsed() };
  };
  const signal = context.signal;
  const shellOptions = { cwd: WORKSPACE, ...(signal ? { signal } : {}) };

  // Step 1: the program, with nothing but the dataset and itself. Its imports are read first (as
  // upstream's pipreqs does); when the base lacks some, the program runs in an environment layer
  // that has them instead (sab-environment.ts), and what could not be installed goes in the log.
  context.onProgress?.(`sab ${task.id}: running ${paths.programPath}`);
  const runProgram = async (sandbox: Sandbox) => {
    const folders = [paths.datasetPath, "pred_programs", "pred_results", output.folder].map(shellQuote).join(" ");
    await mustSucceed(sandbox.shell(`mkdir -p ${folders}`, shellOptions), "prepare the task root");
    await putBenchmarkDirectory(sandbox, task, paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`);
    // Upstream keeps benchmark/ read-only. The program owns these files and could undo this;
    // that does not matter, since nothing but the output folder leaves this container.
    await mustSucceed(sandbox.shell("chmod -R a-w benchmark", shellOptions), "make benchmark/ read-only");
    const { run: result } = await runContainerStep(sandbox, {
      files: [{ path: paths.programPath, content: submission.source }],
      command: programCommand(task),
      ...shellOptions,
      timeoutSeconds,
    });
    const ranCleanly = result.exitCode === 0 && !result.timedOut && !result.oom && !result.startError;
    const outputs = ranCleanly ? await readProgramOutputs(sandbox, output.folder, maxBytes) : new Map<string, Buffer>();
    return { result, outputs };
  };
  const first = await withGraderSandbox(context, sandboxOptions, async (sandbox) => {
    const missing = await missingImports(sandbox, submission.source, WORKSPACE);
    return missing.length > 0 ? { missing } : { missing, ran: await runProgram(sandbox) };
  });
  let run = first.ran;
  if (run === undefined) {
    const environment = await sabEnvironmentFor(context, task.id, first.missing);
    notes.push(...environment.notes);
    sandboxOptions = { ...sandboxOptions, image: environment.image };
    run = await withGraderSandbox(context, sandboxOptions, runProgram);
  }
  // The supervisor could not start the command in a fresh container: infrastructure, not the program.
  if (run.result.startError) throw notStarted("the program", run.result.startError);
  const outputs = run.outputs;
  if (typeof outputs === "string") return finish(0, 0, outputs);
  const judged = judgeProgramRun(task, run.result, outputs.has(output.relative), timeoutSeconds);
  if (!judged.valid) return finish(0, 0, judged.logInfo);

  // Step 2: the eval, in a container the program never ran in.
  context.onProgress?.(`sab ${task.id}: evaluating with ${task.row.eval_script_name}`);
  const marker = `@@dynabox-sab-result-${randomUUID()}@@`;
  const evaluated = await withGraderSandbox(context, sandboxOptions, async (sandbox) => {
    const folders = [paths.datasetPath, "benchmark/eval_programs", "pred_results", output.folder].map(shellQuote).join(" ");
    await mustSucceed(sandbox.shell(`mkdir -p ${folders}`, shellOptions), "prepare the task root");
    await putBenchmarkDirectory(sandbox, task, paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`);
    await putBenchmarkDirectory(sandbox, task, paths.evalProgramsDirectory, `${WORKSPACE}/benchmark/eval_programs`);
    await sandbox.putFiles(
      [
        ...[...outputs].map(([relative, content]) => ({ path: `${output.folder}/${relative}`, content })),
        { path: DRIVER_PATH, content: SAB_EVAL_DRIVER },
        // Where upstream's repository root has gpt4_visual_judge.py, for the figure tasks' evals.
        { path: "gpt4_visual_judge.py", content: SAB_JUDGE_MODULE },
        { path: `${JUDGE_FOLDER}/${JUDGE_ANSWERS_FILE}`, content: "{}" },
      ],
      WORKSPACE,
    );
    return runEvalWithJudge(sandbox, task, options, { marker, evalTimeoutSeconds, shellOptions, signal });
  });
  if (evaluated.notJudged) {
    return {
      line: {
        valid_program: 1,
        codebert_score: null,
        success_rate: 0,
        log_info: `Not judged: the eval script asks the figure judge (gpt4_visual_judge.score_figure), and no judge was configured. Pass --judge-model (upstream: gpt-4o-2024-05-13) to judge it; until then the task counts neither as a success nor as a failure.`,
        program: submission.fileName,
        not_judged: true,
      },
      seconds: elapsed(),
    };
  }
  const result = evaluated.tooManyJudgements
    ? { success: 0 as const, logInfo: `the eval script asked the figure judge more than ${MAX_JUDGEMENTS} times; stopped` }
    : parseEvalOutput(evaluated.run, marker, evalTimeoutSeconds);
  const graded = finish(1, result.success, result.logInfo);
  if (evaluated.judgements > 0 && options.judge) graded.line.judge_model = options.judge.model;
  return graded;
}

/** Most figure judgements one eval may ask for (upstream's evals ask one or two). */
const MAX_JUDGEMENTS = 8;

const judgeRequestSchema = z.object({ key: z.string(), pred_fig: z.string(), gold_fig: z.string() });

/**
 * Runs the eval; each time it stops for a figure judgement, asks the judge (on the host, never from
 * the container) and runs it again with every answer so far on file. Without a judge, the first
 * request ends it as "not judged".
 */
async function runEvalWithJudge(
  sandbox: Sandbox,
  task: SabTask,
  options: SabOptions,
  settings: { marker: string; evalTimeoutSeconds: number; shellOptions: { cwd: string; signal?: AbortSignal }; signal: AbortSignal | undefined },
): Promise<{ run: ShellResult; notJudged: boolean; tooManyJudgements: boolean; judgements: number }> {
  const answers: Record<string, FigureJudgement> = {};
  for (let judgements = 0; ; judgements += 1) {
    const { run } = await runContainerStep(sandbox, {
      command: evalCommand(task),
      ...settings.shellOptions,
      timeoutSeconds: settings.evalTimeoutSeconds,
      env: { [MARKER_VARIABLE]: settings.marker },
    });
    if (run.startError) throw notStarted("the eval", run.startError);
    const request = await readJudgeRequest(sandbox);
    if (request === undefined) return { run, notJudged: false, tooManyJudgements: false, judgements };
    if (!options.judge) return { run, notJudged: true, tooManyJudgements: false, judgements };
    if (judgements >= MAX_JUDGEMENTS) return { run, notJudged: false, tooManyJudgements: true, judgements };
    const key = judgementKey(request.pred_fig, request.gold_fig);
    answers[key] = await options.judge.judge(request.pred_fig, request.gold_fig, settings.signal);
    await sandbox.putFiles([{ path: `${JUDGE_FOLDER}/${JUDGE_ANSWERS_FILE}`, content: JSON.stringify(answers) }], WORKSPACE);
    await mustSucceed(sandbox.shell(`rm -f ${shellQuote(`${JUDGE_FOLDER}/${JUDGE_REQUEST_FILE}`)}`, settings.shellOptions), "clear the judge request");
  }
}

async function readJudgeRequest(sandbox: Sandbox): Promise<z.infer<typeof judgeRequestSchema> | undefined> {
  let files: Map<string, Buffer>;
  try {
    files = await sandbox.readFiles(`${WORKSPACE}/${JUDGE_FOLDER}`, { maxBytes: MAX_JUDGE_REQUEST_BYTES });
  } catch (error) {
    if (await isMissingPath(sandbox, error)) return undefined;
    if (DynaboxError.isInstance(error) && error.code === "DYNABOX_ARCHIVE_REJECTED") {
      throw new SandboxError("DYNABOX_SANDBOX_LOST", `the eval's figure judge request is larger than ${MAX_JUDGE_REQUEST_BYTES} bytes`, { cause: error });
    }
    throw error;
  }
  const content = files.get(JUDGE_REQUEST_FILE);
  if (content === undefined) return undefined;
  const parsed = judgeRequestSchema.safeParse(JSON.parse(content.toString("utf8")));
  if (!parsed.success) throw new SandboxError("DYNABOX_SANDBOX_LOST", `the eval's figure judge request is malformed: ${parsed.error.message}`);
  return parsed.data;
}

/** Two base64 PNGs; upstream's figures are well under this. */
const MAX_JUDGE_REQUEST_BYTES = 128 * 1024 * 1024;

function notStarted(what: string, reason: string): SandboxError {
  return new SandboxError("DYNABOX_SANDBOX_LOST", `could not start ${what} in the grading container: ${reason}`, { retryable: true });
}

/** Puts a folder of benchmark/ into a container, refusing links that lead out of benchmark/. */
async function putBenchmarkDirectory(sandbox: Sandbox, task: SabTask, hostDirectory: string, destination: string, signal?: AbortSignal): Promise<void> {
  const benchmark = await TaskFolder.open(task.benchmarkDirectory);
  await putTaskDirectory(sandbox, benchmark, path.relative(task.benchmarkDirectory, hostDirectory), destination, signal ? { signal } : {});
}

async function mustSucceed(pending: Promise<ShellResult>, what: string): Promise<void> {
  const result = await pending;
  if (result.exitCode !== 0) {
    throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not ${what} in the grading container: ${result.startError ?? result.stderr}`, {
      retryable: true,
    });
  }
}

export function toVerdict(task: SabTask, line: SabResultLine, seconds: number): Verdict {
  return {
    taskId: task.id,
    family: "sab",
    passed: line.success_rate === 1,
    // A task not judged has no score: it is neither a success nor a failure.
    score: line.valid_program === 1 && line.not_judged !== true ? line.success_rate : null,
    upstream: { ...line },
    seconds,
  };
}

/** The prompt for an agent: the instruction, the data, the expert knowledge, what to deliver. */
export function describeSabTask(task: SabTask, options: SabOptions = {}): string {
  const { row } = task;
  const paths = sabPaths(task);
  const timeoutSeconds = options.timeoutSeconds ?? SAB_DEFAULTS.timeoutSeconds;
  const includeKnowledge = (options.domainKnowledge ?? SAB_DEFAULTS.domainKnowledge) && row.domain_knowledge.trim() !== "";
  const parts = [
    `ScienceAgentBench task ${row.instance_id} (${row.domain}; ${row.subtask_categories}).`,
    "",
    row.task_inst,
    "",
    `The dataset is in ${paths.datasetPath}/ (paths relative to the task root, /workspace, your working directory):`,
    row.dataset_folder_tree,
    "",
    "Preview of the data:",
    row.dataset_preview,
  ];
  if (includeKnowledge) {
    parts.push("", "Domain knowledge (expert knowledge that comes with this task):", row.domain_knowledge);
  }
  parts.push(
    "",
    "What to deliver:",
    `- One self-contained Python program, saved as ${paths.programPath}. Only this file is graded; other files you create are not kept.`,
    `- It reads the data from ${paths.datasetPath}/... and writes ${row.output_fname}, using relative paths only (create the folder, e.g. os.makedirs("${outputLocation(row.output_fname).folder}", exist_ok=True)).`,
    `- It is run from the task root as \`python3 -m ${paths.programModule}\`, in a fresh container without network, with the Python packages already installed (nothing can be installed), within ${timeoutSeconds} s.`,
    `- It must exit with status 0 and write ${row.output_fname}; a hidden evaluation script then checks that file. Printing results does not count.`,
  );
  return parts.join("\n");
}

/** Puts only the task's dataset folder into an agent's workspace (never gold or eval files). */
export async function setUpSabWorkspace(task: SabTask, sandbox: Sandbox, signal?: AbortSignal): Promise<void> {
  const paths = sabPaths(task);
  const folders = [paths.datasetPath, "pred_programs", "pred_results", outputLocation(task.row.output_fname).folder].map(shellQuote).join(" ");
  const made = await sandbox.shell(`mkdir -p ${folders}`, { cwd: WORKSPACE, ...(signal ? { signal } : {}) });
  if (made.exitCode !== 0) {
    throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not prepare the agent's workspace: ${made.startError ?? made.stderr}`, { retryable: true });
  }
  await putBenchmarkDirectory(sandbox, task, paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`, signal);
  // A hint, as upstream's read-only benchmark/; the agent owns the files and may undo it.
  await sandbox.shell(`chmod -R a-w ${shellQuote(paths.datasetPath)}`, { cwd: WORKSPACE, ...(signal ? { signal } : {}) });
}

/** Reads pred_programs/pred_<gold_program_name>; missing (or not a regular file) gives an empty program. */
export async function collectSabSubmission(task: SabTask, sandbox: Sandbox, signal?: AbortSignal): Promise<SabSubmission> {
  const paths = sabPaths(task);
  const fileName = paths.programPath.slice("pred_programs/".length);
  try {
    const files = await sandbox.readFiles(`${WORKSPACE}/${paths.programPath}`, { maxBytes: MAX_PROGRAM_BYTES, stripComponents: 0 }, signal);
    const content = files.get(fileName);
    return { fileName, source: content ? content.toString("utf8") : "" };
  } catch (error) {
    const missing = await isMissingPath(sandbox, error);
    const tooLarge = DynaboxError.isInstance(error) && error.code === "DYNABOX_ARCHIVE_REJECTED";
    if (missing || tooLarge) return { fileName, source: "" };
    throw error;
  }
}

/** The bundled task's proof of validity: the gold program passes, an empty program is invalid. */
export async function validateSabTask(context: GradingContext, task: SabTask, options: SabOptions = {}): Promise<ValidationResult> {
  const elapsed = stopwatch();
  const paths = sabPaths(task);
  const fileName = paths.programPath.slice("pred_programs/".length);
  const gold = await gradeSabProgram(context, task, { fileName: task.row.gold_program_name, source: await (await TaskFolder.open(task.benchmarkDirectory)).readText(path.relative(task.benchmarkDirectory, paths.goldProgram)) }, options);
  const empty = await gradeSabProgram(context, task, { fileName, source: "" }, options);
  // A figure task's gold output can only be judged with a judge; without one, the gold program
  // running cleanly is all that can be shown, and the checks say the figure was not judged.
  const goldPassed = gold.line.valid_program === 1 && (gold.line.success_rate === 1 || gold.line.not_judged === true);
  return {
    valid: goldPassed && empty.line.valid_program === 0 && empty.line.success_rate === 0,
    checks: {
      gold: gold.line,
      empty: empty.line,
      ...(gold.line.not_judged === true ? { figure_judged: false } : {}),
      seconds: elapsed(),
    },
  };
}

export function createSabFamily(options: SabOptions = {}): FamilyModule<SabTask, SabSubmission> {
  return {
    family: "sab",
    ...sabSummary,
    discover: (target) => discoverSabTasks(target),
    validate: (context, task) => validateSabTask(context, task, options),
    grade: async (context, task, submission) => {
      const { line, seconds } = await gradeSabProgram(context, task, submission, options);
      return toVerdict(task, line, seconds);
    },
    describe: (task) => describeSabTask(task, options),
    // The agent works on the Python its program will be graded on.
    agentImage: async (context) => (await sabBaseImage(context)).image,
    setUpWorkspace: (context, task, sandbox) => setUpSabWorkspace(task, sandbox, context.signal),
    collectSubmission: (context, task, sandbox) => collectSabSubmission(task, sandbox, context.signal),
  };
}

export { SAB_EVAL_DRIVER, evalCommand, judgeProgramRun, outputLocation, parseEvalOutput, programCommand, shellQuote } from "./steps.js";

export const sabFamily: FamilyModule<SabTask, SabSubmission> = createSabFamily();
