// Action libraries of shards: each shard of `run` works on its own copy of the user's library
// (a shared SQLite file over a cluster's filesystem is not safe to write from many nodes). The
// merge replays what the shards promoted into the user's library through the library's own
// promotion, so an action identical (normalized-source hash) to the latest version of its name
// merges into it and anything else becomes a new version, exactly as in an unsharded run.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ActionStore } from "../actions/store.js";
import type { StoredAction } from "../actions/types.js";

const SEED_FILE = "library-seed.json";

/** The shard's library file inside its folder. */
export function shardLibraryPath(shardFolder: string): string {
  return path.join(shardFolder, "library.sqlite");
}

/**
 * Makes the shard's library a copy of the user's (once: a restarted shard keeps what it
 * learned), and notes the highest action id of the copy, so the merge knows what is new.
 */
export function seedShardLibrary(userLibrary: string, shardFolder: string): string {
  const target = shardLibraryPath(shardFolder);
  if (existsSync(target) && existsSync(path.join(shardFolder, SEED_FILE))) return target;
  ActionStore.open(userLibrary).close(); // creates an empty library with its schema when there is none
  const source = new Database(userLibrary, { readonly: true, fileMustExist: true });
  try {
    source.pragma("busy_timeout = 10000");
    source.prepare("VACUUM INTO ?").run(target);
  } finally {
    source.close();
  }
  using copy = ActionStore.open(target);
  const highest = Math.max(0, ...copy.list({ all: true }).map((action) => action.id));
  writeFileSync(path.join(shardFolder, SEED_FILE), JSON.stringify({ highest_action_id: highest }) + "\n");
  return target;
}

export interface LibraryMergeReport {
  /** New versions added to the user's library. */
  promoted: string[];
  /** Actions a shard promoted that were identical to the latest version of their name. */
  merged: string[];
}

/** Replays, in the order they were promoted, every action the shards promoted. */
export function mergeShardLibraries(userLibrary: ActionStore, shardFolders: readonly string[]): LibraryMergeReport {
  const learned: StoredAction[] = [];
  for (const folder of shardFolders) {
    const file = shardLibraryPath(folder);
    const seed = path.join(folder, SEED_FILE);
    if (!existsSync(file) || !existsSync(seed)) continue;
    const highest = (JSON.parse(readFileSync(seed, "utf8")) as { highest_action_id: number }).highest_action_id;
    using shardLibrary = ActionStore.open(file);
    learned.push(...shardLibrary.list({ all: true }).filter((action) => action.id > highest && action.version !== null));
  }
  learned.sort((left, right) => (left.promotedAt ?? "").localeCompare(right.promotedAt ?? "") || left.id - right.id);
  const report: LibraryMergeReport = { promoted: [], merged: [] };
  for (const action of learned) {
    // Promotion is idempotent per (run, task): a merge run twice finds its candidate merged already.
    const latest = userLibrary.get(action.name);
    if (latest !== undefined && latest.normalHash === action.normalHash && userLibrary.origins(latest.id).some((origin) => origin.runId === action.runId && origin.taskId === action.taskId)) {
      continue;
    }
    userLibrary.recordCandidates(action.runId, [
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
        origin: { taskId: action.taskId, step: action.step },
      },
    ]);
    const result = userLibrary.promote(action.runId, action.taskId);
    report.promoted.push(...result.promoted.map((promoted) => `${promoted.name} v${promoted.version}`));
    report.merged.push(...result.merged.map((merged) => `${merged.name} v${merged.version}`));
  }
  return report;
}
