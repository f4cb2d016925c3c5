// The action library on disk: one SQLite file shared by every run and task on the machine.
// WAL mode and a busy timeout let concurrent processes use it; everything that reads and then
// writes (promotion, usage counts) runs in a BEGIN IMMEDIATE transaction, so two tasks that
// promote a function of the same name at once get versions n+1 and n+2, never two n+1.
// Rows read back are validated with zod. The schema version is SQLite's `user_version`.

import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { UserError } from "../errors.js";
import {
  ACTION_STATUSES,
  shouldRetire,
  type ActionCandidate,
  type LibraryAction,
  type StoredAction,
} from "./types.js";

export const ACTIONS_SCHEMA_VERSION = 1;

/** `$XDG_DATA_HOME/dynabox/actions.sqlite`, else `~/.local/share/dynabox/actions.sqlite`. */
export function defaultLibraryPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const dataHome = env.XDG_DATA_HOME !== undefined && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, ".local", "share");
  return path.join(dataHome, "dynabox", "actions.sqlite");
}

const SCHEMA = `
  CREATE TABLE actions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER,
    status TEXT NOT NULL CHECK (status IN ('candidate', 'promoted', 'retired')),
    is_async INTEGER NOT NULL,
    signature TEXT NOT NULL,
    docstring TEXT NOT NULL,
    source TEXT NOT NULL,
    imports TEXT NOT NULL,
    dependencies TEXT NOT NULL,
    free_names TEXT NOT NULL,
    normal_hash TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    promoted_at TEXT,
    uses INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    CHECK ((status = 'candidate') = (version IS NULL))
  );
  CREATE UNIQUE INDEX actions_name_version ON actions (name, version) WHERE version IS NOT NULL;
  CREATE INDEX actions_task ON actions (run_id, task_id) WHERE status = 'candidate';
  -- Every task whose passing code contained the action (the first one and exact duplicates).
  CREATE TABLE action_origins (
    action_id INTEGER NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (action_id, run_id, task_id)
  );
  -- Embedding vectors per action and model (float32, little-endian), computed once.
  CREATE TABLE action_embeddings (
    action_id INTEGER NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (action_id, model)
  );
`;

const jsonStrings = z.string().transform((text, context) => {
  const parsed = z.array(z.string()).safeParse(JSON.parse(text));
  if (!parsed.success) {
    context.addIssue({ code: "custom", message: "expected a JSON list of strings" });
    return z.NEVER;
  }
  return parsed.data;
});

const rowSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  version: z.number().int().positive().nullable(),
  status: z.enum(ACTION_STATUSES),
  is_async: z.number().int(),
  signature: z.string(),
  docstring: z.string(),
  source: z.string(),
  imports: jsonStrings,
  dependencies: jsonStrings,
  free_names: jsonStrings,
  normal_hash: z.string(),
  run_id: z.string(),
  task_id: z.string(),
  step: z.number().int(),
  created_at: z.string(),
  promoted_at: z.string().nullable(),
  uses: z.number().int(),
  successes: z.number().int(),
  failures: z.number().int(),
});

const originRowSchema = z.object({ run_id: z.string(), task_id: z.string(), step: z.number().int(), recorded_at: z.string() });
const embeddingRowSchema = z.object({ action_id: z.number().int(), dimensions: z.number().int(), vector: z.instanceof(Buffer) });

export interface ActionOriginRecord {
  runId: string;
  taskId: string;
  step: number;
  recordedAt: string;
}

export interface PromotionResult {
  /** New actions and new versions of existing names. */
  promoted: LibraryAction[];
  /** Candidates identical to the latest version of their name: merged into it, no new row. */
  merged: LibraryAction[];
  /** Earlier definitions of a name the same task redefined later (dropped). */
  superseded: number;
}

export interface ListOptions {
  /** Every row: candidates, retired actions and older versions too. */
  all?: boolean;
}

const LATEST = `version IS NOT NULL AND version = (SELECT MAX(b.version) FROM actions b WHERE b.name = actions.name AND b.version IS NOT NULL)`;

