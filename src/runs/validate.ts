// `dynabox validate`: each task's proof of validity, run concurrently in fresh containers, with
// one row per task in the run's results store (a rerun skips what is there unless forced).

import type { GradingContext } from "../grading/context.js";
import type { DiscoveredTask } from "../tasks/registry.js";
import type { Family } from "../tasks/types.js";
import { mapConcurrent } from "./concurrency.js";
import type { RunEventListener } from "./events.js";
import type { ResultsStore } from "./store.js";

export interface ValidationReport {
  id: string;
  family: Family;
  valid: boolean;
  checks: Record<string, unknown>;
  seconds: number;
}

export interface ValidateOptions {
  context: GradingContext;
  concurrency: number;
  store?: ResultsStore;
  force?: boolean;
  onEvent?: RunEventListener;
}

const KIND = "validate";

export async function validateTasks(tasks: readonly DiscoveredTask[], options: ValidateOptions): Promise<ValidationReport[]> {
  const { context, store, onEvent } = options;
  return mapConcurrent(
    tasks,
    options.concurrency,
    async ({ task, module }) => {
      const key = { kind: KIND, family: task.family, taskId: task.id };
      const stored = options.force ? undefined : store?.get(key);
      if (stored !== undefined) {
        onEvent?.({ type: "task-skip", family: task.family, taskId: task.id, reason: "validated before; --force to redo" });
        return { id: task.id, family: task.family, valid: stored.passed, checks: stored.upstream, seconds: stored.seconds };
      }
      onEvent?.({ type: "task-start", family: task.family, taskId: task.id });
      const started = performance.now();
      let valid = false;
      let checks: Record<string, unknown>;
      try {
        const result = await module.validate(
          { ...context, onProgress: (message) => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message }) },
          task,
        );
        valid = result.valid;
        checks = result.checks;
      } catch (error) {
        context.signal?.throwIfAborted();
        checks = { error: error instanceof Error ? error.message : String(error) };
      }
      const seconds = round((performance.now() - started) / 1000);
      store?.put(KIND, { taskId: task.id, family: task.family, passed: valid, score: null, upstream: checks, seconds });
      onEvent?.({
        type: "task-end",
        family: task.family,
        taskId: task.id,
        outcome: "error" in checks ? "error" : valid ? "passed" : "failed",
        score: null,
        seconds,
        summary: valid ? "valid" : `not valid: ${summarizeChecks(checks)}`,
      });
      return { id: task.id, family: task.family, valid, checks, seconds };
    },
    context.signal,
  );
}

function summarizeChecks(checks: Record<string, unknown>): string {
  return JSON.stringify(checks).slice(0, 300);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
