// The flags `run`, `eval` and `validate` share for splitting a batch: `--shard i/n` (any
// scheduler, or by hand) and `--slurm` (one job array, followed and merged by this command).

import { rmSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../errors.js";
import type { GradingContext } from "../grading/context.js";
import { mergeShards, seedShardStores, type MergeReport } from "../runs/merge.js";
import { allShards, parseShard, shardDirectory, shardsDirectory, type Shard } from "../runs/shards.js";
import { runShardsOnSlurm, type SlurmBatchReport } from "../runs/shards-slurm.js";
import { splitOptions } from "../runs/slurm.js";
import { connectDocker } from "../sandbox/docker.js";
import { sandboxImageTag } from "../sandbox/image.js";
import { cacheDirectory } from "./shared.js";

/** Slurm's default MaxArraySize is 1001: indices 0..1000. */
const MAX_ARRAY_ELEMENTS = 1000;

const shardingSchema = z.object({
  shard: z.string().optional(),
  slurm: z.boolean().default(false),
  slurmPartition: z.string().min(1).optional(),
  slurmArrayLimit: z.coerce.number().int().min(1).optional(),
  slurmOption: z.array(z.string()).default([]),
  slurmShards: z.coerce.number().int().min(1).max(MAX_ARRAY_ELEMENTS).optional(),
  slurmRetries: z.coerce.number().int().min(0).default(2),
});

export interface ShardingFlags {
  shard?: Shard;
  slurm?: {
    partition?: string;
    arrayLimit?: number;
    options: string[];
    shards?: number;
    retries: number;
  };
}

export function addShardingOptions(command: Command): Command {
  return command
    .option("--shard <i/n>", "work only on shard i of n (every n-th item, from the i-th), in <run-dir>/shards/i-of-n; merge with --slurm or by hand")
    .option("--slurm", "submit the batch as one Slurm job array (sbatch), follow it, and merge the shards into the run folder")
    .option("--slurm-partition <name>", "with --slurm: the partition to submit to")
    .option("--slurm-array-limit <n>", "with --slurm: at most n array elements at once")
    .option("--slurm-option <options>", "with --slurm: further sbatch options, e.g. \"--time=02:00:00 --mem=8G\" (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--slurm-shards <n>", "with --slurm: how many shards (array elements); default one per task, at most 1000")
    .option("--slurm-retries <n>", "with --slurm: submit a shard again at most n times when its job dies (node lost, time limit)", "2");
}

export function parseShardingFlags(raw: unknown): ShardingFlags {
  const flags = shardingSchema.parse(raw);
  const usesSlurmOptions = flags.slurmPartition !== undefined || flags.slurmArrayLimit !== undefined || flags.slurmOption.length > 0 || flags.slurmShards !== undefined;
  if (!flags.slurm && usesSlurmOptions) throw new UserError("DYNABOX_USAGE", "--slurm-partition, --slurm-array-limit, --slurm-option and --slurm-shards go with --slurm");
  if (flags.slurm && flags.shard !== undefined) {
    throw new UserError("DYNABOX_USAGE", "--slurm splits the batch itself: leave out --shard (the array elements get it)");
  }
  return {
    ...(flags.shard !== undefined ? { shard: parseShard(flags.shard) } : {}),
    ...(flags.slurm
      ? {
          slurm: {
            ...(flags.slurmPartition ? { partition: flags.slurmPartition } : {}),
            ...(flags.slurmArrayLimit ? { arrayLimit: flags.slurmArrayLimit } : {}),
            options: splitOptions(flags.slurmOption),
            ...(flags.slurmShards ? { shards: flags.slurmShards } : {}),
            retries: flags.slurmRetries,
          },
        }
      : {}),
  };
}

/** Options of the submitting command that the array elements must not get, and whether they take a value. */
const SUBMITTER_ONLY: Record<string, boolean> = {
  "--slurm": false,
  "--slurm-partition": true,
  "--slurm-array-limit": true,
  "--slurm-option": true,
  "--slurm-shards": true,
  "--slurm-retries": true,
  "--shard": true,
  "--run-dir": true,
  // A resubmitted shard must skip what it finished: --force is done once, by the submitter.
  "--force": false,
};

/**
 * Options whose value is a secret: an element gets it through its environment instead, never on
 * its command line (which Slurm keeps in its job script and every user of a node sees in `ps`).
 */
const SECRET_OPTIONS: Record<string, string> = { "--api-key": "OPENAI_API_KEY" };

export interface ShardCommand {
  command: string[];
  environment: Record<string, string>;
}

/**
 * The command line of one array element: this CLI with the user's arguments, less the
 * submitter's own options and secrets, plus the run folder (absolute) and `--shard {SHARD}`.
 */
export function shardCommandLine(argv: readonly string[], runDirectory: string): ShardCommand {
  const [node, script, ...rest] = argv;
  const kept: string[] = [];
  const environment: Record<string, string> = {};
  for (let position = 0; position < rest.length; position++) {
    const word = rest[position]!;
    const name = word.includes("=") ? word.slice(0, word.indexOf("=")) : word;
    const secret = SECRET_OPTIONS[name];
    if (secret !== undefined) {
      const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : rest[++position];
      if (value !== undefined) environment[secret] = value;
      continue;
    }
    if (name in SUBMITTER_ONLY) {
      if (SUBMITTER_ONLY[name] && !word.includes("=")) position++;
      continue;
    }
    kept.push(word);
  }
  return { command: [node!, path.resolve(script!), ...kept, "--run-dir", path.resolve(runDirectory), "--shard", "{SHARD}"], environment };
}

export interface SlurmOutcome {
  count: number;
  batch: SlurmBatchReport;
  merge: MergeReport;
  shardFolders: string[];
}

/**
 * Submits the batch of `items` as a job array, follows it to the end and merges every shard
 * that finished into `runDirectory`. Progress lines go to stderr.
 */
export async function runBatchOnSlurm(options: {
  runDirectory: string;
  items: number;
  slurm: NonNullable<ShardingFlags["slurm"]>;
  force: boolean;
  jobName: string;
  signal: AbortSignal;
}): Promise<SlurmOutcome> {
  if (options.items === 0) throw new UserError("DYNABOX_USAGE", "--slurm: there is nothing to submit (no tasks)");
  const count = Math.min(options.slurm.shards ?? options.items, options.items, MAX_ARRAY_ELEMENTS);
  // --force starts over; otherwise what an earlier split of the batch finished is not done again.
  if (options.force) rmSync(shardsDirectory(options.runDirectory), { recursive: true, force: true });
  else seedShardStores(options.runDirectory, allShards(count));
  const poll = Number(process.env.DYNABOX_SLURM_POLL_SECONDS ?? "10");
  const { command, environment } = shardCommandLine(process.argv, options.runDirectory);
  const batch = await runShardsOnSlurm({
    runDirectory: path.resolve(options.runDirectory),
    count,
    command,
    environment,
    workingDirectory: process.cwd(),
    jobName: options.jobName,
    ...(options.slurm.partition ? { partition: options.slurm.partition } : {}),
    ...(options.slurm.arrayLimit ? { arrayLimit: options.slurm.arrayLimit } : {}),
    extraOptions: options.slurm.options,
    retries: options.slurm.retries,
    pollSeconds: Number.isFinite(poll) && poll > 0 ? poll : 10,
    signal: options.signal,
    // On stderr even with --json: stdout keeps only the result lines.
    onProgress: (message) => process.stderr.write(`[slurm] ${message}\n`),
  });
  const shards = allShards(count);
  const merge = mergeShards(options.runDirectory, shards);
  process.stderr.write(`[slurm] merged ${merge.rows} result row(s) from ${merge.shardsMerged} shard(s) into ${options.runDirectory}\n`);
  for (const { shard, reason } of batch.failed) {
    process.stderr.write(`dynabox: shard ${shard.index}/${shard.count} failed on the cluster (${reason}); its finished items are merged, the rest have no result: run the same command again to retry only them\n`);
  }
  return { count, batch, merge, shardFolders: shards.map((shard) => shardDirectory(options.runDirectory, shard)) };
}

/**
 * A grading context for the submitting command after the merge: every result it reports comes
 * from the merged store, so it needs no engine (a login node may have none) and grades nothing.
 */
export function mergedRunContext(signal: AbortSignal): GradingContext {
  return { docker: connectDocker(), sandboxImage: sandboxImageTag(), cacheDirectory: cacheDirectory(), signal };
}
