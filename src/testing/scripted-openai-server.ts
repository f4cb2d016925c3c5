// A real HTTP server speaking the OpenAI chat-completions protocol, answering from a script.
// Tests drive the real `openai` client through it end to end, without a network or a model.
// It is strict on purpose: a request the script did not expect, a call with no step left and a
// step never consumed are all failures that `assertDone()` reports.

import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { requestTokens, type CountableMessage } from "../agent/tokens.js";
import { UserError } from "../errors.js";

// ---------- the request as the server sees it ----------

export interface ChatCompletionRequestBody {
  model?: string;
  messages?: Array<{ role?: string; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown }>;
  response_format?: { type?: string; json_schema?: unknown };
  tools?: unknown[];
  stream?: boolean;
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: ChatCompletionRequestBody;
  /** Index of the script step that answered, if one did. */
  stepIndex?: number;
  /** The prompt's size in tokens, as the server's `countTokens` measures it (messages, tools, schema). */
  promptTokens: number;
}

// ---------- the script ----------

/** A substring, or a regular expression, to find in a message's text. */
export type TextPattern = string | RegExp;

/** Declarative conditions on a request; all given ones must hold. */
export interface RequestMatcher {
  /** Text of the last `user` message. */
  lastUserMessage?: TextPattern;
  /** Text of any message. */
  anyMessage?: TextPattern;
  /** Text of the first `system` message. */
  system?: TextPattern;
  /** `json_schema` / `json_object` / `text` = that response_format type was sent; `none` = none was. */
  responseFormat?: "json_schema" | "json_object" | "text" | "none";
  model?: string;
  messageCount?: number;
  /** true = the request offered tools; false = it offered none. */
  tools?: boolean;
}

/** Returns true (or nothing) when the request is as expected; false or a reason when not. May throw. */
export type RequestPredicate = (request: ChatCompletionRequestBody) => boolean | string | void;

export type RequestExpectation = RequestMatcher | RequestPredicate;

export interface TokenUsageJson {
  prompt_tokens: number;
  completion_tokens: number;
}

interface StepCommon {
  /** Asserts on the request; a mismatch answers HTTP 500 and is recorded as a failure. */
  expect?: RequestExpectation;
  /**
   * Selects the step: a request takes the first unconsumed step whose `when` holds (a step without
   * `when` takes any request). Lets a demo script be robust to the order of calls.
   */
  when?: RequestMatcher;
  /** Wait this long before answering (for timeout and abort tests). */
  delayMs?: number;
  /** Never answer: the request hangs until the client gives up (a hung endpoint; wall-time and timeout tests). */
  hang?: boolean;
  /** A name for failure messages. */
  label?: string;
}

export interface ScriptedToolCall {
  name: string;
  /** Sent as its JSON text when an object. */
  arguments: string | Record<string, unknown>;
  /** Defaults to `call_<request>_<position>`. */
  id?: string;
}

export interface ScriptedReply extends StepCommon {
  /** Assistant content; an object is sent as its JSON text (a structured-output reply). */
  reply: string | Record<string, unknown>;
  /** Tool calls of the reply (finish_reason becomes `tool_calls`). */
  toolCalls?: ScriptedToolCall[];
  /** Defaults to an estimate of about 4 characters per token. */
  usage?: TokenUsageJson;
  finishReason?: "stop" | "length" | "content_filter";
}

export interface ScriptedHttpError extends StepCommon {
  status: number;
  /** Response body; defaults to an OpenAI-style `{error: {message, type, code}}` built from `message`. */
  body?: unknown;
  message?: string;
  /** e.g. `{"retry-after": "0"}` or `{"retry-after-ms": "20"}`. */
  headers?: Record<string, string>;
}

export type ScriptedAnswer = ScriptedReply | ScriptedHttpError;

/** Computes the answer from the request; `index` counts chat-completion calls from 0. */
export type ScriptedFunction = (
  request: ChatCompletionRequestBody,
  context: { index: number },
) => ScriptedAnswer | Promise<ScriptedAnswer>;

export type ScriptedStep = ScriptedAnswer | ScriptedFunction;

