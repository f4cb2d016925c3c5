import { afterEach, describe, expect, it } from "vitest";
import {
  createModelClient,
  ModelError,
  PLACEHOLDER_API_KEY,
  type ModelClientEvent,
  type ModelClientOptions,
} from "../../src/agent/model-client.js";
import { computeCost, DEFAULT_PRICES, lookupPrice, readPricesOption } from "../../src/agent/pricing.js";
import { parseReply } from "../../src/agent/reply-parser.js";
import { DynaboxError, isAbortError, UserError } from "../../src/errors.js";
import { startScriptedOpenAIServer, type ScriptedServer, type ScriptedStep } from "../../src/testing/index.js";

const servers: ScriptedServer[] = [];
async function serve(replies: ScriptedStep[]): Promise<ScriptedServer> {
  const server = await startScriptedOpenAIServer({ replies });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

// Tiny backoff and no jitter randomness, so retry tests take milliseconds and are repeatable.
function clientFor(server: ScriptedServer, options: Partial<ModelClientOptions> = {}) {
  return createModelClient({
    model: "gpt-4o-mini",
    baseURL: server.url,
    apiKey: "test-key",
    retryBaseDelayMs: 1,
    random: () => 0.5,
    env: {},
    ...options,
  });
}

const messages = [
  { role: "system" as const, content: "You are an agent." },
  { role: "user" as const, content: "Task: add 1 and 2" },
];

describe("model client over the scripted server", () => {
  it("returns content, usage, cost, latency and one attempt for a normal reply", async () => {
    const server = await serve([{ reply: "The answer:\n```python\nprint(1 + 2)\n```", usage: { prompt_tokens: 1000, completion_tokens: 500 } }]);
    const client = clientFor(server);
    const completion = await client.complete({ messages });
    expect(completion.content).toContain("print(1 + 2)");
    expect(completion.usage).toEqual({ promptTokens: 1000, completionTokens: 500 });
    expect(completion.usageReported).toBe(true);
    // gpt-4o-mini default price: 0.15 in, 0.60 out per million tokens.
    expect(completion.costUsd).toBeCloseTo((1000 * 0.15 + 500 * 0.6) / 1_000_000, 12);
    expect(completion.costNote).toBeUndefined();
    expect(completion.attempts).toBe(1);
    expect(completion.latencyMs).toBeGreaterThan(0);
    expect(completion.structuredOutput).toBe(false);
    expect(completion.parsed).toBeUndefined();
    expect(server.requests[0]?.body).toMatchObject({ model: "gpt-4o-mini", messages });
    expect(server.requests[0]?.body.response_format).toBeUndefined();
    expect(server.requests[0]?.headers.authorization).toBe("Bearer test-key");
    server.assertDone();
  });

  it("asks for strict json_schema structured output and parses {thought, code}", async () => {
    const server = await serve([{ reply: { thought: "add", code: "print(3)" }, expect: { responseFormat: "json_schema" } }]);
    const completion = await clientFor(server).complete({ messages, responseFormat: "thought_code" });
    expect(completion.parsed).toEqual({ thought: "add", code: "print(3)" });
    expect(completion.structuredOutput).toBe(true);
    expect(server.requests[0]?.body.response_format).toEqual({
      type: "json_schema",
      json_schema: {
        name: "thought_code",
        strict: true,
        schema: {
          type: "object",
          properties: { thought: expect.objectContaining({ type: "string" }), code: expect.objectContaining({ type: "string" }) },
          required: ["thought", "code"],
          additionalProperties: false,
        },
      },
    });
    server.assertDone();
  });

  it("falls back to text after a 400 about response_format, and remembers it", async () => {
    const server = await serve([
      { status: 400, message: "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model." },
      { reply: "Plan.\n```python\nx = 1\n```", expect: { responseFormat: "none" } },
      { reply: "```python\nx = 2\n```", expect: { responseFormat: "none" } },
    ]);
    const events: ModelClientEvent[] = [];
    const client = clientFor(server, { onEvent: (event) => events.push(event) });
    expect(client.structuredOutputSupported).toBe(true);
    const first = await client.complete({ messages, responseFormat: "thought_code" });
    expect(first.attempts).toBe(2);
    expect(first.structuredOutput).toBe(false);
    expect(first.parsed).toEqual({ thought: "Plan.", code: "x = 1" });
    expect(client.structuredOutputSupported).toBe(false);
    expect(events).toEqual([expect.objectContaining({ type: "structured-output-fallback", status: 400 })]);
    const second = await client.complete({ messages, responseFormat: "thought_code" });
    expect(second.attempts).toBe(1);
    expect(second.parsed?.code).toBe("x = 2");
    server.assertDone();
  });

  it("does not fall back on an unrelated 400: that is a non-retryable model error with the status", async () => {
    const server = await serve([{ status: 400, message: "messages: too long" }]);
    const error = await clientFor(server).complete({ messages, responseFormat: "thought_code" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: "DYNABOX_MODEL", status: 400, retryable: false, attempts: 1 });
    expect(DynaboxError.isInstance(error)).toBe(true);
    server.assertDone();
  });

  it("retries a 429, honouring retry-after-ms, then succeeds", async () => {
    const server = await serve([
      { status: 429, message: "Rate limit reached", headers: { "retry-after-ms": "40" } },
      { reply: "ok" },
    ]);
    const events: ModelClientEvent[] = [];
    const completion = await clientFor(server, { onEvent: (event) => events.push(event) }).complete({ messages });
    expect(completion.content).toBe("ok");
    expect(completion.attempts).toBe(2);
    expect(completion.latencyMs).toBeGreaterThanOrEqual(35);
    expect(events).toEqual([{ type: "model-retry", attempt: 1, delayMs: 40, status: 429, message: expect.stringContaining("Rate limit") }]);
    server.assertDone();
  });

  it("retries two 500s with exponential backoff, then succeeds", async () => {
    const server = await serve([{ status: 500, message: "boom" }, { status: 502, message: "bad gateway" }, { reply: "fine" }]);
    const delays: number[] = [];
    const completion = await clientFor(server, {
      retryBaseDelayMs: 10,
      onEvent: (event) => {
        if (event.type === "model-retry") delays.push(event.delayMs);
      },
    }).complete({ messages });
    expect(completion.content).toBe("fine");
    expect(completion.attempts).toBe(3);
    // Equal jitter with random() = 0.5: 3/4 of 10 ms, then of 20 ms.
    expect(delays).toEqual([7.5, 15]);
    server.assertDone();
  });

  it("gives up after maxRetries with a retryable model error", async () => {
    const server = await serve([{ status: 503 }, { status: 503 }, { status: 503 }]);
    const error = await clientFor(server, { maxRetries: 2 }).complete({ messages }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "DYNABOX_MODEL", status: 503, retryable: true, attempts: 3 });
    expect((error as Error).message).toMatch(/HTTP 503.*after 3 attempts/);
    server.assertDone();
  });

  it("retries a connection error (nothing listening), then reports it", async () => {
    const server = await serve([]);
    const url = server.url;
    await server.close();
    const client = createModelClient({ model: "local", baseURL: url, maxRetries: 1, retryBaseDelayMs: 1, env: {} });
    const error = await client.complete({ messages }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "DYNABOX_MODEL", retryable: true, attempts: 2 });
    expect((error as Error).message).toMatch(/can not reach the model endpoint/);
  });

  it("names the fix for a rejected key", async () => {
    const server = await startScriptedOpenAIServer({ replies: [], requireApiKey: "right" });
    servers.push(server);
    const error = await clientFor(server, { apiKey: "wrong" }).complete({ messages }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "DYNABOX_MODEL", status: 401, retryable: false });
    expect((error as Error).message).toMatch(/--api-key/);
  });

  it("cancels an in-flight call when the signal aborts", async () => {
    const server = await serve([{ reply: "too late", delayMs: 5_000 }]);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const error = await clientFor(server).complete({ messages, signal: controller.signal }).catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
    expect(error).toMatchObject({ code: "DYNABOX_ABORTED" });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("cancels during the backoff wait too", async () => {
    const server = await serve([{ status: 429, headers: { "retry-after": "30" } }]);
    const controller = new AbortController();
    // Abort once the 429 was answered (the client is then waiting 30 s to retry), not after a fixed
    // delay that a loaded machine may not reach the server within.
    const watcher = setInterval(() => {
      if (server.requests.length > 0) controller.abort();
    }, 10);
    const error = await clientFor(server)
      .complete({ messages, signal: controller.signal })
      .catch((caught: unknown) => caught)
      .finally(() => clearInterval(watcher));
    expect(isAbortError(error)).toBe(true);
    server.assertDone();
  });

  it("times out a slow answer and retries it", async () => {
    const server = await serve([{ reply: "slow", delayMs: 2_000 }, { reply: "fast" }]);
    const completion = await clientFor(server, { timeoutMs: 100 }).complete({ messages });
    expect(completion.content).toBe("fast");
    expect(completion.attempts).toBe(2);
  });

  it("uses price overrides, and counts an unknown model as 0 with a note", async () => {
    const server = await serve([
      { reply: "a", usage: { prompt_tokens: 2_000_000, completion_tokens: 1_000_000 } },
      { reply: "b", usage: { prompt_tokens: 10, completion_tokens: 10 } },
    ]);
    const priced = await clientFor(server, { model: "my-local-70b", prices: { "my-local-70b": { input: 1, output: 3 } } }).complete({ messages });
    expect(priced.costUsd).toBeCloseTo(5, 10);
    const unknown = await clientFor(server, { model: "mystery-model" }).complete({ messages });
    expect(unknown.costUsd).toBe(0);
    expect(unknown.costNote).toMatch(/no price known for model "mystery-model".*--prices/);
    server.assertDone();
  });

  it("a malformed reply reaches the parser as a failure with a corrective message", async () => {
    const server = await serve([{ reply: "I would rather explain in words." }]);
    const completion = await clientFor(server).complete({ messages, responseFormat: "thought_code" });
    expect(completion.parsed).toBeUndefined();
    const parse = parseReply(completion.content);
    expect(parse).toMatchObject({ ok: false, reason: "no_code" });
    if (!parse.ok) expect(parse.correctiveMessage).toMatch(/```python/);
    server.assertDone();
  });
});

describe("model client configuration", () => {
  it("requires a key for the OpenAI API, naming --api-key and OPENAI_API_KEY", () => {
    const attempt = () => createModelClient({ model: "gpt-4o", env: {} });
    expect(attempt).toThrow(UserError);
    expect(attempt).toThrow(/--api-key.*OPENAI_API_KEY/);
  });

  it("reads OPENAI_API_KEY and OPENAI_BASE_URL from the environment when not given", async () => {
    const server = await serve([{ reply: "env" }]);
    const client = createModelClient({ model: "m", env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "from-env" } });
    expect(client.baseURL).toBe(server.url);
    await client.complete({ messages });
    expect(server.requests[0]?.headers.authorization).toBe("Bearer from-env");
    const openai = createModelClient({ model: "gpt-4o", env: { OPENAI_API_KEY: "sk-x" } });
    expect(openai.baseURL).toBe("https://api.openai.com/v1");
  });

  it("sends a placeholder key to a local server when none is given", async () => {
    const server = await serve([{ reply: "local" }]);
    await createModelClient({ model: "llama", baseURL: server.url, env: {} }).complete({ messages });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${PLACEHOLDER_API_KEY}`);
  });

  it("rejects a missing model and a bad base URL as user errors", () => {
    expect(() => createModelClient({ model: "", apiKey: "k", env: {} })).toThrow(/--model/);
    expect(() => createModelClient({ model: "m", baseURL: "localhost 8000", env: {} })).toThrow(/--base-url/);
  });
});

describe("pricing", () => {
  it("prices dated snapshots like their family and prefers overrides", () => {
    expect(lookupPrice("gpt-4o-2024-08-06")).toMatchObject({ source: "default", matchedName: "gpt-4o", price: DEFAULT_PRICES["gpt-4o"] });
    expect(lookupPrice("gpt-4o", { "gpt-4o": { input: 1, output: 1 } })).toMatchObject({ source: "override", price: { input: 1, output: 1 } });
    expect(computeCost("gpt-4o", { promptTokens: 1_000_000, completionTokens: 0 }).costUsd).toBe(DEFAULT_PRICES["gpt-4o"]?.input);
  });

  it("parses --prices as inline JSON and rejects bad tables", () => {
    expect(readPricesOption('{"m": {"input": 0.5, "output": 1.5}}')).toEqual({ m: { input: 0.5, output: 1.5 } });
    expect(() => readPricesOption('{"m": {"input": -1, "output": 1}}')).toThrow(UserError);
    expect(() => readPricesOption("{not json")).toThrow(/not valid JSON/);
    expect(() => readPricesOption("/no/such/prices.json")).toThrow(/can not read file/);
  });
});
