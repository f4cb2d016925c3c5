// The plans of ScienceAgentBench grading, without side effects: the commands that run the
// program and the eval, the eval driver, and what a finished run or eval means. `sab.ts` carries
// them out in containers.

import type { ShellResult } from "../../sandbox/protocol.js";
import { lastCharacters, takeMarkedLine } from "../../grading/container-step.js";
import { successRateOf, type SabLogInfo } from "./metrics.js";
import { sabPaths, type SabTask } from "./task.js";

export type { SabLogInfo } from "./metrics.js";

/** Most characters of a program's stderr or an eval's traceback kept in log_info. */
export const LOG_TAIL_CHARACTERS = 4000;

export const MARKER_VARIABLE = "DYNABOX_SAB_MARKER";
export const DRIVER_PATH = ".dynabox/sab_eval_driver.py";

/**
 * Runs in the eval container with `python3 -I` (no PYTHON* variables, no user site, no script
 * folder on sys.path); imports the eval like upstream, from the task root, and prints one
 * result line after a random marker so nothing the eval prints can pose as the result.
 */
export const SAB_EVAL_DRIVER = `import importlib, json, numbers, os, sys, traceback
marker = os.environ.pop("${MARKER_VARIABLE}", "")
sys.path.insert(0, os.getcwd())


def emit(payload):
    sys.stdout.flush()
    sys.stdout.write("\\n" + marker + json.dumps(payload, allow_nan=False) + "\\n")
    sys.stdout.flush()


def rate_of(success):
    # Upstream keeps success as the eval returns it and calculate_metrics.py adds it up, so a
    # number in [0, 1] counts as it is; bools (numpy's too) are 0 or 1. Anything else would stop
    # upstream's json.dump or sum(): it counts 0 here.
    if type(success).__module__ == "numpy" and getattr(success, "shape", None) == ():
        try:
            success = success.item()
        except Exception:
            return 0
    if isinstance(success, bool):
        return int(success)
    if isinstance(success, numbers.Real):
        try:
            number = float(success)
        except Exception:
            return 0
        if number == 1.0:
            return 1
        if 0.0 < number < 1.0:
            return number
    return 0


def log_of(log_info):
    # Upstream writes log_info into its JSON eval log as it is (a dict stays an object); what
    # JSON can not hold would stop upstream's writer, and is written as Python's text of it.
    if isinstance(log_info, str):
        return log_info
    try:
        json.dumps(log_info, allow_nan=False)
        return log_info
    except Exception:
        pass
    try:
        return str(log_info)
    except Exception:
        return "log_info of type " + type(log_info).__name__ + " could not be written as text"


try:
    module = importlib.import_module("benchmark.eval_programs." + sys.argv[1])
    success, log_info = module.eval()
except BaseException:
    emit({"ok": False, "error": traceback.format_exc()[-${LOG_TAIL_CHARACTERS}:]})
else:
    emit({"ok": True, "success": rate_of(success), "log_info": log_of(log_info)})
`;

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, characters = LOG_TAIL_CHARACTERS): string {
  return lastCharacters(text, characters);
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
  success: number;
  logInfo: SabLogInfo;
} {
  const line = takeMarkedLine(run.stdout, marker).marked;
  if (line !== null) {
    try {
      const payload = JSON.parse(line) as { ok?: boolean; success?: unknown; log_info?: SabLogInfo; error?: string };
      if (payload.ok === true) return { success: successRateOf(payload.success), logInfo: payload.log_info === undefined ? "" : payload.log_info };
      return { success: 0, logInfo: `the eval script failed:\n${payload.error ?? ""}`.trimEnd() };
    } catch {
      // fall through: an unreadable result is a failed eval
    }
  }
  if (run.timedOut) return { success: 0, logInfo: `the eval script did not finish within ${evalTimeoutSeconds} s` };
  return { success: 0, logInfo: `the eval script ended without a result (exit code ${run.exitCode})\n${tail(run.stderr)}`.trimEnd() };
}
