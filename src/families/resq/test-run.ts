// One run of a RES-Q test script in the grader's container, judged by a process the test can not
// reach. The plan (command, payload, report parsing, judgement) is pure; `runResqTestScript` does it.
//
// How the verdict is made unforgeable (see sandbox/resq_launcher.py and docs/security.md):
//   - the command runs `python3 -I /opt/dynabox/resq_launcher.py` with the payload (script, file
//     name, probe line and a fresh report key) in a here-document: it arrives on the launcher's
//     stdin through a pipe and is never a file, an argument or an environment variable;
//   - the launcher (the observer) is non-dumpable and keeps the report key to itself. It starts the
//     test process, gives it the script through another pipe, keeps the only reading end of the
//     proof channel, and prints one report line tagged with the report key;
//   - PASS needs: that report, the test's exit status 0, the proof that the test's own exit line
//     was reached with exit_code 0, and nothing forged on the channel. What the test prints is
//     only feedback.

import { UserError } from "../../errors.js";
import type { ShellResult } from "../../sandbox/protocol.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { reviewPatch } from "./patch-review.js";
import { runContainerStep, takeMarkedLine } from "../../grading/container-step.js";
import { insertExitProbe, randomSecret, randomTestFileName, testFeedback } from "./test-script.js";

/** Where the image keeps the launcher (the Dockerfile copies sandbox/ to /opt/dynabox). */
export const RESQ_LAUNCHER_PATH = "/opt/dynabox/resq_launcher.py";
const REPORT_MARKER = "DYNABOX-RESQ-REPORT";
/** The launcher's audit hook ends the test process with this status when its channel is gone. */
const CHANNEL_LOST_STATUS = 112;
/** Linux caps one command-line argument (the command bash -c gets) at 128 KiB. */
const MAX_COMMAND_BYTES = 120 * 1024;

export type ResqRunMessage = "PASS" | "FAIL" | "TIMED OUT";

export interface LauncherPayload {
  report_key: string;
  script: string;
  file_name: string;
  probe_line: number;
}

/** What the observer saw. */
export interface LauncherReport {
  exitCode: number | null;
  /** The probe at the test's exit line fired, from that line, with exit_code 0 or None. */
  reached: boolean;
  /** Introspection and shadowing the audit hook saw: for review, the verdict stands. */
  flags: string[];
  /** Proof of forgery on the channel (bytes without the token, the probe raised elsewhere...). */
  forged: string[];
}

export interface ResqTestRun {
  message: ResqRunMessage;
  /** The test's stdout without the report line. */
  stdout: string;
  stderr: string;
  /** null when the observer's report is missing (killed, timed out, output lost). */
  report: LauncherReport | null;
  shell: ShellResult;
  fileName: string;
  /** The probe's line; 0 when the script has no exit line upstream would print its secret at. */
  probeLine: number;
}

export function makeLauncherPayload(testScript: string): LauncherPayload {
  const { script, probeLine } = insertExitProbe(testScript);
  return { report_key: randomSecret(), script, file_name: randomTestFileName(), probe_line: probeLine };
}

/**
 * The shell command: the launcher reads the payload (one line of JSON) from a here-document.
 * JSON escapes every newline, so the random terminator can not appear inside it.
 */
export function launcherCommand(payload: LauncherPayload, taskId = "?"): string {
  const terminator = `DYNABOX_PAYLOAD_END_${randomSecret()}`;
  const command = `exec python3 -I ${RESQ_LAUNCHER_PATH} <<'${terminator}'\n${JSON.stringify(payload)}\n${terminator}\n`;
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
    throw new UserError(
      "DYNABOX_TASK_INVALID",
      `task ${taskId}: its test_script is too large for dynabox's RES-Q test launcher (${Buffer.byteLength(payload.script)} bytes as JSON-escaped ` +
        `text must stay under ${MAX_COMMAND_BYTES - 1024}; the script is handed over in one command line, never as a file). ` +
        "Fix: shorten the test script, e.g. move large test data into the repository",
    );
  }
  return command;
}

/** Finds the observer's report (only a line carrying this run's report key counts) and removes it from stdout. */
export function parseLauncherReport(stdout: string, reportKey: string): { report: LauncherReport | null; stdout: string } {
  return readLauncherReport(takeMarkedLine(stdout, reportMarker(reportKey)));
}