export interface ScriptedServerOptions {
  replies: ScriptedStep[];
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback by default. */
  host?: string;
  /** Listed by GET /v1/models and used when a request names no model. */
  model?: string;
  /** When set, requests without `Authorization: Bearer <this>` get 401. */
  requireApiKey?: string;
  /** Answer any request that offers `tools` with HTTP 400, as servers and models without tool calling do. */
  rejectTools?: boolean;
  /**
   * The model's window: a request whose prompt measures more tokens answers HTTP 400 "maximum
   * context length", as vLLM does, without consuming a step. Also listed by GET /v1/models as `max_model_len`.
   */
  contextWindow?: number;
  /** Measures text in tokens for `promptTokens`, `contextWindow` and default usage (default: 4 characters a token). */
  countTokens?: (text: string) => number;
}

export interface ScriptedServer {
  /** Base URL ending in /v1, for `baseURL` / OPENAI_BASE_URL. */
  readonly url: string;
  /** Every POST /v1/embeddings, in arrival order. */
  readonly embeddingRequests: readonly { model: string; input: string[] }[];
  /** Every POST /v1/chat/completions, in arrival order. */
  readonly requests: RecordedRequest[];
  /** What went wrong so far (unexpected requests, calls with no step left). */
  readonly failures: string[];
  /** Steps not consumed yet. */
  readonly remaining: number;
  close(): Promise<void>;
  /** Throws if any failure was recorded or any step was not consumed. */
  assertDone(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

// ---------- matching ----------

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : ""))
      .join("");
  }
  return "";
}

export function lastUserMessageText(request: ChatCompletionRequestBody): string {
  const messages = request.messages ?? [];
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    if (messages[index]?.role === "user") return textOf(messages[index]?.content);
  }
  return "";
}

function patternHolds(pattern: TextPattern, text: string): boolean {
  if (typeof pattern === "string") return text.includes(pattern);
  pattern.lastIndex = 0;
  return pattern.test(text);
}

function describePattern(pattern: TextPattern): string {
  return typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern);
}

/** Why the request does not satisfy the matcher, or undefined when it does. */
export function explainMismatch(matcher: RequestMatcher, request: ChatCompletionRequestBody): string | undefined {
  const messages = request.messages ?? [];
  if (matcher.lastUserMessage !== undefined && !patternHolds(matcher.lastUserMessage, lastUserMessageText(request))) {
    return `last user message does not contain ${describePattern(matcher.lastUserMessage)}`;
  }
  if (matcher.anyMessage !== undefined && !messages.some((message) => patternHolds(matcher.anyMessage!, textOf(message.content)))) {
    return `no message contains ${describePattern(matcher.anyMessage)}`;
  }
  if (matcher.system !== undefined) {
    const system = messages.find((message) => message.role === "system");
    if (!system || !patternHolds(matcher.system, textOf(system.content))) {
      return `system message does not contain ${describePattern(matcher.system)}`;
    }
  }
  if (matcher.responseFormat !== undefined) {
    const sent = request.response_format?.type ?? "none";
    if (sent !== matcher.responseFormat) return `response_format is ${sent}, expected ${matcher.responseFormat}`;
  }
  if (matcher.model !== undefined && request.model !== matcher.model) {
    return `model is ${JSON.stringify(request.model)}, expected ${JSON.stringify(matcher.model)}`;
  }
  if (matcher.messageCount !== undefined && messages.length !== matcher.messageCount) {
    return `${messages.length} messages, expected ${matcher.messageCount}`;
  }
  if (matcher.tools !== undefined && (Array.isArray(request.tools) && request.tools.length > 0) !== matcher.tools) {
    return matcher.tools ? "no tools were offered" : "tools were offered";
  }
  return undefined;
}

function checkExpectation(expectation: RequestExpectation, request: ChatCompletionRequestBody): string | undefined {
  if (typeof expectation !== "function") return explainMismatch(expectation, request);
  try {
    const verdict = expectation(request);
    if (verdict === false) return "the expect predicate returned false";
    if (typeof verdict === "string") return verdict;
    return undefined;
  } catch (error) {
    return `the expect predicate threw: ${error instanceof Error ? error.message : String(error)}`;
  }
}

