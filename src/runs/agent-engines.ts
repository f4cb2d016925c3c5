// `dynabox run --engine ...`: each attempt placed on an engine of the pool with free capacity, its
// agent sandbox from that engine's warm pool and its grading on the same engine. An attempt that
// ended because its engine went away is placed again on another engine by the pool; on an engine
// that still answers, the error stands and the run's own retries decide.

import { SandboxError, isAbortError } from "../errors.js";
import type { EnginePool, PoolEngine } from "../engines/pool.js";
import { SandboxPool } from "../sandbox/pool.js";
import type { TaskRunSummary } from "./agent-run.js";
import { attemptWithoutResult } from "./attempt-without-result.js";

/** The engines of a run, and one warm sandbox pool per engine. */
export class AgentEngines {
  private readonly sandboxPools = new Map<PoolEngine, SandboxPool>();

  constructor(readonly pool: EnginePool) {}

  /** The warm pool of `engine`, made on first use (at most two warm sandboxes, as a one-engine run keeps). */
  sandboxesOn(engine: PoolEngine): SandboxPool {
    let sandboxes = this.sandboxPools.get(engine);
    if (sandboxes === undefined) {
      sandboxes = new SandboxPool(engine.docker, { size: Math.min(engine.concurrency, 2) });
      this.sandboxPools.set(engine, sandboxes);
    }
    return sandboxes;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.sandboxPools.values()].map((sandboxes) => sandboxes.dispose().catch(() => undefined)));
  }
}

/** Carries an attempt's error summary through the pool, which then asks whether the engine still answers. */
class EngineFailure extends SandboxError {
  constructor(readonly summary: TaskRunSummary) {
    super("DYNABOX_SANDBOX_LOST", summary.reason ?? summary.error ?? "the engine failed", { retryable: true });
  }
}

/**
 * Runs one attempt through the pool. `attemptOn` runs it on the given engine and returns its
 * summary (an infrastructure error is a summary with outcome "error", as on one engine).
 */
export async function runOnSomeEngine(
  engines: AgentEngines,
  attemptOn: (engine: PoolEngine, sandboxes: SandboxPool) => Promise<TaskRunSummary>,
  identity: Pick<TaskRunSummary, "id" | "family" | "attempt">,
): Promise<TaskRunSummary> {
  try {
    return await engines.pool.run(async (engine) => {
      const summary = await attemptOn(engine, engines.sandboxesOn(engine));
      if (summary.outcome === "error" && (summary.error_kind === "engine" || summary.error_kind === "sandbox-lost")) throw new EngineFailure(summary);
      return summary;
    });
  } catch (error) {
    // The engine still answers: the error is the attempt's own.
    if (error instanceof EngineFailure) return error.summary;
    if (isAbortError(error)) throw error;
    // Every engine tried went away (or the pool has none left): an engine error, retried by a rerun.
    const reason = error instanceof Error ? error.message : String(error);
    return { ...attemptWithoutResult(identity, reason), warnings: [], error_kind: "engine", reason, seconds_spent: 0 };
  }
}
