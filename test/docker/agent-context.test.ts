// The agent with real-model conditions: long tasks under a small context budget, replies as tool
// calls, an endpoint without tools, and a server that answers "context length exceeded". The
// real openai client against the scripted server (which measures every request in tokens), code
// running in a real sandbox kernel.

import { createRequire } from "node:module";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { promptBudget } from "../../src/agent/context-budget.js";
import { runAgent, type AgentInput } from "../../src/agent/loop.js";
import { createModelClient } from "../../src/agent/model-client.js";
import { startScriptedOpenAIServer, type ScriptedServerOptions, type ScriptedStep } from "../../src/testing/index.js";
import { cleanupsAfterEach } from "../cleanups.js";
import { sandbox } from "./sandbox-fixture.js";

// The server measures with the real o200k tokenizer, independently of the agent's own counting.
const o200k = createRequire(import.meta.url)("gpt-tokenizer/encoding/o200k_base") as { countTokens(text: string): number };
const countO200k = (text: string): number => o200k.countTokens(text);

const cleanups = cleanupsAfterEach();

const DESCRIPTION = "Explore the generated tables step by step, then submit the number of the last step.";

async function setUp(serverOptions: ScriptedServerOptions, model: string, input: Partial<AgentInput> = {}) {
  const server = await startScriptedOpenAIServer(serverOptions);
  cleanups.push(() => server.close());
  const folder = await mkdtemp(path.join(tmpdir(), "dynabox-agent-context-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  const agentInput: AgentInput = {
    taskId: "long",
    family: "test",
    description: DESCRIPTION,
    sandbox: await sandbox(),
    model: createModelClient({ model, baseURL: server.url, apiKey: "test", retryBaseDelayMs: 1 }),
    limits: { maxSteps: 45, wallSeconds: 600, stepTimeoutSeconds: 20 },
    trajectoryFile: path.join(folder, "trajectory.jsonl"),
    ...input,
  };
  return { server, input: agentInput };
}

async function steps(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.type === "step");
}

/** 39 steps that each print a long table (about 2,500 tokens), then a submit. */
function longTask(): ScriptedStep[] {
  const replies: ScriptedStep[] = [];
  for (let step = 1; step < 40; step++) {
    replies.push({
      reply: {
        thought: `look at table ${step}`,
        code: `table_${step} = [(i, (i * 7919 + ${step}) % 10007) for i in range(300)]\nprint("\\n".join(f"table ${step} row {i}: {v}" for i, v in table_${step}))`,
      },
    });
  }
  replies.push({ expect: { lastUserMessage: "table 39 row 299" }, reply: { thought: "done", code: "submit(39)" } });
  return replies;
}

