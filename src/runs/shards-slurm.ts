// A batch as one Slurm job array: each element runs one shard (`--shard i/n`) on its node's
// engine, in its own folder. The submitting command follows the elements, takes a shard that
// ended without finishing (node lost, time limit, cancelled) as an infrastructure failure and
// submits it again, a bounded number of times; a shard that finished is never run again.

import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { allShards, clearShardMarker, readShardMarker, shardDirectory, shardsDirectory, type Shard } from "./shards.js";
import { accountedState, arrayStates, cancelArray, submitArray, type ElementState } from "./slurm.js";

export interface SlurmBatchOptions {
  runDirectory: string;
  /** How many shards the batch is split into (array elements 1..count). */
  count: number;
  /** The command of one shard; `{SHARD}` becomes `i/count`. */
  command: readonly string[];
  workingDirectory: string;
  jobName: string;
  partition?: string;
  arrayLimit?: number;
  extraOptions?: readonly string[];
  /** Variables the elements get through sbatch's environment (secrets never go on a command line). */
  environment?: Readonly<Record<string, string>>;
  /** Submissions of a shard after its first; a shard dead more often than this is given up. */
  retries: number;
  pollSeconds: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface SlurmBatchReport {
  jobIds: string[];
  finished: Shard[];
  /** Shards given up after their last submission died, with the last state Slurm reported. */
  failed: Array<{ shard: Shard; reason: string }>;
  /** Shard index -> how many times it was submitted. */
  submissions: Record<number, number>;
}

/** Polls in a row without an answer from Slurm before the command gives up (and cancels its jobs). */
const MAX_UNANSWERED_POLLS = 30;

type Tracked = { jobId: string; state: ElementState | "unknown"; word: string; missingPolls: number };

export async function runShardsOnSlurm(options: SlurmBatchOptions): Promise<SlurmBatchReport> {
  const progress = options.onProgress ?? (() => undefined);
  const shards = allShards(options.count);
  const finished = new Map<number, Shard>();
  let withErrors = 0;
  for (const shard of shards) {
    const marker = readShardMarker(shardDirectory(options.runDirectory, shard), shard);
    // A shard whose items ended in errors goes again: it resumes, and retries only those items.
    if (marker !== undefined && marker.errors === 0) finished.set(shard.index, shard);
    else if (marker !== undefined) withErrors++;
  }
  if (finished.size > 0) progress(`${finished.size} of ${options.count} shard(s) finished before: not submitted again`);
  if (withErrors > 0) progress(`${withErrors} shard(s) finished before with items in error: submitted again for those items`);
  const report: SlurmBatchReport = { jobIds: [], finished: [], failed: [], submissions: {} };
  const active = new Map<number, Tracked>();
  mkdirSync(shardsDirectory(options.runDirectory), { recursive: true });

  const submit = async (indices: number[]): Promise<void> => {
    for (const index of indices) clearShardMarker(shardDirectory(options.runDirectory, { index, count: options.count }));
    const jobId = await submitArray({
      count: options.count,
      indices,
      command: options.command,
      workingDirectory: options.workingDirectory,
      logDirectory: shardsDirectory(options.runDirectory),
      jobName: options.jobName,
      ...(options.partition ? { partition: options.partition } : {}),
      ...(options.arrayLimit ? { arrayLimit: options.arrayLimit } : {}),
      ...(options.extraOptions ? { extraOptions: options.extraOptions } : {}),
      ...(options.environment ? { environment: options.environment } : {}),
    });
    report.jobIds.push(jobId);
    for (const index of indices) {
      report.submissions[index] = (report.submissions[index] ?? 0) + 1;
      active.set(index, { jobId, state: "unknown", word: "SUBMITTED", missingPolls: 0 });
    }
    progress(`submitted job array ${jobId} with shard(s) ${indices.join(", ")} of ${options.count}`);
  };

  let unanswered = 0;
  const pending = shards.filter((shard) => !finished.has(shard.index)).map((shard) => shard.index);
  try {
    if (pending.length > 0) await submit(pending);
    while (active.size > 0) {
      await sleep(options.pollSeconds * 1000, undefined, options.signal ? { signal: options.signal } : undefined);
      const byJob = new Map<string, Awaited<ReturnType<typeof arrayStates>>>();
      try {
        for (const jobId of new Set([...active.values()].map((tracked) => tracked.jobId))) byJob.set(jobId, await arrayStates(jobId));
        unanswered = 0;
      } catch (error) {
        // A controller restarting or overloaded: ask again, for a while, before giving up.
        if (++unanswered > MAX_UNANSWERED_POLLS) throw error;
        progress(`Slurm did not answer (${error instanceof Error ? error.message : String(error)}); asking again`);
        continue;
      }
      const dead: Array<{ index: number; reason: string }> = [];
      for (const [index, tracked] of active) {
        const shard: Shard = { index, count: options.count };
        const now = byJob.get(tracked.jobId)?.get(index);
        // The marker is read after the states: a shard that finished between the two reads counts as finished.
        if (readShardMarker(shardDirectory(options.runDirectory, shard), shard)) {
          active.delete(index);
          finished.set(index, shard);
          progress(`shard ${index}/${options.count}: done (job ${tracked.jobId}_${index})`);
          continue;
        }
        if (now === undefined) {
          // Forgotten by the controller without finishing; give a fresh submission a poll to show up.
          if (++tracked.missingPolls >= 2) {
            const accounted = await accountedState(tracked.jobId, index);
            dead.push({ index, reason: `job ${tracked.jobId}_${index} ${accounted ? `ended ${accounted}` : "is gone from the queue"} without finishing its shard` });
          }
          continue;
        }
        tracked.missingPolls = 0;
        if (now.state === "completed" || now.state === "failed") {
          dead.push({ index, reason: `job ${tracked.jobId}_${index} ended ${now.word} without finishing its shard` });
          continue;
        }
        if (now.state !== tracked.state) progress(`shard ${index}/${options.count}: ${now.state} (job ${tracked.jobId}_${index})`);
        tracked.state = now.state;
        tracked.word = now.word;
      }
      const again: number[] = [];
      for (const { index, reason } of dead) {
        active.delete(index);
        const submitted = report.submissions[index] ?? 1;
        if (submitted <= options.retries) {
          progress(`shard ${index}/${options.count}: infrastructure failure, ${reason}; submitting it again (${submitted} of ${options.retries} retries)`);
          again.push(index);
        } else {
          progress(`shard ${index}/${options.count}: infrastructure failure, ${reason}; given up after ${submitted} submission(s)`);
          report.failed.push({ shard: { index, count: options.count }, reason });
        }
      }
      if (again.length > 0) await submit(again);
    }
  } catch (error) {
    // Ctrl-C or a scheduler that stopped answering: leave no element of ours running.
    for (const jobId of new Set([...active.values()].map((tracked) => tracked.jobId))) await cancelArray(jobId);
    throw error;
  }
  report.finished = [...finished.values()].sort((left, right) => left.index - right.index);
  return report;
}
