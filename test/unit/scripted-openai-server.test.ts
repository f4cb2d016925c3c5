import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { loadScript, parseScript, startScriptedOpenAIServer, type ScriptedServer } from "../../src/testing/index.js";

const servers: ScriptedServer[] = [];
async function start(options: Parameters<typeof startScriptedOpenAIServer>[0]): Promise<ScriptedServer> {
  const server = await startScriptedOpenAIServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function client(server: ScriptedServer): OpenAI {
  return new OpenAI({ baseURL: server.url, apiKey: "test-key", maxRetries: 0, logLevel: "off" });
}

async function post(server: ScriptedServer, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${server.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

const user = (content: string) => ({ model: "m", messages: [{ role: "user" as const, content }] });

describe("scripted OpenAI server", () => {
  it("serves chat.completion JSON to the real openai client and records requests", async () => {
    const server = await start({ replies: [{ reply: "hello", usage: { prompt_tokens: 7, completion_tokens: 2 } }] });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const completion = await client(server).chat.completions.create({ model: "gpt-x", messages: [{ role: "user", content: "hi" }] });
    expect(completion).toMatchObject({
      id: "chatcmpl-scripted-0",
      object: "chat.completion",
      model: "gpt-x",
      choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
    });
    expect(typeof completion.created).toBe("number");
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body.messages).toEqual([{ role: "user", content: "hi" }]);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer test-key");
    expect(server.requests[0]?.stepIndex).toBe(0);
    server.assertDone();
  });

  it("sends an object reply as JSON text and estimates usage when none is scripted", async () => {
    const server = await start({ replies: [{ reply: { thought: "t", code: "print(1)" } }] });
    const completion = await client(server).chat.completions.create(user("go"));
    expect(JSON.parse(completion.choices[0]?.message.content ?? "")).toEqual({ thought: "t", code: "print(1)" });
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("answers scripted HTTP errors with their status, headers and an OpenAI-style body", async () => {
    const server = await start({ replies: [{ status: 429, message: "slow down", headers: { "retry-after": "3" } }] });
    const error = await client(server).chat.completions.create(user("x")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const apiError = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(apiError.status).toBe(429);
    expect(apiError.message).toContain("slow down");
    expect(apiError.headers.get("retry-after")).toBe("3");
    server.assertDone();
  });

  it("lets a function compute the step from the request", async () => {
    const server = await start({
      replies: [(request, { index }) => ({ reply: `echo ${index}: ${String(request.messages?.[0]?.content)}` })],
    });
    const completion = await client(server).chat.completions.create(user("ping"));
    expect(completion.choices[0]?.message.content).toBe("echo 0: ping");
    server.assertDone();
  });

  it("fails loudly when a request does not match the step's expect (matcher or predicate)", async () => {
    const server = await start({
      replies: [
        { reply: "a", expect: { lastUserMessage: "observation", responseFormat: "json_schema" } },
        { reply: "b", expect: (request) => (request.model === "other" ? true : `model was ${request.model}`) },
      ],
    });
    const first = await post(server, user("something else"));
    expect(first.status).toBe(500);
    expect(first.json.error.message).toMatch(/did not get the request it expected: last user message does not contain "observation"/);
    const second = await post(server, user("x"));
    expect(second.status).toBe(500);
    expect(second.json.error.message).toMatch(/model was m/);
    expect(server.failures).toHaveLength(2);
    expect(() => server.assertDone()).toThrow(/2 problem\(s\)/);
  });

  it("fails an unexpected extra call with HTTP 500 and a recorded failure", async () => {
    const server = await start({ replies: [{ reply: "only one" }] });
    expect((await post(server, user("1"))).status).toBe(200);
    const extra = await post(server, user("2"));
    expect(extra.status).toBe(500);
    expect(extra.json.error.message).toMatch(/unexpected call #2.*no scripted step left/);
    expect(() => server.assertDone()).toThrow(/unexpected call #2/);
  });

  it("assertDone throws on unconsumed steps", async () => {
    const server = await start({ replies: [{ reply: "used" }, { reply: "left", label: "the summary" }] });
    await post(server, user("1"));
    expect(server.remaining).toBe(1);
    expect(() => server.assertDone()).toThrow(/step 1 \(the summary\) was never consumed/);
  });

  it("picks steps by `when` on the last user message, in any call order", async () => {
    const server = await start({
      replies: [
        { when: { lastUserMessage: "task A" }, reply: "for A" },
        { when: { lastUserMessage: /task\s+B/ }, reply: "for B" },
      ],
    });
    expect((await post(server, user("do task B"))).json.choices[0].message.content).toBe("for B");
    expect((await post(server, user("do task A"))).json.choices[0].message.content).toBe("for A");
    server.assertDone();
  });

  it("rejects stream: true with a 400 that explains, and serves GET /v1/models", async () => {
    const server = await start({ replies: [], model: "scripted-7b" });
    const streamed = await post(server, { ...user("x"), stream: true });
    expect(streamed.status).toBe(400);
    expect(streamed.json.error.message).toMatch(/stream: false only/);
    const models = await client(server).models.list();
    expect(models.data.map((model) => model.id)).toEqual(["scripted-7b"]);
  });

  it("checks the API key when asked to", async () => {
    const server = await start({ replies: [{ reply: "ok" }], requireApiKey: "secret" });
    const error = await client(server).chat.completions.create(user("x")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    const good = new OpenAI({ baseURL: server.url, apiKey: "secret", maxRetries: 0 });
    expect((await good.chat.completions.create(user("x"))).choices[0]?.message.content).toBe("ok");
    server.assertDone();
  });
});

describe("script files", () => {
  let folder: string | undefined;
  afterEach(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
    folder = undefined;
  });

  it("loads a JSON script and drives the server from it", async () => {
    folder = mkdtempSync(join(tmpdir(), "dynabox-script-"));
    const path = join(folder, "demo.json");
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        model: "demo-model",
        steps: [
          { when: { lastUserMessage: { regex: "^observation", flags: "i" } }, reply: { thought: "done", code: "submit(42)" } },
          { when: { lastUserMessage: "Task:" }, reply: "Let me look.\n```python\nprint(open('data.csv').read())\n```", expect: { system: "You are" } },
          { status: 503, message: "warming up", headers: { "retry-after": "0" }, label: "flaky" },
        ],
      }),
    );
    const script = await loadScript(path);
    expect(script.model).toBe("demo-model");
    const server = await start({ replies: script.replies, model: script.model });
    const first = await post(server, { model: "demo-model", messages: [{ role: "system", content: "You are an agent" }, { role: "user", content: "Task: add" }] });
    expect(first.json.choices[0].message.content).toContain("```python");
    const second = await post(server, user("Observation: 1,2"));
    expect(JSON.parse(second.json.choices[0].message.content)).toEqual({ thought: "done", code: "submit(42)" });
    const third = await post(server, user("anything"));
    expect(third.status).toBe(503);
    server.assertDone();
  });

  it("rejects an invalid script with a message naming the problem", () => {
    expect(() => parseScript({ version: 2, steps: [] })).toThrow(DynaboxError);
    expect(() => parseScript({ version: 1, steps: [{ reply: "x", colour: "red" }] }, "demo.json")).toThrow(/demo\.json is not a valid scripted-model file/);
    expect(() => parseScript({ version: 1, steps: [{ reply: "x", when: { lastUserMessage: { regex: "(" } } }] })).toThrow(
      /not a valid regular expression/,
    );
  });
});
