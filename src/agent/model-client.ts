// The one place that talks to a language model: the `openai` package pointed at any
// OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp, the scripted test server).
// Retries are ours, not the SDK's (it gets maxRetries: 0), so attempts are counted once, the
// backoff is testable and the retry-after header is honoured in one place.

import { setTimeout as sleep } from "node:timers/promises";
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { openAiEmbedder, type Embedder } from "../actions/retrieve.js";
import { DynaboxError, EnvironmentError, UserError } from "../errors.js";
import { isContextOverflowMessage, windowFromOverflowMessage } from "./context-window.js";
import { computeCost, type PriceTable } from "./pricing.js";
import { parseReply, THOUGHT_CODE_JSON_SCHEMA, type ThoughtCode } from "./reply-parser.js";
import { AGENT_TOOLS, type ReplyFormatChoice, type ToolCall } from "./tool-replies.js";

/** The structured-output request for {thought, code}. */
export const THOUGHT_CODE_RESPONSE_FORMAT = {
  type: "json_schema" as const,
  json_schema: { name: "thought_code", strict: true, schema: { ...THOUGHT_CODE_JSON_SCHEMA } },
};

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";
/** Sent as the key to local servers that need none (the SDK refuses an empty key). */
export const PLACEHOLDER_API_KEY = "not-needed";

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** An assistant message's tool calls (the `tool` reply format). */
  tool_calls?: ToolCall[];
  /** A `tool` message answers this call. */
  tool_call_id?: string;
}

export type ResponseFormat = "thought_code" | "text";

export interface CompletionRequest {
  messages: ChatMessage[];
  /** `thought_code` asks for structured output {thought, code} where the endpoint supports it. */
  responseFormat?: ResponseFormat;
  /**
   * How to ask for the reply (wins over `responseFormat`): `json` = structured output, falling
   * back to text; `fenced` = text; `tool` = the python and submit tools; `auto` = tools while the
   * endpoint takes them, else as `json`.
   */
  replyFormat?: ReplyFormatChoice;
  signal?: AbortSignal;
  /** Told of each retry of this call (besides the client's onEvent), so the caller can record it with its task. */
  onRetry?: (event: Extract<ModelClientEvent, { type: "model-retry" }>) => void;
}

/** What a request was actually sent as. */
export type SentFormat = "tool" | "json" | "fenced";

export interface CompletionUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface Completion {
  content: string;
  /** {thought, code} when `thought_code` was asked for and the reply parsed. */
  parsed?: ThoughtCode;
  usage: CompletionUsage;
  /** False when the server sent no usage (the zeros above are then not real). */
  usageReported: boolean;
  costUsd: number;
  /** Why the cost may be 0 or unreliable (an unpriced model). */
  costNote?: string;
  /** Wall time of the whole call, retries and backoff included. */
  latencyMs: number;
  /** HTTP requests made: 1 when the first one succeeded. */
  attempts: number;
  /** Whether this call was sent with the json_schema response_format. */
  structuredOutput: boolean;
  /** How this call asked for the reply (after any fallback). */
  sentFormat: SentFormat;
  /** The reply's tool calls (empty unless tools were offered and the model called them). */
  toolCalls: ToolCall[];
  finishReason: string | undefined;
  /** The model name the server reported. */
  responseModel: string | undefined;
}

export type ModelClientEvent =
  | { type: "model-retry"; attempt: number; delayMs: number; status: number | undefined; message: string }
  | { type: "structured-output-fallback"; status: number; message: string }
  | { type: "tools-fallback"; status: number; message: string };

export interface ModelClientOptions {
  model: string;
  /** Defaults to OPENAI_BASE_URL, then the OpenAI API. */
  baseURL?: string;
  /** Defaults to OPENAI_API_KEY; optional for non-OpenAI base URLs. */
  apiKey?: string;
  /** Retries after the first attempt, on 408/429/5xx and connection errors (default 4). */
  maxRetries?: number;
  /** Per-request timeout (default 120 s). */
  timeoutMs?: number;
  /** Price overrides, per million tokens; see pricing.ts. */
  prices?: PriceTable;
  /** First backoff delay (default 500 ms); doubles per retry, with jitter. */
  retryBaseDelayMs?: number;
  /** Cap on one backoff delay (default 20 s). */
  retryMaxDelayMs?: number;
  /** Cap on an honoured retry-after (default 60 s). */
  maxRetryAfterMs?: number;
  temperature?: number;
  /** Cap on completion tokens per call. */
  maxOutputTokens?: number;
  /** Retry and fallback notices, for the CLI to render. */
  onEvent?: (event: ModelClientEvent) => void;
  /** For tests: where OPENAI_* are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** For tests: jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface ModelClient {
  readonly model: string;
  readonly baseURL: string;
  /** Starts true; false for the rest of the session once the endpoint rejected response_format. */
  readonly structuredOutputSupported: boolean;
  /** Starts true; false for the rest of the session once the endpoint rejected `tools` (under `auto`). */
  readonly toolsSupported: boolean;
  complete(request: CompletionRequest): Promise<Completion>;
  /** The entries of GET /v1/models (with any window fields the server adds), or undefined when it failed. */
  listModels(signal?: AbortSignal): Promise<Record<string, unknown>[] | undefined>;
  /**
   * Checks the endpoint and the key with one cheap request (GET /models) before any task runs.
   * Throws an EnvironmentError when the endpoint can not be reached or refuses the key (401/403);
   * returns the listed models (undefined when the server does not list them).
   */
  checkEndpoint(signal?: AbortSignal): Promise<Record<string, unknown>[] | undefined>;
  /** Embeddings from the same endpoint, for the action library's retrieval. */
  embedder(model: string): Embedder;
}

