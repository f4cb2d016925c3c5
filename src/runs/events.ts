// What runs report while they work. The core emits these; only the CLI renders them (a live
// line on a terminal, plain lines elsewhere, NDJSON with --json).

import type { AgentEvent } from "../agent/loop.js";
import type { Family } from "../families/types.js";

export type RunEvent =
  /** `runId` labels the run's containers (`dynabox clean --run RUN_ID` removes them). */
  | { type: "run-start"; kind: string; tasks: number; concurrency: number; runDirectory: string; runId?: string }
  | { type: "task-skip"; family: Family; taskId: string; reason: string }
  | { type: "task-start"; family: Family; taskId: string }
  | { type: "task-progress"; family: Family; taskId: string; message: string }
  /** An attempt ended on an infrastructure error and starts again after `delayMs`. */
  | { type: "task-retry"; family: Family; taskId: string; retry: number; of: number; delayMs: number; kind: string; reason: string }
  /** Something the user should know about an item's verdict (pins not honoured, another Python). */
  | { type: "task-warning"; family: Family; taskId: string; message: string }
  | {
      type: "task-end";
      family: Family;
      taskId: string;
      /** "not-judged": a ScienceAgentBench figure task graded without a judge (neither passed nor failed). */
      outcome: "passed" | "failed" | "not-judged" | "error";
      score: number | null;
      seconds: number;
      summary: string;
    }
  | AgentEvent;

export type RunEventListener = (event: RunEvent) => void;
