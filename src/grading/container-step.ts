// The container steps every grader takes, in one place: put the step's files, run its command
// (with the batch's abort signal, so Ctrl-C stops it), read the result line that follows a marker,
// clip what the command printed for a log, and time it. The families' graders (mlab, sab, resq)
// say what to run and how to judge it; how a step is run is the same for all three.

import type { FileEntry } from "../sandbox/archive.js";
import type { ShellResult } from "../sandbox/protocol.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import { WORKSPACE } from "../sandbox/profile.js";

export interface ContainerStep {
  /** The shell command of the step. */
  command: string;
  /** Files put into the container before the command runs, relative to `filesInto`. */
  files?: FileEntry[];
  /** Where `files` go (the workspace by default). */
  filesInto?: string;
  cwd?: string;
  timeoutSeconds?: number;
  env?: Record<string, string>;
  /** Cap of each output stream, in bytes (the supervisor's default when absent). */
  outputLimitBytes?: number;
  /**
   * The text that starts the line carrying the step's result (a random marker, so nothing the
   * graded code prints can pose as it). The last such line counts.
   */
  marker?: string;
  /** Stops the step: a pending command or copy fails with the abort's reason. */
  signal?: AbortSignal;
}

export interface ContainerStepResult {
  /** The command's result as the supervisor reported it (exit code, output, timed out, oom...). */
  run: ShellResult;
  /** The text after the marker on the marked line; null without a marker or when none was printed. */
  marked: string | null;
  /** stdout without the marked line. */
  stdout: string;
  seconds: number;
}

/** Runs one grader step in a sandbox: files in, command, marked result, time taken. */
export async function runContainerStep(sandbox: Sandbox, step: ContainerStep): Promise<ContainerStepResult> {
  const elapsed = stopwatch();
  step.signal?.throwIfAborted();
  if (step.files !== undefined && step.files.length > 0) {
    await sandbox.putFiles(step.files, step.filesInto ?? WORKSPACE, step.signal);
  }
  const run = await sandbox.shell(step.command, {
    ...(step.cwd !== undefined ? { cwd: step.cwd } : {}),
    ...(step.timeoutSeconds !== undefined ? { timeoutSeconds: step.timeoutSeconds } : {}),
    ...(step.env !== undefined ? { env: step.env } : {}),
    ...(step.outputLimitBytes !== undefined ? { outputLimitBytes: step.outputLimitBytes } : {}),
    ...(step.signal !== undefined ? { signal: step.signal } : {}),
  });
  const { marked, stdout } = step.marker === undefined ? { marked: null, stdout: run.stdout } : takeMarkedLine(run.stdout, step.marker);
  return { run, marked, stdout, seconds: elapsed() };
}

/**
 * The text after `marker` on the last line that starts with it, and stdout without that line
 * (and without the newline the writer put before it); null and stdout unchanged when there is none.
 */
export function takeMarkedLine(stdout: string, marker: string): { marked: string | null; stdout: string } {
  let at = stdout.lastIndexOf(marker);
  while (at > 0 && stdout[at - 1] !== "\n") at = stdout.lastIndexOf(marker, at - 1);
  if (at < 0) return { marked: null, stdout };
  const end = stdout.indexOf("\n", at);
  const marked = stdout.slice(at + marker.length, end < 0 ? undefined : end);
  const before = stdout.slice(0, at).replace(/\n$/, "");
  return { marked, stdout: before + (end < 0 ? "" : stdout.slice(end + 1)) };
}

/** The last `lines` lines of an output, for a one-line reason. */
export function lastLines(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The last `characters` characters of an output, marked as cut when it was. */
export function lastCharacters(text: string, characters: number): string {
  return text.length > characters ? `...${text.slice(-characters)}` : text;
}

/** The head and the tail of an output within `limit` characters, saying how much was cut between. */
export function headAndTail(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n... [${text.length - 2 * half} characters cut] ...\n${text.slice(text.length - half)}`;
}

/** A clock started now: each call says the seconds since, to the millisecond. */
export function stopwatch(): () => number {
  const started = performance.now();
  return () => Math.round(performance.now() - started) / 1000;
}
