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
import { readFile } from "node:fs/promises";
import { DynaboxError, SandboxError } from "../errors.js";
import { WORKSPACE } from "../sandbox/profile.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import type { ShellResult } from "../sandbox/protocol.js";
import { discoverSabTasks, sabPaths, type SabTask } from "../tasks/sab.js";
import type { FamilyModule, ValidationResult, Verdict } from "../tasks/types.js";
import { withGraderSandbox, type GraderSandboxOptions, type GradingContext } from "./context.js";

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
  success_rate: 0 | 1;
  log_info: string;
  program: string;
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
}

export const SAB_DEFAULTS = {
  timeoutSeconds: 900,
  evalTimeoutSeconds: 900,
  maxOutputBytes: 256 * 1024 * 1024,
  domainKnowledge: true,
} as const;

/** Most characters of a program's stderr or an eval's traceback kept in log_info. */
const LOG_TAIL_CHARACTERS = 4000;
/** Most bytes of program source collectSubmission accepts. */
const MAX_PROGRAM_BYTES = 5 * 1024 * 1024;

const MARKER_VARIABLE = "DYNABOX_SAB_MARKER";
const DRIVER_PATH = ".dynabox/sab_eval_driver.py";

/**
 * Runs in the eval container with `python3 -I` (no PYTHON* variables, no user site, no script
 * folder on sys.path); imports the eval like upstream, from the task root, and prints one
 * result line after a random marker so nothing the eval prints can pose as the result.
 */
export const SAB_EVAL_DRIVER = `import importlib, json, os, sys, traceback
marker = os.environ.pop("${MARKER_VARIABLE}", "")
sys.path.insert(0, os.getcwd())


def emit(payload):
    sys.stdout.flush()
    sys.stdout.write("\\n" + marker + json.dumps(payload) + "\\n")
    sys.stdout.flush()


try:
    module = importlib.import_module("benchmark.eval_programs." + sys.argv[1])
    success, log_info = module.eval()
except BaseException:
    emit({"ok": False, "error": traceback.format_exc()[-${LOG_TAIL_CHARACTERS}:]})
else:
    try:
        rate = 1 if float(success) == 1.0 else 0
    except Exception:
        rate = 0
    emit({"ok": True, "success": rate, "log_info": log_info if isinstance(log_info, str) else str(log_info)})
`;

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, characters = LOG_TAIL_CHARACTERS): string {
  return text.length > characters ? `...${text.slice(-characters)}` : text;
}

/** The folder of output_fname that is carried from the program's container to the eval's. */
export function outputLocation(outputFname: string): { folder: string; relative: string } {
  const slash = outputFname.indexOf("/");
  return { folder: outputFname.slice(0, slash), relative: outputFname.slice(slash + 1) };
}

/** The command that runs the program, as upstream but with python3 (the image has no `python`). */
export function programCommand(task: SabTask): string {
  return `python3 -m ${sabPaths(task).programModule}`;
}

export function evalCommand(task: SabTask): string {
  return `python3 -I ${DRIVER_PATH} ${shellQuote(task.row.eval_script_name.slice(0, -".py".length))}`;
}

/** What a finished program run means, upstream's rules: exit 0 and output_fname written. */
export function judgeProgramRun(
  task: SabTask,
  run: Pick<ShellResult, "exitCode" | "timedOut" | "oom" | "startError" | "stderr">,
  outputWritten: boolean,
  timeoutSeconds: number,
): { valid: boolean; logInfo: string } {
  if (run.startError) return { valid: false, logInfo: `the program could not be started: ${run.startError}` };
  if (run.timedOut) {
    return { valid: false, logInfo: `Timeout: the program did not finish within ${timeoutSeconds} s and was stopped\n${tail(run.stderr, 1000)}`.trimEnd() };
  }
  if (run.oom) return { valid: false, logInfo: `the program ran out of memory\n${tail(run.stderr, 1000)}`.trimEnd() };
  if (run.exitCode !== 0) {
    return { valid: false, logInfo: `the program exited with code ${run.exitCode}\n${tail(run.stderr)}`.trimEnd() };
  }
  if (!outputWritten) {
    return { valid: false, logInfo: `The program does not save its output correctly: ${task.row.output_fname} was not written` };
  }
  return { valid: true, logInfo: "" };
}

