// A trajectory per task: JSON lines, schema-versioned. The first line describes the task; each
// step records the messages added since the previous request (so every request can be rebuilt
// exactly), the reply, the code, the observation, timings, tokens and cost.

import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

// 2: steps record the context plan (what was shortened or folded to fit) and tool calls.
export const TRAJECTORY_SCHEMA_VERSION = 2;

/** How a step's request was fitted to the context budget. */
export interface ContextRecord {
  window_tokens: number;
  budget_tokens: number;
  /** The request's size as the budget counted it. */
  request_tokens: number;
  /** The tokenizer that counted: o200k_base, cl100k_base or estimate. */
  encoding: string;
  /** Steps whose observations went cut to head and tail, to one line, or were folded into `note`. */
  shortened: number[];
  one_line: number[];
  folded: number[];
  note: string | null;
  /** The server answered "context length exceeded" and the request was sent again, smaller. */
  overflow_retry: boolean;
}

export type TrajectoryRecord =
  | {
      type: "header";
      schema_version: number;
      task: string;
      family: string;
      model: string;
      started_at: string;
      limits: Record<string, unknown>;
    }
  | {
      type: "step";
      step: number;
      /** The messages as made (whole); `context` says how the request sent them. */
      new_messages: { role: string; content: string; tool_calls?: unknown[]; tool_call_id?: string }[];
      reply: string;
      tool_calls?: unknown[];
      reply_format?: string;
      context?: ContextRecord;
      thought: string | null;
      code: string | null;
      parse_error: string | null;
      observation: string;
      ok: boolean | null;
      model_ms: number;
      exec_ms: number | null;
      prompt_tokens: number;
      completion_tokens: number;
      cost_usd: number;
      attempts: number;
      /** What the cell used (absent when no code ran, and in trajectories of older versions). */
      resources?: { cpu_ms: number | null; peak_mem_mb: number | null; output_bytes: number; timed_out: boolean; oom: boolean };
    }
  /** A model call of `step` failed and was tried again (a 5xx, a timeout, a lost connection). */
  | { type: "model-retry"; step: number; attempt: number; delay_ms: number; status: number | null; message: string }
  | {
      type: "end";
      stop_reason: string;
      steps: number;
      prompt_tokens: number;
      completion_tokens: number;
      cost_usd: number;
      seconds: number;
      /** Added by the run after grading (src/report/trajectory-verdict.ts): outcome, reason, score, the upstream line. */
      verdict?: { outcome: string; reason: string | null; score: number | null; passed: boolean; upstream: Record<string, unknown> | null };
    };

export class TrajectoryWriter {
  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "");
  }

  write(record: TrajectoryRecord): void {
    appendFileSync(this.file, JSON.stringify(record) + "\n");
  }
}
