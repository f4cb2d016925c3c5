// The summary of an attempt that has no result of its own (every engine went away, or a merged
// shard has no row for it), in one place.

import type { TaskRunSummary } from "./agent-run.js";

/**
 * An attempt that ended in an error before it produced anything (no steps, no tokens): the one
 * shape every place that records such an attempt starts from, so they can not drift apart.
 */
export function attemptWithoutResult(identity: Pick<TaskRunSummary, "id" | "family" | "attempt">, error: string): TaskRunSummary {
  return {
    ...identity,
    outcome: "error",
    score: null,
    steps: 0,
    tokens: 0,
    cost_usd: 0,
    container_seconds: 0,
    actions_created: [],
    actions_used: [],
    stop_reason: null,
    error,
    upstream: null,
  };
}