/** Reads the driver's result from the eval step's stdout. */
export function parseEvalOutput(run: Pick<ShellResult, "stdout" | "stderr" | "exitCode" | "timedOut">, marker: string, evalTimeoutSeconds: number): {
  success: 0 | 1;
  logInfo: string;
} {
  const line = run.stdout
    .split("\n")
    .reverse()
    .find((each) => each.startsWith(marker));
  if (line !== undefined) {
    try {
      const payload = JSON.parse(line.slice(marker.length)) as { ok?: boolean; success?: number; log_info?: string; error?: string };
      if (payload.ok === true) return { success: payload.success === 1 ? 1 : 0, logInfo: String(payload.log_info ?? "") };
      return { success: 0, logInfo: `the eval script failed:\n${payload.error ?? ""}`.trimEnd() };
    } catch {
      // fall through: an unreadable result is a failed eval
    }
  }
  if (run.timedOut) return { success: 0, logInfo: `the eval script did not finish within ${evalTimeoutSeconds} s` };
  return { success: 0, logInfo: `the eval script ended without a result (exit code ${run.exitCode})\n${tail(run.stderr)}`.trimEnd() };
}

async function readOutputs(sandbox: Sandbox, folder: string, maxBytes: number): Promise<Map<string, Buffer> | string> {
  try {
    return await sandbox.readFiles(`${WORKSPACE}/${folder}`, { maxBytes });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return new Map();
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
  const started = performance.now();
  const timeoutSeconds = options.timeoutSeconds ?? SAB_DEFAULTS.timeoutSeconds;
  const evalTimeoutSeconds = options.evalTimeoutSeconds ?? SAB_DEFAULTS.evalTimeoutSeconds;
  const maxBytes = options.maxOutputBytes ?? SAB_DEFAULTS.maxOutputBytes;
  const paths = sabPaths(task);
  const output = outputLocation(task.row.output_fname);
  const sandboxOptions: GraderSandboxOptions = options.limits ? { limits: options.limits } : {};
  const finish = (valid: 0 | 1, success: 0 | 1, logInfo: string) => ({
    line: { valid_program: valid, codebert_score: null, success_rate: success, log_info: logInfo, program: submission.fileName },
    seconds: (performance.now() - started) / 1000,
  });
  const signal = context.signal;
  const shellOptions = { cwd: WORKSPACE, ...(signal ? { signal } : {}) };

  // Step 1: the program, with nothing but the dataset and itself.
  context.onProgress?.(`sab ${task.id}: running ${paths.programPath}`);
  const run = await withGraderSandbox(context, sandboxOptions, async (sandbox) => {
    const folders = [paths.datasetPath, "pred_programs", "pred_results", output.folder].map(shellQuote).join(" ");
    await mustSucceed(sandbox.shell(`mkdir -p ${folders}`, shellOptions), "prepare the task root");
    await sandbox.putDirectory(paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`);
    await sandbox.putFiles([{ path: paths.programPath, content: submission.source }], WORKSPACE);
    // Upstream keeps benchmark/ read-only. The program owns these files and could undo this;
    // that does not matter, since nothing but the output folder leaves this container.
    await mustSucceed(sandbox.shell("chmod -R a-w benchmark", shellOptions), "make benchmark/ read-only");
    const result = await sandbox.shell(programCommand(task), { ...shellOptions, timeoutSeconds });
    const ranCleanly = result.exitCode === 0 && !result.timedOut && !result.oom && !result.startError;
    const outputs = ranCleanly ? await readOutputs(sandbox, output.folder, maxBytes) : new Map<string, Buffer>();
    return { result, outputs };
  });
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
    await sandbox.putDirectory(paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`);
    await sandbox.putDirectory(paths.evalProgramsDirectory, `${WORKSPACE}/benchmark/eval_programs`);
    await sandbox.putFiles(
      [
        ...[...outputs].map(([relative, content]) => ({ path: `${output.folder}/${relative}`, content })),
        { path: DRIVER_PATH, content: SAB_EVAL_DRIVER },
      ],
      WORKSPACE,
    );
    return sandbox.shell(evalCommand(task), {
      ...shellOptions,
      timeoutSeconds: evalTimeoutSeconds,
      env: { [MARKER_VARIABLE]: marker },
    });
  });
  const result = parseEvalOutput(evaluated, marker, evalTimeoutSeconds);
  return finish(1, result.success, result.logInfo);
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
    score: line.valid_program === 1 ? line.success_rate : null,
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
export async function setUpSabWorkspace(task: SabTask, sandbox: Sandbox): Promise<void> {
  const paths = sabPaths(task);
  const folders = [paths.datasetPath, "pred_programs", "pred_results", outputLocation(task.row.output_fname).folder].map(shellQuote).join(" ");
  const made = await sandbox.shell(`mkdir -p ${folders}`, { cwd: WORKSPACE });
  if (made.exitCode !== 0) {
    throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not prepare the agent's workspace: ${made.startError ?? made.stderr}`, { retryable: true });
  }
  await sandbox.putDirectory(paths.datasetDirectory, `${WORKSPACE}/${paths.datasetPath}`);
  // A hint, as upstream's read-only benchmark/; the agent owns the files and may undo it.
  await sandbox.shell(`chmod -R a-w ${shellQuote(paths.datasetPath)}`, { cwd: WORKSPACE });
}

/** Reads pred_programs/pred_<gold_program_name>; missing (or not a regular file) gives an empty program. */
export async function collectSabSubmission(task: SabTask, sandbox: Sandbox): Promise<SabSubmission> {
  const paths = sabPaths(task);
  const fileName = paths.programPath.slice("pred_programs/".length);
  try {
    const files = await sandbox.readFiles(`${WORKSPACE}/${paths.programPath}`, { maxBytes: MAX_PROGRAM_BYTES, stripComponents: 0 });
    const content = files.get(fileName);
    return { fileName, source: content ? content.toString("utf8") : "" };
  } catch (error) {
    const missing = (error as { statusCode?: number }).statusCode === 404;
    const tooLarge = DynaboxError.isInstance(error) && error.code === "DYNABOX_ARCHIVE_REJECTED";
    if (missing || tooLarge) return { fileName, source: "" };
    throw error;
  }
}

/** The bundled task's proof of validity: the gold program passes, an empty program is invalid. */
export async function validateSabTask(context: GradingContext, task: SabTask, options: SabOptions = {}): Promise<ValidationResult> {
  const started = performance.now();
  const paths = sabPaths(task);
  const fileName = paths.programPath.slice("pred_programs/".length);
  const gold = await gradeSabProgram(context, task, { fileName: task.row.gold_program_name, source: await readFile(paths.goldProgram, "utf8") }, options);
  const empty = await gradeSabProgram(context, task, { fileName, source: "" }, options);
  return {
    valid: gold.line.valid_program === 1 && gold.line.success_rate === 1 && empty.line.valid_program === 0 && empty.line.success_rate === 0,
    checks: { gold: gold.line, empty: empty.line, seconds: (performance.now() - started) / 1000 },
  };
}

export function createSabFamily(options: SabOptions = {}): FamilyModule<SabTask, SabSubmission> {
  return {
    family: "sab",
    discover: (target) => discoverSabTasks(target),
    validate: (context, task) => validateSabTask(context, task, options),
    grade: async (context, task, submission) => {
      const { line, seconds } = await gradeSabProgram(context, task, submission, options);
      return toVerdict(task, line, seconds);
    },
    describe: (task) => describeSabTask(task, options),
    setUpWorkspace: (_context, task, sandbox) => setUpSabWorkspace(task, sandbox),
    collectSubmission: (_context, task, sandbox) => collectSabSubmission(task, sandbox),
  };
}

export const sabFamily: FamilyModule<SabTask, SabSubmission> = createSabFamily();
