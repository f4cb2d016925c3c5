// The RES-Q test script as the grader runs it. Upstream inserts a print of a random secret just
// before the script's first `sys.exit(0)` / `sys.exit(exit_code)` line, so that a run counts as a
// pass only when it reached that line (exit code 0 alone could come from an early `sys.exit(0)`
// planted by the patch). dynabox inserts, at the same place, a probe that raises the audit event
// `dynabox.resq.exit-reached`; the launcher's audit hook (sandbox/resq_launcher.py) turns it into
// a proof on a channel the test can not forge, and only when it comes from that very line. No
// secret is in the script, so reading the script gives the patch nothing. Pure functions: tested
// without Docker.
//
// One deliberate hardening over upstream is kept: before `sys.exit(exit_code)` the probe is
// guarded by `if exit_code is None or exit_code == 0:`. Upstream prints the secret whatever
// exit_code is, so a patch that forces the process's exit status to 0 (an atexit hook calling
// os._exit(0), or a replaced sys.exit) turned a failing run into a pass. For honest runs the
// verdict is the same: a run with a non-zero exit_code fails on its exit status anyway.

import { randomBytes, randomUUID } from "node:crypto";
import { headAndTail } from "../../grading/container-step.js";

/** A line that ends the script successfully, as upstream looks for it (spaces inside allowed). */
const EXIT_LINE = /\bsys\.exit\(\s*(0|exit_code)\s*\)/;

/** The audit event the probe raises; sandbox/resq_launcher.py listens for the same name. */
export const EXIT_REACHED_EVENT = "dynabox.resq.exit-reached";

/** The probe statement. `__import__` so that it works whatever the script named its imports. */
export const EXIT_PROBE = `__import__("sys").audit("${EXIT_REACHED_EVENT}")`;

/** 32 hex digits from a cryptographic source: unguessable, and safe inside a Python string. */
export function randomSecret(): string {
  return randomBytes(16).toString("hex");
}

/** The test's file name, fresh each time and shaped like upstream's (`<uuid4>.py`). */
export function randomTestFileName(): string {
  return `${randomUUID()}.py`;
}

export interface ProbeInsertion {
  script: string;
  /** 1-based line number of the inserted probe (the launcher checks the event comes from it); 0: none. */
  probeLine: number;
  /** Whether the script had an exit line; without one no probe is inserted (see insertExitProbe). */
  beforeExitLine: boolean;
}

/**
 * Upstream's own test (resq/testbeds/utils.py insert_secret): the first line, comment or not,
 * that holds the text `sys.exit(0)` or `sys.exit(exit_code)`; -1 when none does.
 */
export function upstreamSecretLine(script: string): number {
  return script.split("\n").findIndex((line) => line.includes("sys.exit(0)") || line.includes("sys.exit(exit_code)"));
}

/**
 * Inserts `statement` with the same indentation just before the first line that calls
 * `sys.exit(0)` or `sys.exit(exit_code)` (comment lines are skipped); before `sys.exit(exit_code)`
 * it is guarded by `if exit_code is None or exit_code == 0:` on the same line. With no such line
 * it is appended at the end, at top level. Line endings (LF or CRLF) are kept.
 */
export function insertAtExit(script: string, statement: string): ProbeInsertion {
  const newline = script.includes("\r\n") ? "\r\n" : "\n";
  const lines = script.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? "";
    const trimmed = line.trimStart();
    const match = EXIT_LINE.exec(line);
    if (trimmed.startsWith("#") || match === null) continue;
    const indent = line.slice(0, line.length - trimmed.length);
    const guard = match[1] === "exit_code" ? "if exit_code is None or exit_code == 0: " : "";
    lines.splice(index, 0, `${indent}${guard}${statement}`);
    return { script: lines.join(newline), probeLine: index + 1, beforeExitLine: true };
  }
  // No exit line: the statement runs when the script falls off its end.
  const body = script === "" || script.endsWith("\n") ? script : script + newline;
  const probeLine = body === "" ? 1 : body.split(/\r?\n/).length;
  return { script: body + statement + newline, probeLine, beforeExitLine: false };
}

/**
 * The script with the exit probe in place (see EXIT_PROBE), so that it passes exactly when
 * upstream's would print its secret:
 * - upstream finds no line (insert_secret then inserts nothing, and the run can never pass):
 *   no probe either, the script unchanged;
 * - otherwise the probe goes before the first code line that exits (insertAtExit, the hardened
 *   place), or, when only a comment names the exit (upstream inserts its print there), before
 *   that comment, unguarded, as upstream's print.
 */
export function insertExitProbe(script: string): ProbeInsertion {
  const upstreamLine = upstreamSecretLine(script);
  if (upstreamLine < 0) return { script, probeLine: 0, beforeExitLine: false };
  const hardened = insertAtExit(script, EXIT_PROBE);
  if (hardened.beforeExitLine) return hardened;
  const lines = script.split("\n");
  const line = lines[upstreamLine]!;
  const indent = line.slice(0, line.length - line.trimStart().length);
  lines.splice(upstreamLine, 0, `${indent}${EXIT_PROBE}${line.endsWith("\r") ? "\r" : ""}`);
  return { script: lines.join("\n"), probeLine: upstreamLine + 1, beforeExitLine: true };
}

/**
 * The test's output for the upstream `test_suite_feedback`: stdout then stderr, the secret removed
 * (when one is given: it means nothing to a reader and should not leak into logs), head and tail kept within `limit`.
 */
export function testFeedback(stdout: string, stderr: string, options: { secret?: string; limit?: number } = {}): string {
  const limit = options.limit ?? 16 * 1024;
  const joined = [stdout, stderr].filter((part) => part !== "").join(stdout.endsWith("\n") || stdout === "" ? "" : "\n");
  const text = options.secret ? joined.split(options.secret).join("<secret>") : joined;
  return headAndTail(text, limit);
}
