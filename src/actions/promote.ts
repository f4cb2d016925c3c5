// The library across one task's life. While the agent works: retrieve actions for the task and
// define them in its kernel, analyze the text of every cell it runs in the extraction sandbox
// (functions of successful cells become candidates; the names a cell refers to say which
// library actions it used), and answer the kernel's `search_actions` host call. Once the task is
// graded: `finish` promotes its candidates if it passed and its verdict carries no review flag
// (discards them if not), and counts a use for every library action it used: a success if it
// passed, a failure only if it failed and a cell that referred to the action ended in an error
// raised through the action's own code.
//
// Nothing here trusts the agent's kernel: candidates come from the extraction sandbox, which
// only parses the text the host sent; usage comes from that text and the results the host got.
//
// Why promotion waits for grading: DynaSaur keeps every function that merely ran without an
// exception, so functions from failed tasks, never-called helpers and functions that return wrong
// values all enter its library. A passing grade is the one verdict we have that the code did
// its job.

import { isAbortError } from "../errors.js";
import type { CellResult } from "../sandbox/protocol.js";
import { analyzeCell, type CellAnalysis, type CellRunner } from "./extract.js";
import { definitionPlan, parseLoaded } from "./load.js";
import { retrieveActions, type Embedder, type RankedAction } from "./retrieve.js";
import type { ActionStore, PromotionResult } from "./store.js";
import type { ActionUsage, LibraryAction } from "./types.js";

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
  /** Where cells' text is analyzed: the extraction sandbox (`ActionExtractor`), never the agent's. */
  extractor: CellRunner;
  embedder?: Embedder;
  signal?: AbortSignal;
  /** Told when bookkeeping failed (an extraction that broke, an action that could not be defined); the task goes on. */
  onWarning?: (message: string) => void;
}

/** What grading said, as far as the library cares. */
export interface GradeOutcome {
  passed: boolean;
  /** Review flags of the verdict: when there is any, nothing is promoted and no success counted. */
  reviewFlags?: readonly string[];
}