export class ActionStore implements Disposable {
  private readonly database: Database.Database;

  private constructor(readonly file: string) {
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    this.database = new Database(file);
    // The timeout first: switching to WAL needs a lock another process may hold.
    this.database.pragma("busy_timeout = 10000");
    this.database.pragma("journal_mode = WAL");
    this.database.pragma("foreign_keys = ON");
    this.migrate();
  }

  /** Opens (creating if needed) the library at `file`. */
  static open(file: string = defaultLibraryPath()): ActionStore {
    return new ActionStore(file);
  }

  private migrate(): void {
    this.database
      .transaction(() => {
        const version = this.database.pragma("user_version", { simple: true }) as number;
        if (version === ACTIONS_SCHEMA_VERSION) return;
        if (version > ACTIONS_SCHEMA_VERSION) {
          throw new UserError(
            "DYNABOX_INVALID_INPUT",
            `the action library ${this.file} has schema version ${version}, newer than this dynabox understands (${ACTIONS_SCHEMA_VERSION}); upgrade dynabox or use another --library`,
          );
        }
        this.database.exec(SCHEMA);
        this.database.pragma(`user_version = ${ACTIONS_SCHEMA_VERSION}`);
      })
      .immediate();
  }

  /** Records the functions a step defined, as candidates of its task in `runId`. */
  recordCandidates(runId: string, candidates: readonly ActionCandidate[]): StoredAction[] {
    const insert = this.database.prepare(insertActionSql(["version", "status"]));
    const createdAt = new Date().toISOString();
    return this.database
      .transaction(() =>
        candidates.map((candidate) =>
          toAction(
            insert.get({
              ...commonColumns({ ...candidate, runId, taskId: candidate.origin.taskId, step: candidate.origin.step, createdAt }),
              version: null,
              status: "candidate",
            }),
          ),
        ),
      )
      .immediate();
  }

  /** The candidates a task has recorded in a run (in the order they were defined). */
  candidates(runId: string, taskId: string): StoredAction[] {
    return this.database
      .prepare("SELECT * FROM actions WHERE status = 'candidate' AND run_id = ? AND task_id = ? ORDER BY step, id")
      .all(runId, taskId)
      .map(toAction);
  }

  /**
   * Promotes a task's candidates; call it when the task passed grading. Per name, only the last
   * definition the task made counts (it is what ran at the end). A candidate identical (normal
   * hash) to the latest version of its name merges into it; otherwise it becomes version n+1
   * (version 1 for a new name). Older versions stay in the store but are not retrieved.
   */
  promote(runId: string, taskId: string): PromotionResult {
    return this.database
      .transaction((): PromotionResult => {
        const rows = this.candidates(runId, taskId);
        const lastByName = new Map<string, StoredAction>();
        for (const row of rows) lastByName.set(row.name, row); // ordered by step, id: the last wins
        const result: PromotionResult = { promoted: [], merged: [], superseded: rows.length - lastByName.size };
        const deleteRow = this.database.prepare("DELETE FROM actions WHERE id = ?");
        for (const row of rows) if (lastByName.get(row.name) !== row) deleteRow.run(row.id);
        const now = new Date().toISOString();
        const addOrigin = this.database.prepare(INSERT_ORIGIN_SQL);
        for (const candidate of lastByName.values()) {
          const latest = this.get(candidate.name);
          if (latest !== undefined && latest.normalHash === candidate.normalHash) {
            this.database
              .prepare("UPDATE actions SET uses = uses + ?, successes = successes + ?, failures = failures + ? WHERE id = ?")
              .run(candidate.uses, candidate.successes, candidate.failures, latest.id);
            addOrigin.run(latest.id, runId, taskId, candidate.step, now);
            deleteRow.run(candidate.id);
            result.merged.push(this.byId(latest.id) as LibraryAction);
            continue;
          }
          const version = (latest?.version ?? 0) + 1;
          this.database
            .prepare("UPDATE actions SET status = 'promoted', version = ?, promoted_at = ? WHERE id = ?")
            .run(version, now, candidate.id);
          addOrigin.run(candidate.id, runId, taskId, candidate.step, now);
          result.promoted.push(this.byId(candidate.id) as LibraryAction);
        }
        return result;
      })
      .immediate();
  }

