// What runs report while they work. The core emits these; only the CLI renders them (a live
// line on a terminal, plain lines elsewhere, NDJSON with --json).

import type { AgentEvent } from "../agent/loop.js";
import type { Family } from "../families/types.js";

/**
 * The task an event is about. `item` tells apart several items of one task in one batch (the runs
 * of `eval --mlab --logs`, the attempts of `eval --sab`); absent when the task has one.
 */
export interface TaskReference {
  family: Family;
  taskId: string;
  item?: string;
}

export type RunEvent =
  /** `runId` labels the run's containers (`dynabox clean --run RUN_ID` removes them). */
  | { type: "run-start"; kind: string; tasks: number; concurrency: number; runDirectory: string; runId?: string }
  | ({ type: "task-skip"; reason: string } & TaskReference)
  | ({ type: "task-start" } & TaskReference)
  | ({ type: "task-progress"; message: string } & TaskReference)
  /** An attempt ended on an infrastructure error and starts again after `delayMs`. */
  | ({ type: "task-retry"; retry: number; of: number; delayMs: number; kind: string; reason: string } & TaskReference)
  /** Something the user should know about an item's verdict (pins not honoured, another Python). */
  | ({ type: "task-warning"; message: string } & TaskReference)
  | ({
      type: "task-end";
      /** "not-judged": a ScienceAgentBench figure task graded without a judge (neither passed nor failed). */
      outcome: "passed" | "failed" | "not-judged" | "error";
      score: number | null;
      seconds: number;
      summary: string;
    } & TaskReference)
  | AgentEvent;

export type RunEventListener = (event: RunEvent) => void;