export interface TaskSettlement {
  passed: boolean;
  /** The verdict carried review flags: nothing was promoted. */
  flagged: boolean;
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
  /** Library actions the kernel holds now, as the host defined them: name -> version. */
  private readonly live = new Map<string, number>();
  /** What the task's cells did with library actions, by name and version. */
  private readonly used = new Map<string, ActionUsage>();
  /** The cell that defines the retrieved actions, for a kernel restart. */
  private definitions = "";
  private definedVersions = new Map<string, number>();

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
    const plan = definitionPlan(ranked.map((hit) => hit.action), this.lookup());
    for (const { name, reason } of plan.refused) this.options.onWarning?.(`library action ${name} not loaded: ${reason}`);
    const actions = ranked.map((hit) => hit.action).filter((action) => plan.versions.has(action.name));
    this.definitions = plan.code;
    this.definedVersions = plan.versions;
    return { offered: actions.map(offer), definitionCode: plan.code, actions };
  }

  /**
   * Retrieves actions for the task and defines them in a fresh kernel (before the agent's first
   * cell); returns those really defined. An action that can not be defined (it breaks the rule,
   * a module is missing, the cell failed) is skipped and reported, never the task's end.
   */
  async load(sandbox: CellRunner, query: string, limit: number): Promise<OfferedAction[]> {
    const { offered } = await this.retrieve(query, limit);
    const loaded = await this.define(sandbox);
    return offered.filter((action) => loaded.has(action.name));
  }

  /** Defines the retrieved actions again, after the kernel restarted (its state was lost). */
  async reload(sandbox: CellRunner): Promise<void> {
    await this.define(sandbox);
  }

  private async define(sandbox: CellRunner): Promise<Set<string>> {
    this.live.clear();
    if (this.definitions === "") return new Set();
    let result: CellResult;
    try {
      result = await sandbox.exec(this.definitions, { timeoutSeconds: 60, ...(this.options.signal ? { signal: this.options.signal } : {}) });
    } catch (error) {
      if (isAbortError(error)) throw error;
      this.options.onWarning?.(`library actions not loaded: ${error instanceof Error ? error.message : String(error)}`);
      return new Set();
    }
    const report = parseLoaded(result);
    if (report === undefined || result.kernelRestarted) {
      const reason = result.error ? `${result.error.name}: ${result.error.message}` : "the cell reported nothing";
      this.options.onWarning?.(`library actions not loaded: ${reason}`);
      return new Set();
    }
    for (const [name, reason] of Object.entries(report.failed)) this.options.onWarning?.(`library action ${name} not loaded: ${reason}`);
    for (const name of report.loaded) {
      const version = this.definedVersions.get(name);
      if (version !== undefined) this.live.set(name, version);
    }
    return new Set(this.live.keys());
  }

  /**
   * Takes note of one cell the agent ran: its text is analyzed in the extraction sandbox; the
   * library actions it refers to count as used (and as failed in it when the cell ended in an
   * error raised through the action's code); if it ran without error, its functions that meet
   * the rule become candidates.
   * Returns the candidates' names. An extraction that fails costs only this step's bookkeeping
   * (reported through `onWarning`); an abort still throws.
   */
  async recordStep(code: string, step: number, result: Pick<CellResult, "ok"> & { error?: CellResult["error"] }): Promise<string[]> {
    let analysis: CellAnalysis;
    try {
      analysis = await analyzeCell(this.options.extractor, code, { taskId: this.options.taskId, step }, this.options.signal ? { signal: this.options.signal } : {});
    } catch (error) {
      if (isAbortError(error) || this.options.signal?.aborted) throw error;
      this.options.onWarning?.(`step ${step}: not analyzed for the action library: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
    const rebound = new Set(analysis.bindings);
    for (const name of analysis.references) {
      const version = this.live.get(name);
      if (version === undefined || rebound.has(name)) continue;
      const key = `${name}@${version}`;
      const entry = this.used.get(key) ?? { name, version, cells: 0, failedCells: 0 };
      entry.cells += 1;
      // Failed in the action: the error's traceback passes through the action's own code (the
      // loader compiles it as "<action NAME vN>"). A name that was never defined (NameError)
      // or a later line that failed does not count against the action.
      if (!result.ok && (result.error?.traceback ?? "").includes(`"<action ${name} v${version}>"`)) entry.failedCells += 1;
      this.used.set(key, entry);
    }
    // A name the agent binds itself is no longer the library's action.
    for (const name of rebound) this.live.delete(name);
    if (!result.ok || analysis.candidates.length === 0) return [];
    this.store.recordCandidates(this.options.runId, analysis.candidates);
    return analysis.candidates.map((candidate) => candidate.name);
  }

  /** The library actions the task's cells used so far, with the number of cells: by name. */
  usage(): Record<string, number> {
    const byName: Record<string, number> = {};
    for (const entry of this.used.values()) byName[entry.name] = (byName[entry.name] ?? 0) + entry.cells;
    return byName;
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
      const hits: SearchHit[] = [];
      for (const { action } of ranked) {
        const plan = definitionPlan([action], lookup);
        if (!plan.versions.has(action.name)) continue;
        // Sent to the kernel to be defined: from now on a cell that names it uses it.
        for (const [name, version] of plan.versions) this.live.set(name, version);
        hits.push({ ...offer(action), version: action.version, definitions: { [action.name]: plan.code } });
      }
      return hits;
    };
  }

  /**
   * Settles the task after grading. Passed with no review flag: its candidates are promoted and
   * each library action it used counts a success. Otherwise its candidates are discarded; a
   * failed task counts a failure for each action that failed in one of its cells (which may
   * retire it), and a plain use for the others; a flagged one counts plain uses only.
   */
  finish(grade: GradeOutcome | boolean): TaskSettlement {
    const { passed, reviewFlags = [] } = typeof grade === "boolean" ? { passed: grade } : grade;
    const flagged = reviewFlags.length > 0;
    const { runId, taskId } = this.options;
    const used: LibraryAction[] = [];
    const retired: string[] = [];
    for (const entry of this.used.values()) {
      const outcome = flagged ? null : passed ? true : entry.failedCells > 0 ? false : null;
      const before = this.store.get(entry.name, entry.version);
      const after = this.store.recordUse(entry.name, entry.version, outcome);
      if (after === undefined) continue;
      used.push(after);
      if (before?.status === "promoted" && after.status === "retired") retired.push(after.name);
    }
    this.used.clear();
    if (passed && !flagged) return { passed, flagged, promotion: this.store.promote(runId, taskId), discarded: 0, used, retired };
    return { passed, flagged, promotion: null, discarded: this.store.discard(runId, taskId), used, retired };
  }

  /** Drops the task's candidates and counts nothing (the task ended in an error, not a verdict). */
  abandon(): number {
    this.used.clear();
    return this.store.discard(this.options.runId, this.options.taskId);
  }

  private lookup(): (name: string) => LibraryAction | undefined {
    const byName = new Map(this.store.latest().map((action) => [action.name, action]));
    return (name) => byName.get(name);
  }
}

function offer(action: LibraryAction): OfferedAction {
  return { name: action.name, signature: action.signature, docstring: action.docstring };
}
