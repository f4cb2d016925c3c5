// What the end-to-end `dynabox run` tests share: the built CLI, the scripted model server closed
// after the test, and the NDJSON events that `run --json` prints, ending with "run-end".

import path from "node:path";
import { expect } from "vitest";
import { startScriptedOpenAIServer, type ScriptedServer, type ScriptedServerOptions } from "../../src/testing/index.js";
import type { Cleanup } from "../cleanups.js";

export const cli = path.resolve("dist/cli/main.js");

/** One task's line in the "run-end" event (the fields these tests read). */
export interface RunEndTask {
  id: string;
  family: string;
  attempt: number;
  outcome: string;
  score: number | null;
  steps: number;
  tokens: number;
  cost_usd: number;
  actions_created: string[];
  actions_used: string[];
  error_kind?: string;
  reason?: string;
  retries?: number;
}

export interface RunEnd {
  type: "run-end";
  tasks: RunEndTask[];
  families: Record<string, unknown>[];
  totals: Record<string, number>;
}

export type RunEvent = { type: string; [key: string]: unknown };

/**
 * The events of `run --json` output. Every non-empty line must be JSON, unless `skipOtherLines`
 * (a run whose engine is cut may leave other text there).
 */
export function runEvents(stdout: string, options: { skipOtherLines?: boolean } = {}): RunEvent[] {
  return stdout
    .trim()
    .split("\n")
    .filter((line) => (options.skipOtherLines ? line.startsWith("{") : true))
    .map((line) => JSON.parse(line) as RunEvent);
}

/** The last event, which must be "run-end". */
export function runEnd(stdout: string, options: { skipOtherLines?: boolean } = {}): RunEnd {
  const last = runEvents(stdout, options).at(-1) as unknown as RunEnd;
  expect(last.type).toBe("run-end");
  return last;
}

/** Starts the scripted model server and closes it with the test's cleanups. */
export async function scriptedServer(cleanups: Cleanup[], options: ScriptedServerOptions): Promise<ScriptedServer> {
  const server = await startScriptedOpenAIServer(options);
  cleanups.push(() => server.close());
  return server;
}