  /** Drops a task's candidates (its task failed grading, or did not finish). Returns how many. */
  discard(runId: string, taskId: string): number {
    return this.database
      .prepare("DELETE FROM actions WHERE status = 'candidate' AND run_id = ? AND task_id = ?")
      .run(runId, taskId).changes;
  }

  /** The runs that still hold candidates (a run killed before its tasks settled leaves some). */
  candidateRunIds(): string[] {
    return (this.database.prepare("SELECT DISTINCT run_id FROM actions WHERE status = 'candidate' ORDER BY run_id").all() as { run_id: string }[]).map((row) => row.run_id);
  }

  /** Drops every candidate of a run (one that is gone: nothing will settle them). */
  discardRun(runId: string): number {
    return this.database.prepare("DELETE FROM actions WHERE status = 'candidate' AND run_id = ?").run(runId).changes;
  }

  /**
   * Counts one task that used the action: a success (`true`) if the task passed grading, a
   * failure (`false`) if it failed and the action was used in a failing cell, or a plain use
   * (`null`) otherwise. An action that keeps failing is retired (see `shouldRetire`). Returns the
   * updated action, or undefined when no such version exists.
   */
  recordUse(name: string, version: number, succeeded: boolean | null): LibraryAction | undefined {
    return this.database
      .transaction(() => {
        const action = this.get(name, version);
        if (action === undefined) return undefined;
        const successes = action.successes + (succeeded === true ? 1 : 0);
        const failures = action.failures + (succeeded === false ? 1 : 0);
        const status = action.status === "promoted" && shouldRetire({ successes, failures }) ? "retired" : action.status;
        this.database
          .prepare("UPDATE actions SET uses = uses + 1, successes = ?, failures = ?, status = ? WHERE id = ?")
          .run(successes, failures, status, action.id);
        return this.byId(action.id) as LibraryAction;
      })
      .immediate();
  }

  /** A promoted or retired action: the given version, or the latest one of the name. */
  get(name: string, version?: number): LibraryAction | undefined {
    const row =
      version === undefined
        ? this.database.prepare("SELECT * FROM actions WHERE name = ? AND version IS NOT NULL ORDER BY version DESC LIMIT 1").get(name)
        : this.database.prepare("SELECT * FROM actions WHERE name = ? AND version = ?").get(name, version);
    return row === undefined ? undefined : (toAction(row) as LibraryAction);
  }

  /** Every stored version of a name, oldest first. */
  versions(name: string): LibraryAction[] {
    return this.database
      .prepare("SELECT * FROM actions WHERE name = ? AND version IS NOT NULL ORDER BY version")
      .all(name)
      .map((row) => toAction(row) as LibraryAction);
  }

  /**
   * What retrieval, loading and export see: per name, the latest version, if it is promoted.
   * (A retired latest version takes its name out; older versions were superseded for a reason.)
   */
  latest(): LibraryAction[] {
    return this.database
      .prepare(`SELECT * FROM actions WHERE ${LATEST} AND status = 'promoted' ORDER BY name`)
      .all()
      .map((row) => toAction(row) as LibraryAction);
  }

  /** The ids of what `latest()` returns, without reading the rows (cheap at 10,000 actions). */
  latestIds(): number[] {
    return this.database.prepare(`SELECT id FROM actions WHERE ${LATEST} AND status = 'promoted'`).pluck().all() as number[];
  }

  /** Versioned actions by id (missing ids and candidates are left out). */
  actionsById(ids: readonly number[]): LibraryAction[] {
    const select = this.database.prepare("SELECT * FROM actions WHERE id = ? AND version IS NOT NULL");
    return ids.flatMap((id) => {
      const row = select.get(id);
      return row === undefined ? [] : [toAction(row) as LibraryAction];
    });
  }

