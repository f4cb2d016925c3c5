// Merging action libraries, so libraries from several runs or machines combine. The source is
// another library file (SQLite) or the JSON of `dynabox actions list --all --json`. For each of
// the source's promoted and retired versions, oldest first:
//   - the same function (equal normalized-source hash) already in the target under that name:
//     a duplicate; its provenance (the tasks that wrote it) is added to the target's row, its
//     counts are not (so importing the same library twice changes nothing);
//   - otherwise: a new version of the name in the target (after its current versions, so an
//     imported new version becomes the latest), with the source's status, counts, dates and
//     provenance.
// Candidates (functions of tasks not yet graded) are never imported.

import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../errors.js";
import { ActionStore, type ActionOriginRecord } from "./store.js";
import type { LibraryAction, StoredAction } from "./types.js";

export interface ImportedAction {
  action: StoredAction;
  origins: ActionOriginRecord[];
}

export interface ImportResult {
  /** New names and new versions of known names. */
  added: { name: string; version: number }[];
  /** Versions already in the target (same function): provenance merged. */
  duplicates: { name: string; version: number; newOrigins: number }[];
  /** Candidates in the source, left out. */
  skippedCandidates: number;
}

const SQLITE_MAGIC = "SQLite format 3\u0000";
const PYTHON_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const originSchema = z.object({ runId: z.string(), taskId: z.string(), step: z.number().int(), recordedAt: z.string() });
const jsonActionSchema = z.object({
  id: z.number().int().optional(),
  name: z.string().regex(PYTHON_NAME, "not a Python name"),
  version: z.number().int().positive().nullable(),
  status: z.enum(["candidate", "promoted", "retired"]),
  isAsync: z.boolean(),
  signature: z.string(),
  docstring: z.string(),
  source: z.string().min(1),
  imports: z.array(z.string()),
  dependencies: z.array(z.string()),
  freeNames: z.array(z.string()),
  normalHash: z.string().min(1),
  runId: z.string(),
  taskId: z.string(),
  step: z.number().int(),
  createdAt: z.string(),
  promotedAt: z.string().nullable(),
  uses: z.number().int().nonnegative(),
  successes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  origins: z.array(originSchema).optional(),
});

function isSqlite(file: string): boolean {
  const head = readFileSync(file).subarray(0, 16).toString("latin1");
  return head === SQLITE_MAGIC;
}

/** Reads the actions of a library file or a JSON list; versioned rows only, oldest version first. */
export function readImportSource(file: string): { actions: ImportedAction[]; skippedCandidates: number } {
  if (!existsSync(file)) throw new UserError("DYNABOX_USAGE", `nothing to import at ${file}: give a library file (.sqlite) or the JSON of \`dynabox actions list --all --json\``);
  let rows: ImportedAction[];
  if (isSqlite(file)) {
    using source = ActionStore.open(file);
    rows = source.list({ all: true }).map((action) => ({ action, origins: source.origins(action.id) }));
  } else {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new UserError("DYNABOX_INVALID_INPUT", `${file} is neither an action library (SQLite) nor JSON: ${(error as Error).message}`, { cause: error });
    }
    const parsed = z.array(jsonActionSchema).safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UserError("DYNABOX_INVALID_INPUT", `${file} is not a list of actions (as \`dynabox actions list --all --json\` prints): at ${issue?.path.join(".")}: ${issue?.message}`);
    }
    rows = parsed.data.map(({ origins, ...action }) => ({ action: { ...action, id: action.id ?? 0 }, origins: origins ?? [] }));
  }
  // A library file is another process's (or machine's) data: its names become Python definitions.
  const invalid = rows.find((row) => !PYTHON_NAME.test(row.action.name));
  if (invalid !== undefined) {
    throw new UserError("DYNABOX_INVALID_INPUT", `${file} holds an action whose name is not a Python identifier (${JSON.stringify(invalid.action.name.slice(0, 80))}); nothing was imported`);
  }
  const versioned = rows.filter((row) => row.action.version !== null);
  versioned.sort((a, b) => a.action.name.localeCompare(b.action.name) || (a.action.version ?? 0) - (b.action.version ?? 0));
  return { actions: versioned, skippedCandidates: rows.length - versioned.length };
}

/** Merges `source` into `target` in one transaction (see the top of this file). */
export function importActions(target: ActionStore, source: readonly ImportedAction[]): ImportResult {
  const result: ImportResult = { added: [], duplicates: [], skippedCandidates: 0 };
  target.transaction(() => {
    for (const { action, origins } of source) {
      const known = target.versions(action.name).find((existing) => existing.normalHash === action.normalHash);
      // The row that wrote it in the source counts as an origin too (older libraries may lack origins).
      const provenance: ActionOriginRecord[] = origins.length > 0 ? origins : [{ runId: action.runId, taskId: action.taskId, step: action.step, recordedAt: action.promotedAt ?? action.createdAt }];
      if (known !== undefined) {
        result.duplicates.push({ name: action.name, version: known.version, newOrigins: target.addOrigins(known.id, provenance) });
        continue;
      }
      const { id: _id, version: _version, ...fields } = action;
      const added: LibraryAction = target.insertImported(fields, provenance);
      result.added.push({ name: added.name, version: added.version });
    }
  });
  return result;
}
