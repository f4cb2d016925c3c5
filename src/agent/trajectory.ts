// A trajectory per task: JSON lines, schema-versioned. The first line describes the task; each
// step records the messages added since the previous request (so every request can be rebuilt
// exactly), the reply, the code, the observation, timings, tokens and cost.

import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const TRAJECTORY_SCHEMA_VERSION = 1;

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
      new_messages: { role: string; content: string }[];
      reply: string;
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