  /** By default what `latest()` returns; with `all`, every row (candidates and history too). */
  list(options: ListOptions = {}): StoredAction[] {
    if (!options.all) return this.latest();
    return this.database
      .prepare("SELECT * FROM actions ORDER BY name, version IS NULL, version, id")
      .all()
      .map(toAction);
  }

  /** The tasks whose passing code contained this action. */
  origins(actionId: number): ActionOriginRecord[] {
    return this.database
      .prepare("SELECT run_id, task_id, step, recorded_at FROM action_origins WHERE action_id = ? ORDER BY recorded_at, run_id, task_id")
      .all(actionId)
      .map((raw) => {
        const row = originRowSchema.parse(raw);
        return { runId: row.run_id, taskId: row.task_id, step: row.step, recordedAt: row.recorded_at };
      });
  }

  /** Cached embedding vectors of these actions for `model` (missing ones are absent). */
  embeddings(model: string, actionIds: readonly number[]): Map<number, Float32Array> {
    const found = new Map<number, Float32Array>();
    const select = this.database.prepare("SELECT action_id, dimensions, vector FROM action_embeddings WHERE model = ? AND action_id = ?");
    for (const id of actionIds) {
      const raw = select.get(model, id);
      if (raw === undefined) continue;
      const row = embeddingRowSchema.parse(raw);
      if (row.vector.byteLength !== row.dimensions * 4) continue; // a damaged row is recomputed
      const copy = new Float32Array(row.dimensions);
      for (let index = 0; index < row.dimensions; index++) copy[index] = row.vector.readFloatLE(index * 4);
      found.set(row.action_id, copy);
    }
    return found;
  }

  /** Stores embedding vectors (float32) per action for `model`. */
  saveEmbeddings(model: string, vectors: ReadonlyMap<number, readonly number[]>): void {
    const insert = this.database.prepare(
      "INSERT OR REPLACE INTO action_embeddings (action_id, model, dimensions, vector) VALUES (?, ?, ?, ?)",
    );
    this.database.transaction(() => {
      for (const [id, vector] of vectors) {
        const blob = Buffer.alloc(vector.length * 4);
        vector.forEach((value, index) => blob.writeFloatLE(value, index * 4));
        insert.run(id, model, vector.length, blob);
      }
    })();
  }

  /** Runs `work` in one BEGIN IMMEDIATE transaction (nested calls become savepoints). */
  transaction<T>(work: () => T): T {
    return this.database.transaction(work).immediate();
  }

  /**
   * Adds an action from another library (an import) as the next version of its name, keeping
   * its status, counts, provenance and dates, and records its origins. Returns the new row.
   */
  insertImported(action: Omit<LibraryAction, "id" | "version">, origins: readonly ActionOriginRecord[]): LibraryAction {
    return this.transaction(() => {
      const version = (this.get(action.name)?.version ?? 0) + 1;
      const row = this.database.prepare(insertActionSql(["version", "status", "promoted_at", "uses", "successes", "failures"])).get({
        ...commonColumns(action),
        version,
        status: action.status === "retired" ? "retired" : "promoted",
        promoted_at: action.promotedAt ?? new Date().toISOString(),
        uses: action.uses,
        successes: action.successes,
        failures: action.failures,
      });
      const stored = toAction(row) as LibraryAction;
      this.addOrigins(stored.id, origins);
      return stored;
    });
  }

  /** Records tasks whose passing code contained this action; returns how many were new. */
  addOrigins(actionId: number, origins: readonly ActionOriginRecord[]): number {
    const insert = this.database.prepare(INSERT_ORIGIN_SQL);
    return this.transaction(() => origins.reduce((added, origin) => added + insert.run(actionId, origin.runId, origin.taskId, origin.step, origin.recordedAt).changes, 0));
  }

