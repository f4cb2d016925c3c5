// The RES-Q test script as the grader runs it: a print of a random secret goes in just before the
// script's first `sys.exit(0)` / `sys.exit(exit_code)` line, so that a run counts as a pass only
// when it reached that line (exit code 0 alone could come from an early `sys.exit(0)` planted by
// the patch). Pure functions: tested without Docker.
//
// One deliberate hardening over upstream: before `sys.exit(exit_code)` the print is guarded by
// `if exit_code is None or exit_code == 0:`. Upstream prints the secret whatever exit_code is, so a
// patch that forces the process's exit status to 0 (an atexit hook calling os._exit(0), or a
// replaced sys.exit) turned a failing run into a pass. For honest runs the verdict is the same:
// a run with a non-zero exit_code fails on its exit status anyway.

import { randomBytes } from "node:crypto";

/** A line that ends the script successfully, as upstream looks for it (spaces inside allowed). */
const EXIT_LINE = /\bsys\.exit\(\s*(0|exit_code)\s*\)/;

/** 32 hex digits from a cryptographic source: unguessable, and safe inside a Python string. */
export function randomSecret(): string {
  return randomBytes(16).toString("hex");
}

/** A fresh file name for the test script in the repository root, so a patch can not plant it. */
export function randomTestFileName(): string {
  return `test_dynabox_${randomBytes(12).toString("hex")}.py`;
}

export interface SecretInsertion {
  script: string;
  /** 0-based line index of the inserted print, or null when it was appended at the end. */
  insertedAtLine: number | null;
}

/**
 * Inserts `print("<secret>", flush=True)` with the same indentation just before the first line that
 * calls `sys.exit(0)` or `sys.exit(exit_code)` (comment lines are skipped); before
 * `sys.exit(exit_code)` it is guarded by `if exit_code is None or exit_code == 0:` on the same line.
 * With no such line the print is appended at the end, at top level. Line endings (LF or CRLF) are kept.
 */
export function insertSecretPrint(script: string, secret: string): SecretInsertion {
  if (!/^[A-Za-z0-9_-]+$/.test(secret)) throw new RangeError("the secret must be letters, digits, - or _");
  const newline = script.includes("\r\n") ? "\r\n" : "\n";
  const lines = script.split(/\r?\n/);
  const printOf = (indent: string) => `${indent}print("${secret}", flush=True)`;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? "";
    const trimmed = line.trimStart();
    const match = EXIT_LINE.exec(line);
    if (trimmed.startsWith("#") || match === null) continue;
    const indent = line.slice(0, line.length - trimmed.length);
    const guard = match[1] === "exit_code" ? "if exit_code is None or exit_code == 0: " : "";
    lines.splice(index, 0, printOf(indent + guard));
    return { script: lines.join(newline), insertedAtLine: index };
  }
  // No exit line: the print runs when the script falls off its end.
  const body = script === "" || script.endsWith("\n") ? script : script + newline;
  return { script: body + printOf("") + newline, insertedAtLine: null };
}

/** Whether a run passed by upstream's rule: exit code 0 and the secret on stdout. */
export function testRunPassed(exitCode: number | null, stdout: string, secret: string): boolean {
  return exitCode === 0 && stdout.includes(secret);
}

/**
 * The test's output for the upstream `test_suite_feedback`: stdout then stderr, the secret removed
 * (it means nothing to a reader and should not leak into logs), head and tail kept within `limit`.
 */
export function testFeedback(stdout: string, stderr: string, options: { secret?: string; limit?: number } = {}): string {
  const limit = options.limit ?? 16 * 1024;
  const joined = [stdout, stderr].filter((part) => part !== "").join(stdout.endsWith("\n") || stdout === "" ? "" : "\n");
  const text = options.secret ? joined.split(options.secret).join("<secret>") : joined;
  if (text.length <= limit) return text;
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n... [${text.length - 2 * half} characters cut] ...\n${text.slice(text.length - half)}`;
}
