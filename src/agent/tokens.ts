// Counting tokens of a chat request before it is sent, so the context budget can keep it under
// the model's window. OpenAI models get their real tokenizer (the `gpt-tokenizer` package, pure
// JavaScript, loaded on first use); every other model gets an estimate of one token per three
// characters, which over-counts English prose and code for the tokenizers of Llama 3, Qwen 2.5
// and Mistral (about 3.5 to 4.5 characters per token) so a request estimated under the budget is
// under it in fact. The usage the server reports after each call corrects the estimate upward
// (`calibrate`) when a model's tokenizer turns out denser than that.

import { createRequire } from "node:module";

/** Tokens a chat template adds around each message (role markers, separators). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens that prime the assistant's reply. */
export const REPLY_PRIMING_TOKENS = 3;
/** Counts remembered per counter (a long task's messages in all their forms). */
const COUNT_CACHE_ENTRIES = 4_096;
/** ... and at most this many characters of them (the keys are the texts). */
const COUNT_CACHE_CHARACTERS = 4_000_000;
/** Characters per token of the estimate for models without a known tokenizer. */
export const ESTIMATE_CHARACTERS_PER_TOKEN = 3;

export interface TokenCounter {
  /** `o200k_base`, `cl100k_base`, or `estimate`. */
  readonly encoding: string;
  /** True when a real tokenizer counts (still scaled by calibration, which stays 1 for exact counters that agree). */
  readonly exact: boolean;
  /** The multiplier learnt from server usage (1 until a server reports more than we counted). */
  readonly factor: number;
  count(text: string): number;
  /**
   * Tells the counter what the server reported for a request we counted as `counted` tokens. A
   * denser tokenizer than assumed raises the factor (never lowers it: over-counting is safe).
   */
  calibrate(counted: number, reported: number): void;
}

type RawCounter = (text: string) => number;

const require = createRequire(import.meta.url);
const loaded = new Map<string, RawCounter>();

function loadEncoding(encoding: "o200k_base" | "cl100k_base"): RawCounter {
  let counter = loaded.get(encoding);
  if (counter === undefined) {
    const module = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as { countTokens: (text: string) => number };
    counter = (text) => module.countTokens(text);
    loaded.set(encoding, counter);
  }
  return counter;
}

/** The OpenAI encoding of a model name, or undefined when the model is not an OpenAI one. */
export function openAiEncodingFor(model: string): "o200k_base" | "cl100k_base" | undefined {
  const name = model.toLowerCase().replace(/^openai\//, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(name)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(name)) return "cl100k_base";
  return undefined;
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / ESTIMATE_CHARACTERS_PER_TOKEN);
}

/** A counter for `model`: its real tokenizer when it is an OpenAI model, else the estimate. */
export function tokenCounterFor(model: string): TokenCounter {
  const encoding = openAiEncodingFor(model);
  const tokenize: RawCounter = encoding === undefined ? estimateTokens : loadEncoding(encoding);
  // The planner counts the whole history every step; messages repeat, so their counts are kept.
  const cache = new Map<string, number>();
  let cachedCharacters = 0;
  const raw = (text: string): number => {
    let tokens = cache.get(text);
    if (tokens === undefined) {
      tokens = tokenize(text);
      if (cache.size >= COUNT_CACHE_ENTRIES || cachedCharacters + text.length > COUNT_CACHE_CHARACTERS) {
        cache.clear();
        cachedCharacters = 0;
      }
      cache.set(text, tokens);
      cachedCharacters += text.length;
    }
    return tokens;
  };
  let factor = 1;
  return {
    encoding: encoding ?? "estimate",
    exact: encoding !== undefined,
    get factor() {
      return factor;
    },
    count: (text) => (text === "" ? 0 : Math.ceil(raw(text) * factor)),
    calibrate(counted, reported) {
      if (counted <= 0 || reported <= counted) return;
      // A little headroom above the observed ratio, capped so one odd report can not starve the prompt.
      factor = Math.min(3, Math.max(factor, (reported / counted) * factor * 1.05));
    },
  };
}

/** The parts of a chat message that cost tokens. */
export interface CountableMessage {
  role: string;
  content: string | null;
  tool_calls?: readonly { function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** Tokens of one message as sent: its text, any tool calls, and the template's overhead. */
export function messageTokens(message: CountableMessage, count: (text: string) => number): number {
  let total = MESSAGE_OVERHEAD_TOKENS + count(message.content ?? "");
  for (const call of message.tool_calls ?? []) total += count(call.function.name) + count(call.function.arguments) + MESSAGE_OVERHEAD_TOKENS;
  if (message.tool_call_id !== undefined) total += 2;
  return total;
}

/** Tokens of a whole request: the messages, plus what tools and a response schema add. */
export function requestTokens(messages: readonly CountableMessage[], count: (text: string) => number, extras: readonly unknown[] = []): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) total += messageTokens(message, count);
  for (const extra of extras) if (extra !== undefined) total += count(JSON.stringify(extra));
  return total;
}
