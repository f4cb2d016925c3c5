// Sharding a batch: `--shard i/n` takes every n-th item of the planned list, starting at the
// i-th, and works in a folder of its own under the run folder, so shards on different machines
// never write one SQLite file at once. A shard that finished leaves a marker; a shard without
// one died (or is still working) and can be started again: its own store skips what it finished.

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";

export const SHARD_MARKER_SCHEMA_VERSION = 1;

/** One shard of a batch: `index` counts from 1 (as `--shard 1/4` and Slurm's array ids do). */
export interface Shard {
  index: number;
  count: number;
}

/** Parses `--shard i/n` (1 <= i <= n). */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UserError("DYNABOX_USAGE", `--shard ${text}: give i/n with 1 <= i <= n, e.g. --shard 2/8 for the second of eight shards`);
  }
  return { index, count };
}

export function shardName(shard: Shard): string {
  return `${shard.index}-of-${shard.count}`;
}

/**
 * The items of one shard: positions index-1, index-1+count, ... of the planned list. Round robin
 * keeps shards even when similar tasks sit together in a dataset, and depends only on the plan,
 * so every shard (and the merge) computes the same split.
 */
export function selectShard<T>(items: readonly T[], shard: Shard): T[] {
  return items.filter((_, position) => position % shard.count === shard.index - 1);
}

/** Where every shard of a run keeps its folders. */
export function shardsDirectory(runDirectory: string): string {
  return path.join(runDirectory, "shards");
}

/** A shard's own run folder: its results.sqlite, trajectories, library and outputs. */
export function shardDirectory(runDirectory: string, shard: Shard): string {
  return path.join(shardsDirectory(runDirectory), shardName(shard));
}

const markerSchema = z.object({
  schema_version: z.number().int(),
  shard: z.object({ index: z.number().int(), count: z.number().int() }),
  items: z.number().int(),
  errors: z.number().int(),
  finished_at: z.string(),
});
export type ShardMarker = z.infer<typeof markerSchema>;

const MARKER_FILE = "shard-done.json";

/** Written by a shard when it went through all its items (some may have ended in errors). */
export function writeShardMarker(directory: string, shard: Shard, counts: { items: number; errors: number }): void {
  const marker: ShardMarker = { schema_version: SHARD_MARKER_SCHEMA_VERSION, shard, ...counts, finished_at: new Date().toISOString() };
  writeFileSync(path.join(directory, MARKER_FILE), JSON.stringify(marker, null, 2) + "\n");
}

/** The shard's marker, or undefined when it has not finished (or is of another split). */
export function readShardMarker(directory: string, shard: Shard): ShardMarker | undefined {
  const file = path.join(directory, MARKER_FILE);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined; // half written: the shard died while finishing
  }
  const parsed = markerSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const marker = parsed.data;
  return marker.shard.index === shard.index && marker.shard.count === shard.count ? marker : undefined;
}

/** Forgets that a shard finished, before it is started again (so a stale marker never counts). */
export function clearShardMarker(directory: string): void {
  rmSync(path.join(directory, MARKER_FILE), { force: true });
}

/** Every shard of a split of `count`. */
export function allShards(count: number): Shard[] {
  return Array.from({ length: count }, (_, position) => ({ index: position + 1, count }));
}
