// The library across one task's life. While the agent works: retrieve actions for the task and
// define them in its kernel, record the functions of successful steps as candidates, answer the
// kernel's `search_actions` host call, read the call counts at the end. Once the task is graded:
// `finish` promotes its candidates if it passed (discards them if not) and counts a success or
// a failure for every library action it called, which may retire an action.
//
// Why promotion waits for grading: DynaSaur keeps every function that merely ran without an
// exception, so functions from failed tasks, never-called helpers and functions that return wrong
// values all enter its library. A passing grade is the one verdict we have that the code did
// its job.

import { DynaboxError } from "../errors.js";
import type { CellRunner } from "./extract.js";
import { extractActions } from "./extract.js";
import { definitionCode, parseUsage, usageCode } from "./export.js";
import { retrieveActions, type Embedder, type RankedAction } from "./retrieve.js";
import type { ActionStore, PromotionResult } from "./store.js";
import type { ActionCandidate, ActionUsage, LibraryAction } from "./types.js";

/** What the prompt shows of an action. */
export interface OfferedAction {
  name: string;
  signature: string;
  docstring: string;
}

/** One hit of the in-kernel `search_actions` host call; `definitions` maps its name to the cell that defines it. */
export interface SearchHit extends OfferedAction {
  version: number;
  definitions: Record<string, string>;
}

export interface TaskLibraryOptions {
  runId: string;
  taskId: string;
  embedder?: Embedder;
  signal?: AbortSignal;
  /** Told when bookkeeping failed (an extraction cell that broke); the task goes on. */
  onWarning?: (message: string) => void;
}

export interface TaskSettlement {
  passed: boolean;
  /** Set when the task passed. */
  promotion: PromotionResult | null;
  /** Candidates dropped (the task failed). */
  discarded: number;
  /** Library actions the task called, after their counts were updated. */
  used: LibraryAction[];
  /** Names of actions this task's failure retired. */
  retired: string[];
}

/** Most characters of a `search_actions` query that are searched; the rest is ignored. */
export const SEARCH_QUERY_LIMIT = 2000;

export class TaskLibrary {
  private lastUsage: ActionUsage[] = [];

  constructor(
    readonly store: ActionStore,
    readonly options: TaskLibraryOptions,
  ) {}

  /** Ranked actions for a query (the task's description, or the agent's own words). */
  search(query: string, limit: number): Promise<RankedAction[]> {
    return retrieveActions(this.store, query, {
      limit,
      ...(this.options.embedder ? { embedder: this.options.embedder } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
  }

  /** The actions to offer for a task, and the cell that defines them (with their dependencies). */
  async retrieve(query: string, limit: number): Promise<{ offered: OfferedAction[]; definitionCode: string; actions: LibraryAction[] }> {
    const ranked = await this.search(query, limit);
    const actions = ranked.map((hit) => hit.action);
    return { offered: actions.map(offer), definitionCode: definitionCode(actions, this.lookup()), actions };
  }

  /**
   * Extracts a successful step's top-level functions and records them as candidates; their names.
   * An extraction that fails in the kernel loses only this step's candidates (reported through
   * `onWarning`); a lost sandbox or an abort still throws.
   */
  async recordCandidates(sandbox: CellRunner, code: string, step: number): Promise<string[]> {
    let candidates: ActionCandidate[];
    try {
      candidates = await extractActions(sandbox, code, { taskId: this.options.taskId, step }, this.options.signal ? { signal: this.options.signal } : {});
    } catch (error) {
      if (!(DynaboxError.isInstance(error) && error.code === "DYNABOX_KERNEL_PROTOCOL")) throw error;
      this.options.onWarning?.(`step ${step}: no action candidates recorded: ${error.message}`);
      return [];
    }
    this.store.recordCandidates(this.options.runId, candidates);
    return candidates.map((candidate) => candidate.name);
  }

  /** Reads the kernel's call counts of loaded actions (remembered for `finish`); calls by name. */
  async usage(sandbox: CellRunner): Promise<Record<string, number>> {
    const result = await sandbox.exec(usageCode(), { timeoutSeconds: 30, ...(this.options.signal ? { signal: this.options.signal } : {}) });
    this.lastUsage = parseUsage(result);
    return Object.fromEntries(this.lastUsage.map((usage) => [usage.name, usage.calls]));
  }

  /** The handler for `sandbox.setHostCall("search_actions", ...)`: args {query, limit}. */
  searchHandler(): (args: unknown) => Promise<SearchHit[]> {
    return async (args) => {
      const request = (typeof args === "object" && args !== null ? args : {}) as { query?: unknown; limit?: unknown };
      // Sandbox code sets the query: cut before any work, as ranking costs grow with its words.
      const query = typeof request.query === "string" ? request.query.slice(0, SEARCH_QUERY_LIMIT) : "";
      const limit = typeof request.limit === "number" && Number.isInteger(request.limit) ? Math.min(Math.max(request.limit, 1), 20) : 5;
      const ranked = await this.search(query, limit);
      const lookup = this.lookup();
      return ranked.map(({ action }) => ({
        ...offer(action),
        version: action.version,
        definitions: { [action.name]: definitionCode([action], lookup) },
      }));
    };
  }

  /**
   * Settles the task after grading: promotes its candidates if it passed, discards them if not,
   * and counts a use (success or failure) for each library action it called. `usage` defaults to
   * what the last `usage(sandbox)` read.
   */
  finish(passed: boolean, usage: readonly ActionUsage[] = this.lastUsage): TaskSettlement {
    const { runId, taskId } = this.options;
    const used: LibraryAction[] = [];
    const retired: string[] = [];
    for (const entry of usage) {
      if (entry.calls <= 0) continue;
      const before = this.store.get(entry.name, entry.version);
      const after = this.store.recordUse(entry.name, entry.version, passed);
      if (after === undefined) continue;
      used.push(after);
      if (before?.status === "promoted" && after.status === "retired") retired.push(after.name);
    }
    if (passed) return { passed, promotion: this.store.promote(runId, taskId), discarded: 0, used, retired };
    return { passed, promotion: null, discarded: this.store.discard(runId, taskId), used, retired };
  }

  private lookup(): (name: string) => LibraryAction | undefined {
    const byName = new Map(this.store.latest().map((action) => [action.name, action]));
    return (name) => byName.get(name);
  }
}

function offer(action: LibraryAction): OfferedAction {
  return { name: action.name, signature: action.signature, docstring: action.docstring };
}
