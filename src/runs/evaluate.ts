// Grading work made elsewhere (like the SWE-bench harness): each item is a task plus a
// submission; every item is graded in fresh containers, stored once final, and a rerun skips
// what is stored unless forced.

import type { GradingContext } from "../grading/context.js";
import type { AnyFamilyModule } from "../tasks/registry.js";
import type { Family, TaskBase, Verdict } from "../tasks/types.js";
import { mapConcurrent } from "./concurrency.js";
import type { RunEventListener } from "./events.js";
import type { ResultsStore } from "./store.js";

export interface EvalItem {
  task: TaskBase;
  module: AnyFamilyModule;
  submission: unknown;
  /** Tells apart several submissions for one task (a program's file name); "" otherwise. */
  item: string;
  /** Extra fields for the upstream line (SAB lines carry the program's file name). */
  extra?: Record<string, unknown>;
}

export interface EvalOptions {
  context: GradingContext;
  concurrency: number;
  store?: ResultsStore;
  force?: boolean;
  onEvent?: RunEventListener;
}

const KIND = "eval";

export async function evaluateItems(items: readonly EvalItem[], options: EvalOptions): Promise<Verdict[]> {
  const { context, store, onEvent } = options;
  return mapConcurrent(
    items,
    options.concurrency,
    async ({ task, module, submission, item, extra }) => {
      const key = { kind: KIND, family: task.family, taskId: task.id, item };
      const stored = options.force ? undefined : store?.get(key);
      if (stored !== undefined) {
        onEvent?.({ type: "task-skip", family: task.family, taskId: task.id, reason: "graded before; --force to redo" });
        return {
          taskId: stored.taskId,
          family: stored.family,
          passed: stored.passed,
          score: stored.score,
          upstream: stored.upstream,
          seconds: stored.seconds,
          ...reviewFlagsOf(stored.upstream),
        };
      }
      onEvent?.({ type: "task-start", family: task.family, taskId: task.id });
      const verdict: Verdict = await module.grade(
        { ...context, onProgress: (message: string) => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message }) },
        task,
        submission,
      );
      const withExtra = extra ? { ...verdict, upstream: { ...verdict.upstream, ...extra } } : verdict;
      store?.put(KIND, withExtra, { item });
      onEvent?.({
        type: "task-end",
        family: task.family,
        taskId: task.id,
        outcome: withExtra.passed ? "passed" : "failed",
        score: withExtra.score,
        seconds: withExtra.seconds,
        summary: summaryOf(task.family, withExtra.upstream) + (withExtra.reviewFlags?.length ? ` (${withExtra.reviewFlags.length} review flag(s))` : ""),
      });
      return withExtra;
    },
    context.signal,
  );
}

/** A stored RES-Q line keeps its review flags in upstream.review_flags; the verdict gets them back. */
function reviewFlagsOf(upstream: Record<string, unknown>): Pick<Verdict, "reviewFlags"> {
  const flags = upstream["review_flags"];
  return Array.isArray(flags) && flags.length > 0 ? { reviewFlags: flags.map(String) } : {};
}

function summaryOf(family: Family, upstream: Record<string, unknown>): string {
  if (family === "resq") return String(upstream.message);
  if (family === "sab") return `valid_program ${upstream.valid_program}, success_rate ${upstream.success_rate}`;
  return upstream.error ? `invalid: ${String(upstream.error).slice(0, 120)}` : `score ${upstream.score}, improvement ${upstream.improvement}`;
}

/** The upstream headline metrics of a set of verdicts. */
export function summarize(family: Family, verdicts: readonly Verdict[], total = verdicts.length): Record<string, unknown> {
  const mean = (values: number[]): number | null => (total === 0 ? null : values.reduce((sum, value) => sum + value, 0) / total);
  switch (family) {
    case "resq":
      return {
        family,
        tasks: total,
        graded: verdicts.length,
        passed: verdicts.filter((v) => v.passed).length,
        "pass@1": mean(verdicts.map((v) => (v.passed ? 1 : 0))),
        // Verdicts a person should review before trusting them (see docs/resq.md, "Review flags").
        flagged: verdicts.filter((v) => (v.reviewFlags?.length ?? 0) > 0).length,
      };
    case "sab":
      return {
        family,
        tasks: total,
        graded: verdicts.length,
        VER: mean(verdicts.map((v) => Number(v.upstream.valid_program ?? 0))),
        SR: mean(verdicts.map((v) => Number(v.upstream.success_rate ?? 0))),
      };
    case "mlab":
      return { family, tasks: total, graded: verdicts.length, success_rate: mean(verdicts.map((v) => (v.passed ? 1 : 0))) };
  }
}