  /** Retires a version (the latest by default): a retired latest version takes its name out of retrieval. */
  retire(name: string, version?: number): LibraryAction | undefined {
    return this.transaction(() => {
      const action = this.get(name, version);
      if (action === undefined) return undefined;
      this.database.prepare("UPDATE actions SET status = 'retired' WHERE id = ?").run(action.id);
      return this.byId(action.id) as LibraryAction;
    });
  }

  /**
   * A key that changes whenever any row may have changed: this connection's writes
   * (total_changes) and other processes' commits (data_version). O(1); for caches.
   */
  changeCounter(): string {
    const dataVersion = this.database.pragma("data_version", { simple: true }) as number;
    const { changes } = this.database.prepare("SELECT total_changes() AS changes").get() as { changes: number };
    return `${dataVersion}:${changes}`;
  }

  /**
   * A key that changes whenever what `latest()` returns may have changed (a new version, a
   * promotion, a retirement, a removal), and not for candidates, usage counts or embeddings.
   * One scan of the versioned rows; for caches of `latest()`.
   */
  latestFingerprint(): string {
    const row = this.database
      .prepare(
        `SELECT COUNT(*) AS rows, COALESCE(MAX(id), 0) AS top, COALESCE(SUM(version), 0) AS versions,
           COALESCE(SUM(status = 'retired'), 0) AS retired, COALESCE(SUM(id * (status = 'promoted')), 0) AS promoted
         FROM actions WHERE version IS NOT NULL`,
      )
      .get() as Record<string, number>;
    return `${row.rows}:${row.top}:${row.versions}:${row.retired}:${row.promoted}`;
  }

  close(): void {
    if (this.database.open) this.database.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private byId(id: number): StoredAction | undefined {
    const row = this.database.prepare("SELECT * FROM actions WHERE id = ?").get(id);
    return row === undefined ? undefined : toAction(row);
  }
}

/** A task whose passing code contained an action; a second record of the same one is ignored. */
const INSERT_ORIGIN_SQL = "INSERT OR IGNORE INTO action_origins (action_id, run_id, task_id, step, recorded_at) VALUES (?, ?, ?, ?, ?)";

/** The columns every inserted actions row binds, a new candidate's and an imported action's alike. */
const COMMON_COLUMNS = ["name", "is_async", "signature", "docstring", "source", "imports", "dependencies", "free_names", "normal_hash", "run_id", "task_id", "step", "created_at"] as const;

/** What those columns are written from. */
type CommonFields = Omit<ActionCandidate, "origin"> & Pick<StoredAction, "runId" | "taskId" | "step" | "createdAt">;

function commonColumns(action: CommonFields): Record<(typeof COMMON_COLUMNS)[number], string | number> {
  return {
    name: action.name,
    is_async: action.isAsync ? 1 : 0,
    signature: action.signature,
    docstring: action.docstring,
    source: action.source,
    imports: JSON.stringify(action.imports),
    dependencies: JSON.stringify(action.dependencies),
    free_names: JSON.stringify(action.freeNames),
    normal_hash: action.normalHash,
    run_id: action.runId,
    task_id: action.taskId,
    step: action.step,
    created_at: action.createdAt,
  };
}

/** An INSERT of an actions row binding the common columns and `extra` by name, returning the row. */
function insertActionSql(extra: readonly string[]): string {
  const columns = [...COMMON_COLUMNS, ...extra];
  return `INSERT INTO actions (${columns.join(", ")}) VALUES (${columns.map((column) => `@${column}`).join(", ")}) RETURNING *`;
}

function toAction(raw: unknown): StoredAction {
  const row = rowSchema.parse(raw);
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    status: row.status,
    isAsync: row.is_async === 1,
    signature: row.signature,
    docstring: row.docstring,
    source: row.source,
    imports: row.imports,
    dependencies: row.dependencies,
    freeNames: row.free_names,
    normalHash: row.normal_hash,
    runId: row.run_id,
    taskId: row.task_id,
    step: row.step,
    createdAt: row.created_at,
    promotedAt: row.promoted_at,
    uses: row.uses,
    successes: row.successes,
    failures: row.failures,
  };
}
