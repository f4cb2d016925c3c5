// Reads a trajectory file (src/agent/trajectory.ts) for the report: its steps, how it ended and
// the verdict the run wrote into the end line. Lines that do not parse are skipped: a run killed
// mid-write leaves a torn last line, and the report still shows the rest.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";

export interface StepView {
  step: number;
  thought: string | null;
  code: string | null;
  parseError: string | null;
  observation: string;
  ok: boolean | null;
  modelMs: number | null;
  execMs: number | null;
  tokens: number;
  costUsd: number;
  /** HTTP attempts for the model call (1 when it answered the first time). */
  attempts: number;
  resources: { cpuMs: number | null; peakMemoryMb: number | null; outputBytes: number; oom: boolean; timedOut: boolean } | null;
}

export interface TrajectoryView {
  /** The task as the agent was told it: the first user message of the first step. */
  prompt: string | null;
  steps: StepView[];
  stopReason: string | null;
  verdict: Record<string, unknown> | null;
}

const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

export async function readTrajectory(file: string): Promise<TrajectoryView | null> {
  if (!existsSync(file)) return null;
  const view: TrajectoryView = { prompt: null, steps: [], stopReason: null, verdict: null };
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    let record: Record<string, unknown>;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (typeof parsed !== "object" || parsed === null) continue;
      record = parsed as Record<string, unknown>;
    } catch {
      continue;
    }
    if (record.type === "step") {
      if (view.steps.length === 0) view.prompt = firstUserMessage(record.new_messages);
      view.steps.push(stepOf(record));
    }
    if (record.type === "end") {
      view.stopReason = str(record.stop_reason);
      view.verdict = typeof record.verdict === "object" && record.verdict !== null ? (record.verdict as Record<string, unknown>) : null;
    }
  }
  return view;
}

function firstUserMessage(messages: unknown): string | null {
  if (!Array.isArray(messages)) return null;
  for (const message of messages) {
    if (typeof message === "object" && message !== null && (message as { role?: unknown }).role === "user") {
      const content = (message as { content?: unknown }).content;
      if (typeof content === "string") return content;
    }
  }
  return null;
}

function stepOf(record: Record<string, unknown>): StepView {
  const resources = typeof record.resources === "object" && record.resources !== null ? (record.resources as Record<string, unknown>) : null;
  return {
    step: num(record.step) ?? 0,
    thought: str(record.thought),
    code: str(record.code),
    parseError: str(record.parse_error),
    observation: str(record.observation) ?? "",
    ok: typeof record.ok === "boolean" ? record.ok : null,
    modelMs: num(record.model_ms),
    execMs: num(record.exec_ms),
    tokens: (num(record.prompt_tokens) ?? 0) + (num(record.completion_tokens) ?? 0),
    costUsd: num(record.cost_usd) ?? 0,
    attempts: num(record.attempts) ?? 1,
    resources:
      resources === null
        ? null
        : {
            cpuMs: num(resources.cpu_ms),
            peakMemoryMb: num(resources.peak_mem_mb),
            outputBytes: num(resources.output_bytes) ?? 0,
            oom: resources.oom === true,
            timedOut: resources.timed_out === true,
          },
  };
}
