// Action libraries of shards: each shard of `run` works on its own copy of the user's library
// (a shared SQLite file over a cluster's filesystem is not safe to write from many nodes). The
// merge replays what the shards promoted into the user's library through the library's own
// promotion, so an action identical (normalized-source hash) to the latest version of its name
// merges into it and anything else becomes a new version, exactly as in an unsharded run.

import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ActionStore } from "../actions/store.js";
import type { StoredAction } from "../actions/types.js";

const SEED_FILE = "library-seed.json";

/** The shard's library file inside its folder. */
export function shardLibraryPath(shardFolder: string): string {
  return path.join(shardFolder, "library.sqlite");
}

/** Where the submitting command leaves its copy of the user's library for the shards. */
export function librarySeedPath(runDirectory: string): string {
  return path.join(runDirectory, "library-seed.sqlite");
}

/**
 * The submitting command copies the user's library once, before any shard starts, so that
 * shards on many nodes never open the user's file (not even to read: SQLite's locks are not
 * to be trusted over a cluster's filesystem) and all start from the same actions.
 */
export function prepareLibrarySeed(userLibrary: string, runDirectory: string): string {
  const seed = librarySeedPath(runDirectory);
  rmSync(seed, { force: true });
  mkdirSync(runDirectory, { recursive: true });
  if (!existsSync(userLibrary)) {
    ActionStore.open(seed).close();
    return seed;
  }
  copyDatabase(userLibrary, seed);
  return seed;
}

/** A consistent single-file copy of a live SQLite database (its WAL included), reading only. */
function copyDatabase(source: string, target: string): void {
  const database = new Database(source, { readonly: true, fileMustExist: true });
  try {
    database.pragma("busy_timeout = 10000");
    database.prepare("VACUUM INTO ?").run(target);
  } finally {
    database.close();
  }
}

/**
 * Makes the shard's library a copy of the seed the submitting command left (or, for a shard
 * started by hand, of the user's library, read only), once: a restarted shard keeps what it
 * learned. A note beside it says it was seeded.
 */
export function seedShardLibrary(userLibrary: string, shardFolder: string, seed?: string): string {
  const target = shardLibraryPath(shardFolder);
  if (existsSync(target) && existsSync(path.join(shardFolder, SEED_FILE))) return target;
  mkdirSync(shardFolder, { recursive: true });
  rmSync(target, { force: true });
  if (seed !== undefined && existsSync(seed)) copyFileSync(seed, target);
  else if (existsSync(userLibrary)) copyDatabase(userLibrary, target);
  using copy = ActionStore.open(target);
  const highest = Math.max(0, ...copy.list({ all: true }).map((action) => action.id));
  writeFileSync(path.join(shardFolder, SEED_FILE), JSON.stringify({ highest_action_id: highest, seeded_from: seed !== undefined && existsSync(seed) ? seed : userLibrary }) + "\n");
  return target;
}

export interface LibraryMergeReport {
  /** New versions added to the user's library. */
  promoted: string[];
  /** Actions a shard promoted that were identical to the latest version of their name. */
  merged: string[];
}

/**
 * Replays every promotion the shards made that the user's library has not seen, in the order
 * they were recorded: each (action, origin task) becomes a candidate of that task and is promoted,
 * so it merges into an identical latest version or becomes a new version. Use counts a shard
 * added to an action are not carried over (they are statistics of that shard's copy).
 */
export function mergeShardLibraries(userLibrary: ActionStore, shardFolders: readonly string[]): LibraryMergeReport {
  const learned: Array<{ action: StoredAction; runId: string; taskId: string; step: number; recordedAt: string }> = [];
  for (const folder of shardFolders) {
    const file = shardLibraryPath(folder);
    if (!existsSync(file) || !existsSync(path.join(folder, SEED_FILE))) continue;
    using shardLibrary = ActionStore.open(file);
    for (const action of shardLibrary.list({ all: true })) {
      if (action.version === null) continue; // a candidate: its task never passed
      for (const origin of shardLibrary.origins(action.id)) learned.push({ action, ...origin });
    }
  }
  learned.sort((left, right) => left.recordedAt.localeCompare(right.recordedAt) || left.action.id - right.action.id);
  const report: LibraryMergeReport = { promoted: [], merged: [] };
  for (const { action, runId, taskId, step } of learned) {
    // Known already: seeded from the user's library, or merged before (a merge run twice adds nothing).
    const known = userLibrary
      .versions(action.name)
      .some((version) => version.normalHash === action.normalHash && userLibrary.origins(version.id).some((origin) => origin.runId === runId && origin.taskId === taskId));
    if (known) continue;
    userLibrary.recordCandidates(runId, [
      {
        name: action.name,
        isAsync: action.isAsync,
        signature: action.signature,
        docstring: action.docstring,
        source: action.source,
        imports: action.imports,
        dependencies: action.dependencies,
        freeNames: action.freeNames,
        normalHash: action.normalHash,
        origin: { taskId, step },
      },
    ]);
    const result = userLibrary.promote(runId, taskId);
    report.promoted.push(...result.promoted.map((promoted) => `${promoted.name} v${promoted.version}`));
    report.merged.push(...result.merged.map((merged) => `${merged.name} v${merged.version}`));
  }
  return report;
}
