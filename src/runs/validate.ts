// `dynabox validate`: each task's proof of validity, run concurrently in fresh containers, with
// one row per task in the run's results store. A rerun skips a task only when its content, the
// grader version and the settings are those of the stored row (resume-key.ts), unless forced.

import type { EnginePool } from "../engines/pool.js";
import { contextForTask, type GradingContext } from "../grading/context.js";
import type { DiscoveredTask } from "../families/registry.js";
import type { Family } from "../families/types.js";
import { mapConcurrent } from "./concurrency.js";
import type { RunEventListener } from "./events.js";
import { resumeKey, taskFingerprint } from "./resume-key.js";
import type { ResultsStore } from "./store.js";

export interface ValidationReport {
  id: string;
  family: Family;
  valid: boolean;
  checks: Record<string, unknown>;
  seconds: number;
  /** The result came from the results store (validated before with the same content). */
  fromStore?: boolean;
}

export interface ValidateOptions {
  context: GradingContext;
  concurrency: number;
  store?: ResultsStore;
  force?: boolean;
  onEvent?: RunEventListener;
  /** Settings that can change a result (policies, limits): part of each task's resume key. */
  settings?: unknown;
  /** Several engines: each task is validated on one with free capacity, again elsewhere if it goes down. */
  engines?: EnginePool;
}

const KIND = "validate";

export async function validateTasks(tasks: readonly DiscoveredTask[], options: ValidateOptions): Promise<ValidationReport[]> {
  const { context, store, onEvent } = options;
  return mapConcurrent(
    tasks,
    options.concurrency,
    async ({ task, module }) => {
      const key = { kind: KIND, family: task.family, taskId: task.id };
      const contentKey = resumeKey({ kind: KIND, family: task.family, task: await taskFingerprint(task), settings: options.settings ?? null });
      const stored = options.force ? undefined : store?.getCurrent(key, contentKey);
      if (stored !== undefined) {
        onEvent?.({ type: "task-skip", family: task.family, taskId: task.id, reason: "validated before with the same task content; --force to redo" });
        return { id: task.id, family: task.family, valid: stored.passed, checks: stored.upstream, seconds: stored.seconds, fromStore: true };
      }
      onEvent?.({ type: "task-start", family: task.family, taskId: task.id });
      const started = performance.now();
      let valid = false;
      let checks: Record<string, unknown>;
      try {
        const taskContext: GradingContext = contextForTask(
          {
            ...context,
            onProgress: (message) => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message }),
            onWarning: (message) => onEvent?.({ type: "task-warning", family: task.family, taskId: task.id, message }),
          },
          task,
        );
        const result = options.engines
          ? await options.engines.run((engine) => module.validate({ ...taskContext, docker: engine.docker }, task))
          : await module.validate(taskContext, task);
        valid = result.valid;
        checks = result.checks;
      } catch (error) {
        context.signal?.throwIfAborted();
        checks = { error: error instanceof Error ? error.message : String(error) };
      }
      const seconds = round((performance.now() - started) / 1000);
      // An error (a lost sandbox, an unreachable repository) is not a final result: not stored, so the next run tries again.
      if (!("error" in checks)) store?.put(KIND, { taskId: task.id, family: task.family, passed: valid, score: null, upstream: checks, seconds }, { contentKey });
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
