// Dollar cost of a model call from its token usage. The built-in table is a convenience with
// defaults only: providers change prices, so users override them (`--prices`), and a model
// nobody priced costs 0 with a note rather than a guess.

import { readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../errors.js";

export const modelPriceSchema = z.object({
  /** US dollars per million prompt (input) tokens. */
  input: z.number().nonnegative(),
  /** US dollars per million completion (output) tokens. */
  output: z.number().nonnegative(),
});
export type ModelPrice = z.infer<typeof modelPriceSchema>;

export const priceTableSchema = z.record(z.string().min(1), modelPriceSchema);
/** Model name -> per-million-token prices. */
export type PriceTable = z.infer<typeof priceTableSchema>;

/**
 * DEFAULT prices in USD per million tokens (OpenAI list prices for standard, uncached text
 * tokens, as published in 2025). They are not kept current by dynabox: pass your own with
 * `--prices` (or `prices` in the options) for budgets that matter.
 */
export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 },
  "o3": { input: 2, output: 8 },
  "o3-mini": { input: 1.1, output: 4.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
});

export type PriceSource = "override" | "default" | "unknown";

export interface PriceLookup {
  price: ModelPrice | undefined;
  source: PriceSource;
  /** The table key that matched (a dated snapshot matches its undated name). */
  matchedName?: string;
  /** Set when the cost can not be trusted as a real price. */
  note?: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface CostEstimate {
  costUsd: number;
  source: PriceSource;
  note?: string;
}

// "gpt-4o-2024-08-06" -> "gpt-4o"; snapshots are priced like their family by default.
const DATED_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

function lookupIn(table: Readonly<PriceTable>, model: string): { name: string; price: ModelPrice } | undefined {
  const exact = table[model];
  if (exact) return { name: model, price: exact };
  const undated = model.replace(DATED_SUFFIX, "");
  const family = undated !== model ? table[undated] : undefined;
  return family ? { name: undated, price: family } : undefined;
}

/** Overrides first, then the default table; an unknown model has no price and a note saying so. */
export function lookupPrice(model: string, overrides: Readonly<PriceTable> = {}): PriceLookup {
  const override = lookupIn(overrides, model);
  if (override) return { price: override.price, source: "override", matchedName: override.name };
  const fallback = lookupIn(DEFAULT_PRICES, model);
  if (fallback) return { price: fallback.price, source: "default", matchedName: fallback.name };
  return {
    price: undefined,
    source: "unknown",
    note: `no price known for model "${model}": cost counted as 0; pass --prices '{"${model}":{"input":<usd per 1M>,"output":<usd per 1M>}}' to budget it`,
  };
}

export function computeCost(model: string, usage: TokenUsage, overrides: Readonly<PriceTable> = {}): CostEstimate {
  const lookup = lookupPrice(model, overrides);
  if (!lookup.price) return { costUsd: 0, source: "unknown", ...(lookup.note ? { note: lookup.note } : {}) };
  const costUsd = (usage.promptTokens * lookup.price.input + usage.completionTokens * lookup.price.output) / 1_000_000;
  return { costUsd, source: lookup.source };
}

/** Validate a price table from JSON (config files, `--prices`); the error names the fix. */
export function parsePriceTable(value: unknown): PriceTable {
  const result = priceTableSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  throw new UserError(
    "DYNABOX_USAGE",
    `invalid --prices: expected {"<model>": {"input": <usd per 1M tokens>, "output": <usd per 1M tokens>}}; ${problems.join("; ")}`,
  );
}

/**
 * The `--prices` flag: inline JSON (starts with `{`) or a path to a JSON file.
 */
export function readPricesOption(text: string): PriceTable {
  const trimmed = text.trim();
  let raw: string;
  if (trimmed.startsWith("{")) {
    raw = trimmed;
  } else {
    try {
      raw = readFileSync(trimmed, "utf8");
    } catch (error) {
      throw new UserError("DYNABOX_USAGE", `--prices: can not read file "${trimmed}" (give inline JSON or a JSON file path)`, {
        cause: error,
      });
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new UserError("DYNABOX_USAGE", `--prices: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  return parsePriceTable(value);
}
