// How many tokens a model's context holds, when the user does not say (`--context-tokens`):
// what the server reports for the model on GET /v1/models (vLLM's `max_model_len`; LM Studio,
// OpenRouter and others use `context_length` or similar), else a table of well-known models,
// else a default small enough for local servers (8,192, the smallest window of the common
// open models served by vLLM and llama.cpp; Ollama's own default `num_ctx` is smaller still, so
// Ollama users should pass --context-tokens with the num_ctx they set).

export const DEFAULT_CONTEXT_TOKENS = 8_192;

export type ContextWindowSource = "flag" | "server" | "table" | "default";

export interface ContextWindow {
  tokens: number;
  source: ContextWindowSource;
}

/** Model-name prefixes (lowercase, an `org/` prefix removed) and their windows. First match wins. */
const KNOWN_WINDOWS: readonly [prefix: string, tokens: number][] = [
  ["gpt-4.1", 1_047_576],
  ["gpt-5", 400_000],
  ["gpt-4o", 128_000],
  ["chatgpt-4o", 128_000],
  ["gpt-4-turbo", 128_000],
  ["gpt-4-32k", 32_768],
  ["gpt-4", 8_192],
  ["gpt-3.5-turbo", 16_385],
  ["o1", 200_000],
  ["o3", 200_000],
  ["o4-mini", 200_000],
  ["gpt-oss", 131_072],
  ["qwen2.5-coder", 32_768],
  ["qwen2.5", 32_768],
  ["qwen3", 32_768],
  ["llama-3.1", 131_072],
  ["llama3.1", 131_072],
  ["llama-3.2", 131_072],
  ["llama3.2", 131_072],
  ["llama-3.3", 131_072],
  ["llama3.3", 131_072],
  ["llama-3", 8_192],
  ["llama3", 8_192],
  ["mistral-nemo", 131_072],
  ["mistral", 32_768],
  ["deepseek-coder-v2", 131_072],
  ["deepseek-r1", 131_072],
  ["gemma-2", 8_192],
  ["gemma2", 8_192],
  ["gemma-3", 131_072],
  ["gemma3", 131_072],
  ["phi-4", 16_384],
  ["phi4", 16_384],
];

/** The window of a well-known model by name, or undefined. */
export function knownContextWindow(model: string): number | undefined {
  const name = model.toLowerCase().split("/").pop() ?? "";
  return KNOWN_WINDOWS.find(([prefix]) => name.startsWith(prefix))?.[1];
}

const WINDOW_FIELDS = ["max_model_len", "context_length", "context_window", "max_context_length", "n_ctx", "max_position_embeddings"];

/** The window an entry of GET /v1/models reports, if any (the field names servers use). */
export function reportedContextWindow(entry: Record<string, unknown>): number | undefined {
  for (const field of WINDOW_FIELDS) {
    const value = entry[field];
    if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  }
  // llama.cpp's llama-server nests it: {"meta": {"n_ctx_train": ...}}.
  const meta = entry.meta;
  if (typeof meta === "object" && meta !== null) {
    const value = (meta as Record<string, unknown>).n_ctx_train ?? (meta as Record<string, unknown>).n_ctx;
    if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  }
  return undefined;
}

/**
 * The window to budget for: the flag, else what the server reports for `model` among
 * `listed` (the entries of GET /v1/models, or undefined when the call failed), else the table,
 * else the default.
 */
export function chooseContextWindow(model: string, flag: number | undefined, listed: readonly Record<string, unknown>[] | undefined): ContextWindow {
  if (flag !== undefined) return { tokens: flag, source: "flag" };
  const entry = listed?.find((item) => item.id === model) ?? (listed?.length === 1 ? listed[0] : undefined);
  const reported = entry === undefined ? undefined : reportedContextWindow(entry);
  if (reported !== undefined) return { tokens: reported, source: "server" };
  const known = knownContextWindow(model);
  if (known !== undefined) return { tokens: known, source: "table" };
  return { tokens: DEFAULT_CONTEXT_TOKENS, source: "default" };
}

/** The window a "context length exceeded" error names ("maximum context length is 8192 tokens"), if it names one. */
export function windowFromOverflowMessage(message: string): number | undefined {
  const match = /(?:maximum context length|context length|context window|max_model_len)[^0-9]{0,40}?(\d[\d,]*)/i.exec(message);
  if (match === null) return undefined;
  const value = Number.parseInt((match[1] ?? "").replace(/,/g, ""), 10);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Whether an error message is a server's "the prompt is too long for the context". */
export function isContextOverflowMessage(message: string): boolean {
  return /context[_ ]length[_ ]exceeded|maximum context length|context window|prompt is too long|too many tokens|exceeds? (the )?(model'?s? )?(max(imum)?_?model_?len|context)|input is too long|reduce the length of the (messages|prompt)/i.test(
    message,
  );
}
