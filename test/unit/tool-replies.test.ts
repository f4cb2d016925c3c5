import { afterEach, describe, expect, it } from "vitest";
import { createModelClient, ModelError, type ModelClientEvent } from "../../src/agent/model-client.js";
import { parseToolReply, toolAnswers, type ToolCall } from "../../src/agent/tool-replies.js";
import { parseScript } from "../../src/testing/scripted-openai-server.js";
import { startScriptedOpenAIServer, type ScriptedServer, type ScriptedServerOptions } from "../../src/testing/index.js";

const servers: ScriptedServer[] = [];
async function serve(options: ScriptedServerOptions): Promise<ScriptedServer> {
  const server = await startScriptedOpenAIServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const messages = [
  { role: "system" as const, content: "You are an agent." },
  { role: "user" as const, content: "Task: add 1 and 2" },
];

function call(name: string, args: string, id = "call_1"): ToolCall {
  return { id, type: "function", function: { name, arguments: args } };
}

describe("parseToolReply", () => {
  it("reads the python tool's code and thought", () => {
    expect(parseToolReply("", [call("python", JSON.stringify({ thought: "add", code: "print(1 + 2)" }))])).toEqual({
      ok: true,
      value: { thought: "add", code: "print(1 + 2)" },
      format: "tool",
    });
  });

  it("turns the submit tool into a submit() call with a Python string literal", () => {
    const parsed = parseToolReply("done", [call("submit", JSON.stringify({ answer: 'say "hi"\n' }))]);
    expect(parsed).toMatchObject({ ok: true, value: { code: 'submit("say \\"hi\\"\\n")', thought: "done" } });
    expect(parseToolReply("", [call("submit", "{}")])).toMatchObject({ ok: true, value: { code: "submit()" } });
  });

  it("gives corrective messages for bad calls and falls back to text without calls", () => {
    expect(parseToolReply("", [call("python", "{not json")])).toMatchObject({ ok: false, reason: "invalid_json" });
    expect(parseToolReply("", [call("python", JSON.stringify({ code: "  " }))])).toMatchObject({ ok: false, reason: "empty_code" });
    expect(parseToolReply("", [call("shell", "{}")])).toMatchObject({ ok: false, reason: "unknown_tool" });
    expect(parseToolReply("Plan.\n```python\nx = 1\n```", [])).toMatchObject({ ok: true, format: "fenced", value: { code: "x = 1" } });
  });

  it("reads tool calls a template wrote into the text (<tool_call> blocks)", () => {
    const text = 'Let me count.\n<tool_call>\n{"name": "python", "arguments": {"code": "print(len(rows))"}}\n</tool_call>';
    expect(parseToolReply(text, [], true)).toEqual({ ok: true, value: { thought: "Let me count.", code: "print(len(rows))" }, format: "tool" });
    expect(parseToolReply("<tool_call>not json</tool_call>\n```python\nx = 1\n```", [], true)).toMatchObject({ ok: true, format: "fenced" });
    // Without tools offered, the text is only text.
    expect(parseToolReply(`${text}\n\`\`\`python\nx = 2\n\`\`\``, [])).toMatchObject({ ok: true, format: "fenced", value: { code: "x = 2" } });
  });

  it("answers every call: the first with the observation, the rest not run", () => {
    const answers = toolAnswers([call("python", "{}", "a"), call("python", "{}", "b")], "Observation:\n3");
    expect(answers).toEqual([
      { role: "tool", tool_call_id: "a", content: "Observation:\n3" },
      { role: "tool", tool_call_id: "b", content: expect.stringContaining("Not run") },
    ]);
  });
});

describe("the model client with tools", () => {
  it("offers the python and submit tools and returns the reply's tool calls", async () => {
    const server = await serve({
      replies: [{ expect: { tools: true, responseFormat: "none" }, reply: "", toolCalls: [{ name: "python", arguments: { code: "print(3)" } }] }],
    });
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {} });
    const completion = await client.complete({ messages, replyFormat: "tool" });
    server.assertDone();
    expect(completion.sentFormat).toBe("tool");
    expect(completion.toolCalls).toEqual([{ id: "call_0_0", type: "function", function: { name: "python", arguments: '{"code":"print(3)"}' } }]);
    const tools = server.requests[0]?.body.tools as { function: { name: string } }[];
    expect(tools.map((tool) => tool.function.name)).toEqual(["python", "submit"]);
  });

  it("takes arguments a server sent as an object instead of a JSON string", async () => {
    // A raw answer, as a non-conforming server sends it: `arguments` is an object.
    const body = {
      id: "x", object: "chat.completion", created: 1, model: "m",
      choices: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "python", arguments: { code: "print(3)" } } }] } }],
    };
    const server = await serve({ replies: [{ status: 200, body }] });
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {} });
    const completion = await client.complete({ messages, replyFormat: "tool" });
    expect(completion.toolCalls).toEqual([{ id: "c1", type: "function", function: { name: "python", arguments: '{"code":"print(3)"}' } }]);
    expect(parseToolReply(completion.content, completion.toolCalls)).toMatchObject({ ok: true, value: { code: "print(3)" } });
  });

  it("under auto, falls back to JSON once the endpoint rejects tools, and remembers it", async () => {
    const server = await serve({
      rejectTools: true,
      replies: [
        { expect: { tools: false, responseFormat: "json_schema" }, reply: { thought: "a", code: "x = 1" } },
        { expect: { tools: false, responseFormat: "json_schema" }, reply: { thought: "b", code: "x = 2" } },
      ],
    });
    const events: ModelClientEvent[] = [];
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {}, onEvent: (event) => events.push(event) });
    const first = await client.complete({ messages, replyFormat: "auto" });
    expect(first.sentFormat).toBe("json");
    expect(client.toolsSupported).toBe(false);
    await client.complete({ messages, replyFormat: "auto" });
    server.assertDone();
    // Tools were tried once, refused, and never offered again.
    expect(server.requests.map((request) => Array.isArray(request.body.tools))).toEqual([true, false, false]);
    expect(events.map((event) => event.type)).toEqual(["tools-fallback"]);
  });

  it("with --reply-format tool, a rejection is an error naming the other formats", async () => {
    const server = await serve({ rejectTools: true, replies: [] });
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {} });
    const error = await client.complete({ messages, replyFormat: "tool" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).message).toMatch(/--reply-format auto, json or fenced/);
  });

  it("marks a context-length error, with the window the server named, and does not retry it", async () => {
    const server = await serve({ contextWindow: 10, replies: [] });
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {}, retryBaseDelayMs: 1 });
    const error = (await client.complete({ messages }).catch((caught: unknown) => caught)) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect([error.contextExceeded, error.contextWindow, error.attempts]).toEqual([true, 10, 1]);
    expect(server.requests).toHaveLength(1);
  });

  it("lists the server's models with their window", async () => {
    const server = await serve({ contextWindow: 4_096, model: "local-7b", replies: [] });
    const client = createModelClient({ model: "local-7b", baseURL: server.url, apiKey: "k", env: {} });
    expect(await client.listModels()).toEqual([expect.objectContaining({ id: "local-7b", max_model_len: 4_096 })]);
  });
});

describe("the scripted server's measure", () => {
  it("counts every request's prompt tokens with its counter", async () => {
    const server = await serve({ countTokens: (text) => text.length, replies: [{ reply: "ok" }] });
    const client = createModelClient({ model: "m", baseURL: server.url, apiKey: "k", env: {} });
    const completion = await client.complete({ messages: [{ role: "user", content: "abcd" }], responseFormat: "text" });
    // 3 priming + 4 overhead + 4 characters.
    expect(server.requests[0]?.promptTokens).toBe(11);
    expect(completion.usage.promptTokens).toBe(11);
  });
});

describe("script files with tool calls", () => {
  it("accept toolCalls and the tools matcher, and reject a malformed call", () => {
    const loaded = parseScript({
      version: 1,
      steps: [{ when: { tools: true }, reply: "", toolCalls: [{ name: "python", arguments: { code: "print(1)" } }] }],
    });
    expect(loaded.replies[0]).toMatchObject({ when: { tools: true }, toolCalls: [{ name: "python", arguments: { code: "print(1)" } }] });
    expect(() => parseScript({ version: 1, steps: [{ reply: "", toolCalls: [{ arguments: "{}" }] }] }, "bad.json")).toThrow(/bad\.json is not a valid scripted-model file/);
  });
});
