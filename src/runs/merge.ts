// Merging shards into one run: every shard's results rows into the run's results.sqlite (the
// rows themselves, column for column, so the merge is exact), its trajectories into the run's
// trajectories/ folder. A rerun of the merge changes nothing: rows and files are keyed.

import { cpSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ResultsStore } from "./store.js";
import { readShardMarker, shardDirectory, type Shard } from "./shards.js";

export interface MergeReport {
  /** Shards whose folder held a results store. */
  shardsMerged: number;
  /** Rows copied into the run's store (a row already there with the same key is replaced). */
  rows: number;
  /** Shards whose trajectories were copied. */
  trajectoryFolders: number;
}

/** Copies every row of the shards' stores into the run's store, and their trajectories beside it. */
export function mergeShards(runDirectory: string, shards: readonly Shard[]): MergeReport {
  const target = path.join(runDirectory, "results.sqlite");
  // Opening it through the store creates the table with the current schema.
  ResultsStore.open(target).close();
  const database = new Database(target);
  database.pragma("busy_timeout = 10000");
  const report: MergeReport = { shardsMerged: 0, rows: 0, trajectoryFolders: 0 };
  try {
    for (const shard of shards) {
      const folder = shardDirectory(runDirectory, shard);
      const source = path.join(folder, "results.sqlite");
      if (existsSync(source)) {
        report.rows += copyRows(database, source);
        report.shardsMerged++;
      }
      const trajectories = path.join(folder, "trajectories");
      if (existsSync(trajectories)) {
        cpSync(trajectories, path.join(runDirectory, "trajectories"), { recursive: true, force: true });
        report.trajectoryFolders++;
      }
    }
  } finally {
    database.close();
  }
  return report;
}

function copyRows(database: Database.Database, source: string): number {
  // ATTACH reads the shard's file in place; columns are named so the copy is exact even if
  // the two stores were created with their columns in another order.
  database.prepare("ATTACH DATABASE ? AS shard").run(source);
  try {
    const columns = (database.prepare("PRAGMA main.table_info(results)").all() as Array<{ name: string }>).map((column) => `"${column.name}"`).join(", ");
    return database.prepare(`INSERT OR REPLACE INTO main.results (${columns}) SELECT ${columns} FROM shard.results`).run().changes;
  } finally {
    database.exec("DETACH DATABASE shard");
  }
}

/**
 * Before a shard starts for the first time, gives it a copy of the run's merged store, so that
 * items finished under an earlier split of the batch (another shard count, another task list)
 * are skipped, not done again. Returns how many shards got one.
 */
export function seedShardStores(runDirectory: string, shards: readonly Shard[]): number {
  const merged = path.join(runDirectory, "results.sqlite");
  if (!existsSync(merged)) return 0;
  let seeded = 0;
  for (const shard of shards) {
    const folder = shardDirectory(runDirectory, shard);
    const target = path.join(folder, "results.sqlite");
    if (existsSync(target) || readShardMarker(folder, shard) !== undefined) continue;
    mkdirSync(folder, { recursive: true });
    const database = new Database(merged, { readonly: true });
    try {
      database.pragma("busy_timeout = 10000");
      database.prepare("VACUUM INTO ?").run(target);
    } finally {
      database.close();
    }
    seeded++;
  }
  return seeded;
}
