// The Slurm commands dynabox uses, as plans (pure: the sbatch script and arguments) and a thin
// layer that runs them: sbatch to submit a job array, squeue and scontrol to follow it (sacct,
// where the cluster keeps accounting, for elements the controller has forgotten), scancel to
// stop it.

import { execa } from "execa";
import { EnvironmentError, UserError } from "../errors.js";

export interface SlurmSubmitOptions {
  /** Shards 1..count; `indices` says which of them this submission starts. */
  count: number;
  indices: readonly number[];
  /** The command each element runs; the literal `{SHARD}` becomes `$SLURM_ARRAY_TASK_ID/count`. */
  command: readonly string[];
  workingDirectory: string;
  /** Where each element's stdout and stderr go: `slurm-<job>_<index>.out`. */
  logDirectory: string;
  jobName: string;
  partition?: string;
  /** At most this many elements at once (sbatch --array=...%N). */
  arrayLimit?: number;
  /** Further sbatch options as the user wrote them, e.g. "--time=02:00:00 --gres=gpu:1". */
  extraOptions?: readonly string[];
  /** Variables for sbatch's environment, which the elements inherit (sbatch's default --export=ALL). */
  environment?: Readonly<Record<string, string>>;
}

/** The states squeue and scontrol report, in the groups dynabox acts on. */
export type ElementState = "queued" | "running" | "completed" | "failed";

/** `1-3,5,8-9`: Slurm's array ranges for a set of indices. */
export function arraySpecification(indices: readonly number[], limit?: number): string {
  const sorted = [...new Set(indices)].sort((left, right) => left - right);
  const ranges: string[] = [];
  let start = sorted[0]!;
  let previous = start;
  for (const index of [...sorted.slice(1), Number.NaN]) {
    if (index === previous + 1) {
      previous = index;
      continue;
    }
    ranges.push(start === previous ? String(start) : `${start}-${previous}`);
    start = index;
    previous = index;
  }
  return ranges.join(",") + (limit !== undefined ? `%${limit}` : "");
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The batch script every array element runs: the shard's command, with its shard number. */
export function batchScript(options: SlurmSubmitOptions): string {
  const words = options.command.map((word) => (word === "{SHARD}" ? `"\${SLURM_ARRAY_TASK_ID}/${options.count}"` : shellQuote(word)));
  return [
    "#!/bin/sh",
    "# Written by dynabox: one shard of a batch per array element.",
    `cd ${shellQuote(options.workingDirectory)} || exit 1`,
    `exec ${words.join(" ")}`,
    "",
  ].join("\n");
}

/** Splits --slurm-option values the way a shell would split simple words (quotes allowed). */
export function splitOptions(values: readonly string[]): string[] {
  const words: string[] = [];
  for (const value of values) {
    const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
    for (const match of value.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3]!);
  }
  for (const word of words) {
    if (/^--?(array|a|output|o|error|e|parsable|wrap|chdir|D|job-name|J)(=|$)/.test(word)) {
      throw new UserError("DYNABOX_USAGE", `--slurm-option ${word}: dynabox sets this sbatch option itself; leave it out`);
    }
  }
  return words;
}

/** The sbatch arguments (the script comes on stdin). */
export function sbatchArguments(options: SlurmSubmitOptions): string[] {
  return [
    "--parsable",
    `--job-name=${options.jobName}`,
    `--array=${arraySpecification(options.indices, options.arrayLimit)}`,
    `--output=${options.logDirectory}/slurm-%A_%a.out`,
    `--chdir=${options.workingDirectory}`,
    ...(options.partition ? [`--partition=${options.partition}`] : []),
    ...(options.extraOptions ?? []),
  ];
}

/** Reads squeue's or scontrol's state word into the groups dynabox acts on. */
export function classifyState(state: string): ElementState {
  const word = state.trim().toUpperCase().split(/[\s+]/)[0] ?? "";
  if (["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED", "RESIZING"].includes(word)) return "queued";
  if (["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"].includes(word)) return "running";
  if (word === "COMPLETED") return "completed";
  return "failed"; // FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE
}