/** The marker of the observer's report line: only this run's report key makes it. */
function reportMarker(reportKey: string): string {
  return `${REPORT_MARKER} ${reportKey} `;
}

function readLauncherReport({ marked: json, stdout: cleaned }: { marked: string | null; stdout: string }): { report: LauncherReport | null; stdout: string } {
  if (json === null) return { report: null, stdout: cleaned };
  try {
    const raw = JSON.parse(json) as Record<string, unknown>;
    const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []);
    return {
      report: {
        exitCode: typeof raw["exit_code"] === "number" ? raw["exit_code"] : null,
        reached: raw["reached"] === true,
        flags: strings(raw["flags"]),
        forged: strings(raw["forged"]),
      },
      stdout: cleaned,
    };
  } catch {
    return { report: null, stdout: cleaned };
  }
}

/** PASS only with the observer's report: exit status 0, the proof, nothing forged. */
export function judgeLauncherRun(run: Pick<ShellResult, "exitCode" | "timedOut">, report: LauncherReport | null): ResqRunMessage {
  if (run.timedOut) return "TIMED OUT";
  if (report === null || report.forged.length > 0) return "FAIL";
  return run.exitCode === 0 && report.exitCode === 0 && report.reached ? "PASS" : "FAIL";
}

/** Runs the test script through the launcher in `cwd` (the repository root) and judges it. */
export async function runResqTestScript(
  sandbox: Sandbox,
  testScript: string,
  options: { cwd: string; timeoutSeconds: number; outputLimitBytes: number; taskId?: string; signal?: AbortSignal },
): Promise<ResqTestRun> {
  const payload = makeLauncherPayload(testScript);
  const step = await runContainerStep(sandbox, {
    command: launcherCommand(payload, options.taskId),
    cwd: options.cwd,
    timeoutSeconds: options.timeoutSeconds,
    outputLimitBytes: options.outputLimitBytes,
    marker: reportMarker(payload.report_key),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const shell = step.run;
  const { report, stdout } = readLauncherReport(step);
  return { message: judgeLauncherRun(shell, report), stdout, stderr: shell.stderr, report, shell, fileName: payload.file_name, probeLine: payload.probe_line };
}

/** test_suite_feedback: the test's output, then what dynabox has to add about the run. */
export function resqRunFeedback(test: ResqTestRun, timeoutSeconds: number, limit: number): string {
  let feedback = testFeedback(test.stdout, test.stderr, { limit });
  if (test.shell.startError) feedback = `the test could not start: ${test.shell.startError}\n${feedback}`;
  const notes: string[] = [];
  if (test.message === "TIMED OUT") notes.push(`the test ran past its timeout of ${timeoutSeconds} s and was stopped`);
  else if (test.shell.oom) notes.push("the test ran out of memory");
  else if (test.report === null) notes.push("the grader's observer gave no report (it was killed, or the output was lost), so the run does not count");
  else if (test.report.forged.length > 0) notes.push(`the run forged the grader's proof: ${test.report.forged.join("; ")}`);
  else if (test.report.exitCode === 0 && test.probeLine === 0) {
    notes.push("the test script has no line with sys.exit(0) or sys.exit(exit_code), where upstream prints its secret, so, as upstream, no run of it can pass");
  } else if (test.report.exitCode === 0 && !test.report.reached) notes.push("the test exited with status 0 without reaching its own exit line");
  else if (test.report.exitCode === CHANNEL_LOST_STATUS && !test.report.reached) {
    notes.push(`the test process ended with status ${CHANNEL_LOST_STATUS}: the grader's channel was closed or replaced (file descriptors the test did not open must stay open)`);
  }
  return notes.reduce((text, note) => `${text}\n[${note}]`, feedback);
}

/** Review flags: from the patch's text, then from the run (introspection, shadowing, forgery). */
export function resqReviewFlags(patch: string, report: LauncherReport | null): string[] {
  return [...reviewPatch(patch), ...(report?.flags ?? []), ...(report?.forged ?? []).map((forged) => `forged: ${forged}`)];
}