describe("the context budget", () => {
  it("keeps every request of a 40-step task with long observations under the budget, and the task submits", async () => {
    const window = 12_000;
    const { server, input } = await setUp({ replies: longTask(), countTokens: countO200k, contextWindow: window }, "gpt-4o-mini", { contextTokens: window });
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: 39, steps: 40 });
    const budget = promptBudget(window);
    expect(server.requests).toHaveLength(40);
    for (const request of server.requests) expect(request.promptTokens).toBeLessThanOrEqual(budget);
    // The whole history would have been far over: the budget did the work.
    const records = await steps(input.trajectoryFile);
    const last = records.at(-1)?.context as Record<string, unknown>;
    expect(last).toMatchObject({ window_tokens: window, budget_tokens: budget, encoding: "o200k_base", overflow_retry: false });
    expect((last.folded as number[]).length).toBeGreaterThan(20);
    expect(last.folded as number[]).toContain(1);
    expect(String(last.note)).toContain("- step 30 ran: table_30 = [(i, (i * 7919 + 30) % 10007) for i in range(300)] (+1 more lines)");
    // The task message went whole in every request, with the note after it once steps were folded.
    const final = server.requests.at(-1)?.body.messages ?? [];
    expect(String(final[1]?.content).startsWith(DESCRIPTION)).toBe(true);
    expect(String(final[1]?.content)).toContain("were folded to fit the context window");
    // The budget's count and the server's measure agree for an exact tokenizer (our count may be higher, never lower).
    const counted = records.map((record) => (record.context as { request_tokens: number }).request_tokens);
    server.requests.forEach((request, index) => expect(request.promptTokens).toBeLessThanOrEqual(counted[index] as number));
    // The trajectory still holds every message whole.
    expect(String((records[0]?.new_messages as { content: string }[])[1]?.content).startsWith(DESCRIPTION)).toBe(true);
  });

  it("with an estimated count (a model without a known tokenizer), stays under the server's window", async () => {
    const window = 10_000;
    const { server, input } = await setUp({ replies: longTask(), countTokens: countO200k, contextWindow: window }, "local-model", { contextTokens: window });
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", steps: 40 });
    // Not one request was refused: the estimate (corrected by the usage the server reported) held.
    expect(server.requests).toHaveLength(40);
    for (const request of server.requests) expect(request.promptTokens).toBeLessThanOrEqual(window);
    const records = await steps(input.trajectoryFile);
    expect(records.every((record) => (record.context as { encoding: string }).encoding === "estimate")).toBe(true);
  });

  it("shrinks and retries once when the server says the context length is exceeded, and the task goes on", async () => {
    // The agent believes in a 64k window; the server's real one is 6,000 tokens.
    const { server, input } = await setUp({ replies: longTask().slice(-12), countTokens: countO200k, contextWindow: 6_000 }, "gpt-4o-mini", { contextTokens: 64_000 });
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", steps: 12, error: null });
    const rejected = server.requests.filter((request) => request.stepIndex === undefined);
    expect(rejected.length).toBe(1);
    expect(rejected[0]?.promptTokens).toBeGreaterThan(6_000);
    const records = await steps(input.trajectoryFile);
    const retried = records.filter((record) => (record.context as { overflow_retry: boolean }).overflow_retry);
    expect(retried).toHaveLength(1);
    // The lowered budget holds for the rest of the task: no second overflow.
    expect((records.at(-1)?.context as { budget_tokens: number }).budget_tokens).toBeLessThanOrEqual(promptBudget(6_000));
  });

  it("ends the task with a clear error when the system prompt and task alone do not fit", async () => {
    const { server, input } = await setUp({ replies: [] }, "gpt-4o-mini", { contextTokens: 1_100, description: "word ".repeat(2_000) });
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome.stopReason).toBe("model-error");
    expect(outcome.error).toMatch(/raise --context-tokens/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("replies as tool calls", () => {
  it("drives a task through the python and submit tools", async () => {
    const { server, input } = await setUp(
      {
        replies: [
          { expect: { tools: true }, reply: "", toolCalls: [{ name: "python", arguments: { thought: "multiply", code: "answer = 6 * 7\nprint(answer)" } }] },
          {
            expect: (request) => {
              const tool = request.messages?.at(-1);
              return tool?.role === "tool" && tool.tool_call_id === "call_0_0" && String(tool.content).includes("42") ? true : `last message ${JSON.stringify(tool)}`;
            },
            reply: "Done.",
            toolCalls: [{ name: "submit", arguments: { answer: "42" } }],
          },
        ],
      },
      "scripted",
      { replyFormat: "tool", description: "Compute 6 * 7 and submit it." },
    );
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: "42", steps: 2 });
    const records = await steps(input.trajectoryFile);
    expect(records.map((record) => record.reply_format)).toEqual(["tool", "tool"]);
    expect(records[1]).toMatchObject({ code: 'submit("42")', thought: "Done." });
    // The assistant's call went back to the server with its id, as the API requires.
    const assistant = server.requests[1]?.body.messages?.find((message) => message.role === "assistant");
    expect(assistant?.tool_calls).toEqual([{ id: "call_0_0", type: "function", function: { name: "python", arguments: expect.stringContaining("6 * 7") } }]);
  });

  it("under auto, an endpoint that rejects tools gets JSON instead, for the rest of the task", async () => {
    const { server, input } = await setUp(
      {
        rejectTools: true,
        replies: [
          { expect: { tools: false, responseFormat: "json_schema" }, reply: { thought: "multiply", code: "answer = 6 * 7" } },
          { expect: { tools: false, responseFormat: "json_schema" }, reply: { thought: "submit", code: "submit(answer)" } },
        ],
      },
      "scripted",
      { replyFormat: "auto", description: "Compute 6 * 7 and submit it." },
    );
    const outcome = await runAgent(input);
    server.assertDone();
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: 42, steps: 2 });
    expect(server.requests.map((request) => Array.isArray(request.body.tools))).toEqual([true, false, false]);
  });
});