async function slurmCommand(command: string, args: readonly string[], input?: string, environment?: Readonly<Record<string, string>>): Promise<string> {
  const result = await execa(command, args, { reject: false, ...(input !== undefined ? { input } : {}), ...(environment ? { env: environment } : {}), timeout: 60_000 });
  if (result.failed) {
    const missing = (result as { code?: string }).code === "ENOENT";
    throw new EnvironmentError(
      "DYNABOX_SCHEDULER_UNAVAILABLE",
      missing
        ? `${command} is not installed here: run --slurm on a machine that submits to your Slurm cluster (a login node), or install Slurm's client commands`
        : `${command} ${args.join(" ")} failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
      { retryable: !missing },
    );
  }
  return result.stdout;
}

/** Submits the array; returns the job id. */
export async function submitArray(options: SlurmSubmitOptions): Promise<string> {
  const output = await slurmCommand("sbatch", sbatchArguments(options), batchScript(options), options.environment);
  const jobId = output.trim().split(";")[0] ?? "";
  if (!/^\d+$/.test(jobId)) throw new EnvironmentError("DYNABOX_SCHEDULER_UNAVAILABLE", `sbatch answered "${output.trim()}", not a job id`);
  return jobId;
}

/**
 * The state of each element of a job array that Slurm still knows: squeue for the queued and
 * running ones, then scontrol for those that ended (while the controller keeps them, MinJobAge).
 * An element missing from the answer has ended and been forgotten. Throws when squeue itself
 * fails (the controller does not answer), so an outage is never taken for dead elements.
 */
export async function arrayStates(jobId: string): Promise<Map<number, { state: ElementState; word: string }>> {
  const states = new Map<number, { state: ElementState; word: string }>();
  // A job the controller has forgotten is "Invalid job id": an answer (nothing known), not an outage.
  const queue = await slurmCommand("squeue", ["--noheader", "--array", `--jobs=${jobId}`, "--format=%i %T", "--states=all"]).catch((error: unknown) => {
    if (error instanceof Error && /Invalid job id/i.test(error.message)) return "";
    throw error;
  });
  for (const line of queue.split("\n")) {
    const match = /^(\d+)_(\d+)\s+(\S+)/.exec(line.trim());
    if (match && match[1] === jobId) states.set(Number(match[2]), { state: classifyState(match[3]!), word: match[3]! });
  }
  const control = await slurmCommand("scontrol", ["--oneliner", "show", "job", jobId]).catch(() => "");
  for (const line of control.split("\n")) {
    const array = /ArrayJobId=(\d+)/.exec(line)?.[1];
    const task = /ArrayTaskId=(\d+)(\s|$)/.exec(line)?.[1];
    const word = /JobState=(\S+)/.exec(line)?.[1];
    if (array === jobId && task !== undefined && word !== undefined) {
      const known = states.get(Number(task));
      // scontrol is the more current of the two when an element has just ended.
      if (known === undefined || classifyState(word) === "completed" || classifyState(word) === "failed") {
        states.set(Number(task), { state: classifyState(word), word });
      }
    }
  }
  return states;
}

/**
 * How an element that squeue and scontrol no longer know ended, from the accounting database
 * (sacct); undefined where the cluster keeps no accounting.
 */
export async function accountedState(jobId: string, index: number): Promise<string | undefined> {
  const output = await slurmCommand("sacct", ["--noheader", "--parsable2", "--allocations", `--jobs=${jobId}_${index}`, "--format=State"]).catch(() => "");
  const word = output.trim().split("\n")[0]?.trim();
  return word ? word : undefined;
}

/** Cancels the whole array, or some elements of it. */
export async function cancelArray(jobId: string, indices?: readonly number[]): Promise<void> {
  const targets = indices === undefined ? [jobId] : indices.map((index) => `${jobId}_${index}`);
  await slurmCommand("scancel", targets).catch(() => undefined);
}
