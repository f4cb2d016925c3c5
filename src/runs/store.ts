// The results store: one SQLite file per run folder, one row per graded item, written once the
// item is final. A rerun asks it what is finished and skips that (resume after a crash), but only
// when the row's content key (resume-key.ts: task content, submission content, grader version,
// settings) is the one the rerun would grade; otherwise the item is graded again and replaced.
// WAL mode and a busy timeout let concurrent processes share it safely.
//
// Schema versions (PRAGMA user_version, and each row's schema_version):
//   1  no content key: such rows never match a key, so their items are graded again;
//   2  content_key column. Opening a version-1 file adds the column in place.

import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { UserError } from "../errors.js";
import { FAMILIES, type Family, type Verdict } from "../families/types.js";

export const STORE_SCHEMA_VERSION = 2;

const rowSchema = z.object({
  kind: z.string(),
  family: z.enum(FAMILIES),
  task_id: z.string(),
  item: z.string(),
  passed: z.number().int(),
  score: z.number().nullable(),
  upstream: z.string(),
  seconds: z.number(),
  detail: z.string().nullable(),
  finished_at: z.string(),
  schema_version: z.number().int(),
  content_key: z.string(),
});

export interface StoredResult {
  kind: string;
  family: Family;
  taskId: string;
  /** What was graded within the task: "" for the task itself, a file name for one of several programs. */
  item: string;
  passed: boolean;
  score: number | null;
  upstream: Record<string, unknown>;
  seconds: number;
  /** Anything else worth keeping (validation checks, agent totals), as JSON. */
  detail: unknown;
  finishedAt: string;
  /** What was graded (resumeKey); "" for rows written before keys existed (schema 1). */
  contentKey: string;
}

export interface ResultKey {
  kind: string;
  family: Family;
  taskId: string;
  item?: string;
}

export class ResultsStore implements Disposable {
  private readonly database: Database.Database;

  private constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.database = new Database(file);
    try {
      this.database.pragma("journal_mode = WAL");
      this.database.pragma("busy_timeout = 10000");
      this.createOrMigrate();
    } catch (error) {
      this.database.close();
      if (error instanceof Error && (error as { code?: string }).code === "SQLITE_NOTADB") {
        throw new UserError("DYNABOX_INVALID_INPUT", `${file} is not a dynabox results database; move it away, or use another --run-dir`, { cause: error });
      }
      throw error;
    }
  }

  private createOrMigrate(): void {
    const found = Number(this.database.pragma("user_version", { simple: true }));
    if (found > STORE_SCHEMA_VERSION) {
      throw new UserError(
        "DYNABOX_INVALID_INPUT",
        `${this.file} was written by a newer dynabox (results schema ${found}; this one reads up to ${STORE_SCHEMA_VERSION}). ` +
          "Use a newer dynabox, or another --run-dir",
      );
    }
    this.database.exec(`
      CREATE TABLE IF NOT EXISTS results (
        kind TEXT NOT NULL,
        family TEXT NOT NULL,
        task_id TEXT NOT NULL,
        item TEXT NOT NULL,
        passed INTEGER NOT NULL,
        score REAL,
        upstream TEXT NOT NULL,
        seconds REAL NOT NULL,
        detail TEXT,
        finished_at TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        content_key TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (kind, family, task_id, item)
      )`);
    const columns = this.database.prepare("PRAGMA table_info(results)").all() as { name: string }[];
    // A schema-1 file: its rows get the empty key, which no rerun asks for, so they are graded again.
    if (!columns.some((column) => column.name === "content_key")) {
      this.database.exec("ALTER TABLE results ADD COLUMN content_key TEXT NOT NULL DEFAULT ''");
    }
    this.database.pragma(`user_version = ${STORE_SCHEMA_VERSION}`);
  }

  static open(file: string): ResultsStore {
    return new ResultsStore(file);
  }

  has(key: ResultKey): boolean {
    const row = this.database
      .prepare("SELECT 1 FROM results WHERE kind = ? AND family = ? AND task_id = ? AND item = ?")
      .get(key.kind, key.family, key.taskId, key.item ?? "");
    return row !== undefined;
  }

  get(key: ResultKey): StoredResult | undefined {
    const row = this.database
      .prepare("SELECT * FROM results WHERE kind = ? AND family = ? AND task_id = ? AND item = ?")
      .get(key.kind, key.family, key.taskId, key.item ?? "");
    return row === undefined ? undefined : toStored(row);
  }

  /** The stored result for the key, only when it was made from exactly `contentKey`. */
  getCurrent(key: ResultKey, contentKey: string): StoredResult | undefined {
    const stored = this.get(key);
    return stored !== undefined && contentKey !== "" && stored.contentKey === contentKey ? stored : undefined;
  }

  /** Records a final result (replacing an earlier one for the same key, as `--force` asks). */
  put(kind: string, verdict: Verdict, options: { item?: string; detail?: unknown; contentKey?: string } = {}): StoredResult {
    const finishedAt = new Date().toISOString();
    this.database
      .prepare(
        `INSERT OR REPLACE INTO results
         (kind, family, task_id, item, passed, score, upstream, seconds, detail, finished_at, schema_version, content_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        kind,
        verdict.family,
        verdict.taskId,
        options.item ?? "",
        verdict.passed ? 1 : 0,
        verdict.score,
        JSON.stringify(verdict.upstream),
        verdict.seconds,
        options.detail === undefined ? null : JSON.stringify(options.detail),
        finishedAt,
        STORE_SCHEMA_VERSION,
        options.contentKey ?? "",
      );
    return {
      kind,
      family: verdict.family,
      taskId: verdict.taskId,
      item: options.item ?? "",
      passed: verdict.passed,
      score: verdict.score,
      upstream: verdict.upstream,
      seconds: verdict.seconds,
      detail: options.detail ?? null,
      finishedAt,
      contentKey: options.contentKey ?? "",
    };
  }

  list(kind?: string): StoredResult[] {
    const rows =
      kind === undefined
        ? this.database.prepare("SELECT * FROM results ORDER BY family, task_id, item").all()
        : this.database.prepare("SELECT * FROM results WHERE kind = ? ORDER BY family, task_id, item").all(kind);
    return rows.map(toStored);
  }

  close(): void {
    if (this.database.open) this.database.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function toStored(raw: unknown): StoredResult {
  const row = rowSchema.parse(raw);
  return {
    kind: row.kind,
    family: row.family,
    taskId: row.task_id,
    item: row.item,
    passed: row.passed === 1,
    score: row.score,
    upstream: JSON.parse(row.upstream) as Record<string, unknown>,
    seconds: row.seconds,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
    finishedAt: row.finished_at,
    contentKey: row.content_key,
  };
}