// ---------- answers ----------

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The prompt's tokens: every message (text, tool calls) with the template overhead, the tools and the schema. */
export function measurePromptTokens(request: ChatCompletionRequestBody, count: (text: string) => number): number {
  const messages: CountableMessage[] = (request.messages ?? []).map((message) => {
    const countable: CountableMessage = { role: String(message.role ?? ""), content: textOf(message.content) };
    if (Array.isArray(message.tool_calls)) countable.tool_calls = message.tool_calls as CountableMessage["tool_calls"];
    if (typeof message.tool_call_id === "string") countable.tool_call_id = message.tool_call_id;
    return countable;
  });
  return requestTokens(messages, count, [request.tools, request.response_format]);
}

function completionJson(reply: ScriptedReply, request: ChatCompletionRequestBody, index: number, model: string, promptTokens: number) {
  const content = typeof reply.reply === "string" ? reply.reply : JSON.stringify(reply.reply);
  const usage = reply.usage ?? { prompt_tokens: promptTokens, completion_tokens: estimateTokens(content) };
  const toolCalls = reply.toolCalls?.map((call, position) => ({
    id: call.id ?? `call_${index}_${position}`,
    type: "function",
    function: { name: call.name, arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments) },
  }));
  return {
    id: `chatcmpl-scripted-${index}`,
    object: "chat.completion",
    // Fixed, so recorded runs are byte-for-byte reproducible.
    created: 1_700_000_000,
    model: request.model ?? model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: reply.finishReason ?? (toolCalls?.length ? "tool_calls" : "stop"),
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

function errorBody(message: string, type: string, code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.destroyed || response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  response.end(text);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function stepName(step: ScriptedStep, index: number): string {
  const label = typeof step === "function" ? undefined : step.label;
  return label ? `step ${index} (${label})` : `step ${index}`;
}

// ---------- the server ----------

export async function startScriptedOpenAIServer(options: ScriptedServerOptions): Promise<ScriptedServer> {
  const steps = [...options.replies];
  const consumed = steps.map(() => false);
  const requests: RecordedRequest[] = [];
  const embeddingRequests: { model: string; input: string[] }[] = [];
  const failures: string[] = [];
  const model = options.model ?? "scripted-model";
  const countTokens = options.countTokens ?? estimateTokens;
  let callCount = 0;

  const fail = (response: ServerResponse, message: string): void => {
    failures.push(message);
    sendJson(response, 500, errorBody(`scripted server: ${message}`, "scripted_server_failure"));
  };

  const pickStep = (body: ChatCompletionRequestBody): number | undefined => {
    for (let index = 0; index < steps.length; index += 1) {
      const step = steps[index];
      if (consumed[index] || step === undefined) continue;
      if (typeof step === "function" || step.when === undefined) return index;
      if (explainMismatch(step.when, body) === undefined) return index;
    }
    return undefined;
  };

  const answerChat = async (request: IncomingMessage, response: ServerResponse, text: string): Promise<void> => {
    let body: ChatCompletionRequestBody;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
      body = parsed as ChatCompletionRequestBody;
    } catch (error) {
      sendJson(response, 400, errorBody(`request body is not a JSON object: ${(error as Error).message}`, "invalid_request_error"));
      return;
    }
    const promptTokens = measurePromptTokens(body, countTokens);
    const record: RecordedRequest = { method: request.method ?? "POST", path: request.url ?? "", headers: request.headers, body, promptTokens };
    requests.push(record);
    const index = callCount;
    callCount += 1;

    if (body.stream === true) {
      sendJson(
        response,
        400,
        errorBody("the scripted server supports stream: false only; send the request without streaming", "invalid_request_error", "stream_unsupported"),
      );
      return;
    }

    const offersTools = Array.isArray(body.tools) && body.tools.length > 0;
    if (options.rejectTools === true && offersTools) {
      sendJson(response, 400, errorBody(`${body.model ?? model} does not support tools`, "invalid_request_error", "tools_unsupported"));
      return;
    }
    if (options.contextWindow !== undefined && promptTokens > options.contextWindow) {
      const message = `This model's maximum context length is ${options.contextWindow} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`;
      sendJson(response, 400, errorBody(message, "invalid_request_error", "context_length_exceeded"));
      return;
    }

    const stepIndex = pickStep(body);
    if (stepIndex === undefined) {
      const pending = consumed.filter((done) => !done).length;
      const why = pending === 0 ? "no scripted step left" : `none of the ${pending} remaining steps matches (their \`when\` conditions)`;
      fail(response, `unexpected call #${index + 1} to /v1/chat/completions: ${why}; last user message: ${JSON.stringify(lastUserMessageText(body).slice(0, 200))}`);
      return;
    }
    consumed[stepIndex] = true;
    record.stepIndex = stepIndex;
    const step = steps[stepIndex]!;

    let answer: ScriptedAnswer;
    try {
      answer = typeof step === "function" ? await step(body, { index }) : step;
    } catch (error) {
      fail(response, `${stepName(step, stepIndex)}: the step function threw: ${(error as Error).message}`);
      return;
    }
    if (answer.expect !== undefined) {
      const mismatch = checkExpectation(answer.expect, body);
      if (mismatch !== undefined) {
        fail(response, `${stepName(answer, stepIndex)} did not get the request it expected: ${mismatch}`);
        return;
      }
    }

    if (answer.hang === true || (answer.delayMs !== undefined && answer.delayMs > 0)) {
      const finished = await new Promise<boolean>((resolve) => {
        // A hang still ends when the client goes away (or the server closes).
        const timer = answer.hang === true ? undefined : setTimeout(() => resolve(true), answer.delayMs);
        response.once("close", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (!finished) return;
    }

    if ("status" in answer) {
      const body = answer.body ?? errorBody(answer.message ?? `scripted HTTP ${answer.status}`, answer.status >= 500 ? "server_error" : "invalid_request_error");
      sendJson(response, answer.status, body, answer.headers);
      return;
    }
    sendJson(response, 200, completionJson(answer, body, index, model, promptTokens));
  };

  const server = createServer((request, response) => {
    void (async () => {
      const text = await readBody(request);
      const path = (request.url ?? "").split("?")[0];
      if (options.requireApiKey !== undefined && request.headers.authorization !== `Bearer ${options.requireApiKey}`) {
        sendJson(response, 401, errorBody("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"));
        return;
      }
      if (request.method === "POST" && path === "/v1/chat/completions") {
        await answerChat(request, response, text);
      } else if (request.method === "POST" && path === "/v1/embeddings") {
        const body = JSON.parse(text || "{}") as { model?: string; input?: string | string[] };
        const inputs = typeof body.input === "string" ? [body.input] : (body.input ?? []);
        embeddingRequests.push({ model: body.model ?? model, input: inputs });
        sendJson(response, 200, {
          object: "list",
          model: body.model ?? model,
          data: inputs.map((input, index) => ({ object: "embedding", index, embedding: hashedEmbedding(input) })),
          usage: { prompt_tokens: 0, total_tokens: 0 },
        });
      } else if (request.method === "GET" && path === "/v1/models") {
        const entry = { id: model, object: "model", created: 1_700_000_000, owned_by: "dynabox-scripted" };
        sendJson(response, 200, { object: "list", data: [options.contextWindow === undefined ? entry : { ...entry, max_model_len: options.contextWindow }] });
      } else {
        sendJson(response, 404, errorBody(`the scripted server does not serve ${request.method} ${path}`, "invalid_request_error"));
      }
    })().catch((error: unknown) => {
      failures.push(`internal error: ${(error as Error).message}`);
      sendJson(response, 500, errorBody(`scripted server internal error: ${(error as Error).message}`, "server_error"));
    });
  });

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };

  return {
    url: `http://${urlHost}:${address.port}/v1`,
    requests,
    embeddingRequests,
    failures,
    get remaining() {
      return consumed.filter((done) => !done).length;
    },
    close,
    assertDone() {
      const problems = [...failures];
      consumed.forEach((done, index) => {
        if (!done) problems.push(`${stepName(steps[index]!, index)} was never consumed`);
      });
      if (problems.length > 0) {
        throw new Error(`scripted OpenAI server: ${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
      }
    },
    [Symbol.asyncDispose]: close,
  };
}

// ---------- script files (for the CLI's scripted demo) ----------

const patternFileSchema = z.union([
  z.string(),
  z
    .object({ regex: z.string(), flags: z.string().regex(/^[imsu]*$/).optional() })
    .strict()
    .refine((pattern) => {
      try {
        new RegExp(pattern.regex, pattern.flags);
        return true;
      } catch {
        return false;
      }
    }, "not a valid regular expression"),
]);

const matcherFileSchema = z
  .object({
    lastUserMessage: patternFileSchema.optional(),
    anyMessage: patternFileSchema.optional(),
    system: patternFileSchema.optional(),
    responseFormat: z.enum(["json_schema", "json_object", "text", "none"]).optional(),
    model: z.string().optional(),
    messageCount: z.number().int().nonnegative().optional(),
    tools: z.boolean().optional(),
  })
  .strict();

const commonFileFields = {
  expect: matcherFileSchema.optional(),
  when: matcherFileSchema.optional(),
  delayMs: z.number().int().nonnegative().optional(),
  hang: z.boolean().optional(),
  label: z.string().optional(),
};

const replyStepFileSchema = z
  .object({
    reply: z.union([z.string(), z.record(z.string(), z.unknown())]),
    toolCalls: z
      .array(z.object({ name: z.string(), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]), id: z.string().optional() }).strict())
      .optional(),
    usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).optional(),
    finishReason: z.enum(["stop", "length", "content_filter"]).optional(),
    ...commonFileFields,
  })
  .strict();

const errorStepFileSchema = z
  .object({
    status: z.number().int().min(400).max(599),
    body: z.unknown().optional(),
    message: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    ...commonFileFields,
  })
  .strict();

export const scriptFileSchema = z
  .object({
    version: z.literal(1),
    model: z.string().optional(),
    steps: z.array(z.union([replyStepFileSchema, errorStepFileSchema])).min(1),
  })
  .strict();
export type ScriptFile = z.infer<typeof scriptFileSchema>;

export interface LoadedScript {
  model?: string;
  replies: ScriptedAnswer[];
}

type MatcherFile = z.infer<typeof matcherFileSchema>;

function toPattern(pattern: z.infer<typeof patternFileSchema> | undefined): TextPattern | undefined {
  if (pattern === undefined || typeof pattern === "string") return pattern;
  return new RegExp(pattern.regex, pattern.flags);
}

function toMatcher(file: MatcherFile | undefined): RequestMatcher | undefined {
  if (file === undefined) return undefined;
  const matcher: RequestMatcher = {};
  const lastUserMessage = toPattern(file.lastUserMessage);
  const anyMessage = toPattern(file.anyMessage);
  const system = toPattern(file.system);
  if (lastUserMessage !== undefined) matcher.lastUserMessage = lastUserMessage;
  if (anyMessage !== undefined) matcher.anyMessage = anyMessage;
  if (system !== undefined) matcher.system = system;
  if (file.responseFormat !== undefined) matcher.responseFormat = file.responseFormat;
  if (file.model !== undefined) matcher.model = file.model;
  if (file.messageCount !== undefined) matcher.messageCount = file.messageCount;
  if (file.tools !== undefined) matcher.tools = file.tools;
  return matcher;
}

/** Validate a parsed script (`{"version": 1, "steps": [...]}`) into server steps. */
export function parseScript(value: unknown, source = "script"): LoadedScript {
  const result = scriptFileSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new UserError("DYNABOX_INVALID_INPUT", `${source} is not a valid scripted-model file: ${problems.join("; ")}`);
  }
  const replies = result.data.steps.map((step): ScriptedAnswer => {
    const { expect, when, ...rest } = step;
    const answer = { ...rest } as ScriptedAnswer;
    const expectMatcher = toMatcher(expect);
    const whenMatcher = toMatcher(when);
    if (expectMatcher) answer.expect = expectMatcher;
    if (whenMatcher) answer.when = whenMatcher;
    return answer;
  });
  return result.data.model === undefined ? { replies } : { model: result.data.model, replies };
}

/** Read and validate a JSON script file. */
export async function loadScript(path: string): Promise<LoadedScript> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_USAGE", `can not read the script file ${path}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseScript(value, path);
}

/**
 * What POST /v1/embeddings answers: a deterministic bag-of-words vector (each lowercase word
 * hashed into one of 64 dimensions, normalized). Not a model: texts that share words come out
 * close, which is what retrieval tests need.
 */
export function hashedEmbedding(text: string, dimensions = 64): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 2166136261;
    for (let index = 0; index < word.length; index++) hash = Math.imul(hash ^ word.charCodeAt(index), 16777619) >>> 0;
    vector[hash % dimensions]! += 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}
