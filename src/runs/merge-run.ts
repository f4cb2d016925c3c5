// After the shards of `run` merged their stores: the attempts' summaries as the unsharded run
// would have returned them, read from the merged store. An attempt with no row (it ended in an
// error, or its shard died for good) is reported as an error, never run here.

import type { DiscoveredTask } from "../families/registry.js";
import type { TaskRunSummary } from "./agent-run.js";
import { attemptWithoutResult } from "./attempt-without-result.js";
import type { ResultsStore } from "./store.js";

export function storedRunSummaries(store: ResultsStore, tasks: readonly DiscoveredTask[], attempts: number): TaskRunSummary[] {
  const summaries: TaskRunSummary[] = [];
  // The order runAgentTasks returns: attempt by attempt, tasks in the planned order.
  for (let attempt = 1; attempt <= attempts; attempt++) {
    for (const { task } of tasks) {
      const stored = store.get({ kind: "run", family: task.family, taskId: task.id, item: `attempt-${attempt}` });
      summaries.push(
        stored !== undefined
          ? (stored.detail as TaskRunSummary)
          : attemptWithoutResult(
              { id: task.id, family: task.family, attempt },
              "no result in the merged run: the attempt ended in an error in its shard (see the shard's output), or its shard failed on the cluster; run the same command again to retry it",
            ),
      );
    }
  }
  return summaries;
}