/** A failed model call: who must act is in the message, whether a retry helps in `retryable`. */
export class ModelError extends DynaboxError {
  readonly status: number | undefined;
  readonly attempts: number;
  /** The server said the prompt is longer than the model's context. */
  readonly contextExceeded: boolean;
  /** The window the server named in that error, when it named one. */
  readonly contextWindow: number | undefined;

  constructor(
    message: string,
    options: { status?: number; retryable: boolean; attempts: number; cause?: unknown; contextExceeded?: boolean; contextWindow?: number },
  ) {
    super("DYNABOX_MODEL", message, {
      retryable: options.retryable,
      cause: options.cause,
      details: { status: options.status, attempts: options.attempts, context_exceeded: options.contextExceeded ?? false },
    });
    this.status = options.status;
    this.attempts = options.attempts;
    this.contextExceeded = options.contextExceeded ?? false;
    this.contextWindow = options.contextWindow;
  }
}

function abortedError(cause?: unknown): DynaboxError {
  return new DynaboxError("DYNABOX_ABORTED", "the model call was aborted", { cause });
}

function isOpenAIHost(baseURL: string): boolean {
  return new URL(baseURL).hostname === "api.openai.com";
}

function resolveConnection(options: ModelClientOptions): { baseURL: string; apiKey: string } {
  const env = options.env ?? process.env;
  if (!options.model || options.model.trim() === "") {
    throw new UserError("DYNABOX_USAGE", "no model given: pass --model <name> (e.g. gpt-4o-mini, or the name your local server serves)");
  }
  const baseURL = options.baseURL || env.OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL;
  try {
    new URL(baseURL);
  } catch {
    throw new UserError("DYNABOX_USAGE", `--base-url / OPENAI_BASE_URL is not a URL: "${baseURL}" (e.g. http://localhost:8000/v1)`);
  }
  const apiKey = options.apiKey || env.OPENAI_API_KEY;
  if (apiKey) return { baseURL, apiKey };
  if (isOpenAIHost(baseURL)) {
    throw new UserError(
      "DYNABOX_USAGE",
      `no API key for ${baseURL}: pass --api-key or set OPENAI_API_KEY (or point --base-url / OPENAI_BASE_URL at a local OpenAI-compatible server)`,
    );
  }
  return { baseURL, apiKey: PLACEHOLDER_API_KEY };
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** From retry-after-ms (OpenAI) or retry-after (seconds or an HTTP date). */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function errorText(error: APIError): string {
  const body = error.error === undefined ? "" : JSON.stringify(error.error);
  return `${error.message} ${body}`;
}

/** A 400/422 that blames response_format: the endpoint (or model) has no structured output. */
function isStructuredOutputRejection(error: unknown): error is APIError {
  if (!(error instanceof APIError) || (error.status !== 400 && error.status !== 422)) return false;
  return /response_format|json_schema|structured output/i.test(errorText(error));
}

/** Tool-call arguments as JSON text; some servers send an object where the API says a string. */
function argumentsText(value: unknown): string {
  if (typeof value === "string") return value;
  return value === undefined || value === null ? "" : JSON.stringify(value);
}

/** A 400/422 that blames tools: the endpoint (or the model's template) has no tool calling. */
function isToolsRejection(error: unknown): error is APIError {
  if (!(error instanceof APIError) || (error.status !== 400 && error.status !== 422)) return false;
  return /\btools?\b|tool_choice|function.?call/i.test(errorText(error));
}

/** A 400/413 saying the prompt does not fit the model's context. */
function contextOverflow(error: unknown): { window: number | undefined } | undefined {
  if (!(error instanceof APIError) || (error.status !== 400 && error.status !== 413 && error.status !== 422)) return undefined;
  const text = errorText(error);
  return isContextOverflowMessage(text) ? { window: windowFromOverflowMessage(text) } : undefined;
}

function describeFailure(error: unknown, baseURL: string, model: string): { message: string; status?: number; retryable: boolean } {
  if (error instanceof APIConnectionError) {
    return { message: `can not reach the model endpoint at ${baseURL}: ${error.message}`, retryable: true };
  }
  if (error instanceof APIError && error.status !== undefined) {
    const status = error.status;
    const detail = error.message.replace(/^\d{3}\s*/, "") || "no message";
    let hint = "";
    if (status === 401 || status === 403) hint = " (check --api-key / OPENAI_API_KEY)";
    else if (status === 404) hint = ` (check --model "${model}" and --base-url ${baseURL})`;
    return { message: `the model endpoint answered HTTP ${status}: ${detail}${hint}`, status, retryable: isRetryableStatus(status) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `the model call failed: ${message}`, retryable: false };
}

export function createModelClient(options: ModelClientOptions): ModelClient {
  const { baseURL, apiKey } = resolveConnection(options);
  const model = options.model;
  const maxRetries = Math.max(0, options.maxRetries ?? 4);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const baseDelay = options.retryBaseDelayMs ?? 500;
  const maxDelay = options.retryMaxDelayMs ?? 20_000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  const random = options.random ?? Math.random;
  const emit = options.onEvent ?? (() => {});
  const prices = options.prices ?? {};
  const openAIHost = isOpenAIHost(baseURL);
  let structuredOutputSupported = true;
  let toolsSupported = true;

  const sdk = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: timeoutMs, logLevel: "off" });

  const backoffMs = (retry: number): number => {
    const exponential = Math.min(maxDelay, baseDelay * 2 ** (retry - 1));
    return exponential / 2 + (random() * exponential) / 2;
  };

  const buildBody = (request: CompletionRequest, sent: SentFormat, structured: boolean): ChatCompletionCreateParamsNonStreaming => {
    // ChatMessage is the wire shape; the SDK's type is a union per role.
    const body: ChatCompletionCreateParamsNonStreaming = { model, messages: request.messages as ChatCompletionCreateParamsNonStreaming["messages"] };
    if (sent === "tool") body.tools = AGENT_TOOLS as unknown as NonNullable<ChatCompletionCreateParamsNonStreaming["tools"]>;
    if (structured) {
      body.response_format = THOUGHT_CODE_RESPONSE_FORMAT;
    }
    if (options.temperature !== undefined) body.temperature = options.temperature;
    if (options.maxOutputTokens !== undefined) {
      // OpenAI's reasoning models reject max_tokens; most local servers only know max_tokens.
      if (openAIHost) body.max_completion_tokens = options.maxOutputTokens;
      else body.max_tokens = options.maxOutputTokens;
    }
    return body;
  };

  const complete = async (request: CompletionRequest): Promise<Completion> => {
    const { signal } = request;
    const started = performance.now();
    const choice: ReplyFormatChoice = request.replyFormat ?? (request.responseFormat === "thought_code" ? "json" : "fenced");
    let attempts = 0;
    let retries = 0;

    for (;;) {
      if (signal?.aborted) throw abortedError(signal.reason);
      const sent: SentFormat =
        choice === "tool" || (choice === "auto" && toolsSupported) ? "tool" : choice === "fenced" ? "fenced" : structuredOutputSupported ? "json" : "fenced";
      const wantsStructured = choice === "json" || choice === "auto";
      const structured = sent === "json";
      attempts += 1;
      // The SDK leaves a listener on the signal it is given; a per-request child signal keeps
      // a long run's signal from collecting one per model call.
      const requestController = new AbortController();
      const forwardAbort = (): void => requestController.abort(signal?.reason);
      signal?.addEventListener("abort", forwardAbort, { once: true });
      try {
        const response = await sdk.chat.completions.create(buildBody(request, sent, structured), {
          signal: requestController.signal,
          timeout: timeoutMs,
          maxRetries: 0,
        }).finally(() => signal?.removeEventListener("abort", forwardAbort));
        const answer = response.choices?.[0];
        if (!answer) {
          throw new ModelError(`the model endpoint at ${baseURL} answered without choices`, { retryable: false, attempts });
        }
        const content = answer.message?.content ?? "";
        const toolCalls: ToolCall[] = (answer.message?.tool_calls ?? []).flatMap((call) =>
          call.type === "function"
            ? [{ id: call.id, type: "function" as const, function: { name: call.function.name, arguments: argumentsText(call.function.arguments as unknown) } }]
            : [],
        );
        const usage = {
          promptTokens: response.usage?.prompt_tokens ?? 0,
          completionTokens: response.usage?.completion_tokens ?? 0,
        };
        const cost = computeCost(model, usage, prices);
        const completion: Completion = {
          content,
          usage,
          usageReported: response.usage != null,
          costUsd: cost.costUsd,
          latencyMs: performance.now() - started,
          attempts,
          structuredOutput: structured,
          sentFormat: sent,
          toolCalls,
          finishReason: answer.finish_reason ?? undefined,
          responseModel: response.model ?? undefined,
        };
        if (cost.note !== undefined) completion.costNote = cost.note;
        if (wantsStructured && toolCalls.length === 0) {
          const parse = parseReply(content);
          if (parse.ok) completion.parsed = parse.value;
        }
        return completion;
      } catch (error) {
        if (error instanceof APIUserAbortError || signal?.aborted) throw abortedError(error);
        if (DynaboxError.isInstance(error)) throw error;
        if (structured && isStructuredOutputRejection(error)) {
          // Not a retry: the same turn again as plain text, and never structured again here.
          structuredOutputSupported = false;
          emit({ type: "structured-output-fallback", status: error.status ?? 400, message: error.message });
          continue;
        }
        // A prompt too long for the context is not a tools problem, whatever its message names.
        const overflow = contextOverflow(error);
        if (overflow !== undefined) {
          const failure = describeFailure(error, baseURL, model);
          throw new ModelError(`${failure.message} (the prompt is longer than the model's context; lower --context-tokens)`, {
            ...(failure.status !== undefined ? { status: failure.status } : {}),
            retryable: false,
            attempts,
            cause: error,
            contextExceeded: true,
            ...(overflow.window !== undefined ? { contextWindow: overflow.window } : {}),
          });
        }
        if (sent === "tool" && isToolsRejection(error)) {
          if (choice === "tool") {
            throw new ModelError(
              `the model endpoint at ${baseURL} does not take tool calls for "${model}" (HTTP ${error.status}: ${error.message}); use --reply-format auto, json or fenced`,
              { status: error.status ?? 400, retryable: false, attempts, cause: error },
            );
          }
          // Under auto: the same turn again without tools, and never tools again here.
          toolsSupported = false;
          emit({ type: "tools-fallback", status: error.status ?? 400, message: error.message });
          continue;
        }
        const failure = describeFailure(error, baseURL, model);
        if (!failure.retryable || retries >= maxRetries) {
          const tried = attempts > 1 ? ` (after ${attempts} attempts)` : "";
          throw new ModelError(`${failure.message}${tried}`, {
            ...(failure.status !== undefined ? { status: failure.status } : {}),
            retryable: failure.retryable,
            attempts,
            cause: error,
          });
        }
        retries += 1;
        const hinted = error instanceof APIError ? retryAfterMs(error.headers) : undefined;
        const delayMs = hinted !== undefined ? Math.min(hinted, maxRetryAfter) : backoffMs(retries);
        const retryEvent = { type: "model-retry" as const, attempt: attempts, delayMs, status: failure.status, message: failure.message };
        emit(retryEvent);
        request.onRetry?.(retryEvent);
        try {
          await sleep(delayMs, undefined, signal ? { signal } : undefined);
        } catch (sleepError) {
          throw abortedError(sleepError);
        }
      }
    }
  };

  return {
    model,
    baseURL,
    get structuredOutputSupported() {
      return structuredOutputSupported;
    },
    get toolsSupported() {
      return toolsSupported;
    },
    complete,
    async listModels(signal) {
      try {
        const page = await sdk.models.list(signal ? { signal, timeout: 10_000, maxRetries: 0 } : { timeout: 10_000, maxRetries: 0 });
        return page.data as unknown as Record<string, unknown>[];
      } catch {
        // Not every server lists models; the window then comes from the table or the default.
        return undefined;
      }
    },
    async checkEndpoint(signal) {
      const requestOptions = { timeout: Math.min(timeoutMs, 30_000), maxRetries: 2, ...(signal ? { signal } : {}) };
      try {
        const page = await sdk.models.list(requestOptions);
        return page.data as unknown as Record<string, unknown>[];
      } catch (error) {
        if (error instanceof APIUserAbortError || signal?.aborted) throw abortedError(error);
        const status = error instanceof APIError ? error.status : undefined;
        if (status === 401 || status === 403) {
          throw new EnvironmentError(
            "DYNABOX_MODEL",
            `the model endpoint at ${baseURL} refused the key (HTTP ${status}); check --api-key / OPENAI_API_KEY. No task was run`,
            { cause: error, details: { status } },
          );
        }
        if (error instanceof APIConnectionError) {
          throw new EnvironmentError("DYNABOX_MODEL", `can not reach the model endpoint at ${baseURL} (${error.message}); check --base-url / OPENAI_BASE_URL. No task was run`, {
            cause: error,
            retryable: true,
          });
        }
        // A server without GET /models (404) or with another quirk: the key is checked by the first call.
        return undefined;
      }
    },
    embedder: (embeddingModel: string) => openAiEmbedder(sdk, embeddingModel),
  };
}
