// The agent loop end to end: the real openai client against the scripted server on loopback,
// code running in a real sandbox kernel.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runAgent, type AgentInput } from "../../src/agent/loop.js";
import { createModelClient } from "../../src/agent/model-client.js";
import { startScriptedOpenAIServer, type ScriptedServer, type ScriptedStep } from "../../src/testing/index.js";
import { cleanupsAfterEach } from "../cleanups.js";
import { sandbox } from "./sandbox-fixture.js";

const cleanups = cleanupsAfterEach();

async function setUp(replies: ScriptedStep[], limits: Partial<AgentInput["limits"]> = {}) {
  const server: ScriptedServer = await startScriptedOpenAIServer({ replies });
  cleanups.push(() => server.close());
  const folder = await mkdtemp(path.join(tmpdir(), "dynabox-agent-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  const box = await sandbox();
  const model = createModelClient({ model: "scripted", baseURL: server.url, apiKey: "test", retryBaseDelayMs: 1 });
  const input: AgentInput = {
    taskId: "t1",
    family: "test",
    description: "Compute 6 * 7 and submit it.",
    sandbox: box,
    model,
    limits: { maxSteps: 5, wallSeconds: 60, stepTimeoutSeconds: 10, ...limits },
    trajectoryFile: path.join(folder, "trajectory.jsonl"),
  };
  return { server, box, input };
}

async function readTrajectory(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the agent loop", () => {
  it("solves a task: code runs in the kernel, state persists, submit ends it", async () => {
    const { server, input } = await setUp([
      {
        expect: { responseFormat: "json_schema", lastUserMessage: "Compute 6 * 7" },
        reply: { thought: "define a helper", code: "def multiply(a: int, b: int) -> int:\n    \"\"\"Multiply two integers.\"\"\"\n    return a * b\n\nresult = multiply(6, 7)\nprint(result)" },
      },
      {
        expect: { lastUserMessage: /\[stdout\]\n42/ },
        reply: "The result is in `result`.\n```python\nsubmit(result)\n```",
      },
    ]);
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", submitted: true, answer: 42, steps: 2, error: null });
    expect(outcome.promptTokens).toBeGreaterThan(0);
    const trajectory = await readTrajectory(input.trajectoryFile);
    expect(trajectory.map((record) => record.type)).toEqual(["header", "step", "step", "end"]);
    expect(trajectory[0]).toMatchObject({ schema_version: 2, task: "t1", model: "scripted" });
    expect(trajectory[1]).toMatchObject({ step: 1, ok: true, code: expect.stringContaining("def multiply") });
    // The first step's request is recorded whole; later ones only add what is new.
    expect((trajectory[1]?.new_messages as unknown[]).length).toBe(2);
    expect((trajectory[2]?.new_messages as unknown[]).length).toBe(2);
  });

  it("sends errors back as observations, and a malformed reply gets a corrective message", async () => {
    const { server, input } = await setUp([
      { reply: "I will think about it without code." },
      { expect: { lastUserMessage: /python/i }, reply: { thought: "try", code: "value = undefined_name + 1" } },
      { expect: { lastUserMessage: /NameError: name 'undefined_name' is not defined/ }, reply: { thought: "fix", code: "submit(6 * 7)" } },
    ]);
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: 42, steps: 3 });
    const steps = (await readTrajectory(input.trajectoryFile)).filter((record) => record.type === "step");
    expect(steps.map((step) => [step.parse_error, step.ok])).toEqual([
      ["no_code", null],
      [null, false],
      [null, true],
    ]);
  });

  it("retries a 429 and goes on", async () => {
    const { server, input } = await setUp([
      { status: 429, message: "slow down", headers: { "retry-after-ms": "5" } },
      { reply: { thought: "done", code: "submit('ok')" } },
    ]);
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: "ok", steps: 1 });
    const lines = await readTrajectory(input.trajectoryFile);
    // The retry is its own trajectory line, before the step that it belongs to.
    expect(lines.filter((line) => line.type === "model-retry")).toHaveLength(1);
    const step = lines.find((line) => line.type === "step");
    expect(step?.attempts).toBe(2);
  });

  it("tells the model once when the step budget is reached, then stops", async () => {
    const { server, input } = await setUp(
      [
        { reply: { thought: "explore", code: "x = 1" } },
        { expect: { lastUserMessage: /last step/ }, reply: { thought: "still exploring", code: "x += 1" } },
      ],
      { maxSteps: 2 },
    );
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "max-steps", submitted: false, steps: 2 });
  });

  it("stops on the dollar budget", async () => {
    const { server, input } = await setUp(
      [
        { reply: { thought: "a", code: "a = 1" }, usage: { prompt_tokens: 1_000_000, completion_tokens: 0 } },
        { expect: { lastUserMessage: /cost limit/ }, reply: { thought: "b", code: "b = 2" }, usage: { prompt_tokens: 10, completion_tokens: 10 } },
      ],
      { maxCostUsd: 0.5 },
    );
    input.model = createModelClient({
      model: "priced",
      baseURL: server.url,
      apiKey: "test",
      prices: { priced: { input: 1, output: 1 } },
    });
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome.stopReason).toBe("cost");
    expect(outcome.costUsd).toBeGreaterThanOrEqual(1);
  });
});

describe("the agent loop after a kernel restart", () => {
  it("defines the initial actions again and tells the model its variables are gone", async () => {
    const { server, input } = await setUp([
      { reply: { thought: "crash", code: "kept = 1\nimport os\nos._exit(1)" } },
      { expect: { lastUserMessage: /kernel was restarted[\s\S]*defined again/ }, reply: { thought: "check", code: "print('kept' in globals())\nlist_files('.')" } },
      { expect: { lastUserMessage: /\[stdout\]\nFalse/ }, reply: { thought: "done", code: "submit('after restart')" } },
    ]);
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: "after restart", steps: 3 });
  });
});

describe("the initial actions", () => {
  it("refuse writes to the task's read-only files and paths outside the workspace", async () => {
    const { server, input } = await setUp([
      { reply: { thought: "try", code: "write_file('notes.txt', 'ok')\nwrite_file('train.csv', 'x')" } },
      { expect: { lastUserMessage: /PermissionError: train\.csv is read-only/ }, reply: { thought: "escape", code: "read_file('../etc/passwd')" } },
      { expect: { lastUserMessage: /outside the workspace/ }, reply: { thought: "done", code: "print(list_files())\nsubmit()" } },
    ]);
    input.readOnlyPatterns = ["./train.csv", "data/*"];
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", steps: 3 });
  });
});
