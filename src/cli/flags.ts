// Flag values checked with a zod schema; a bad one is a usage error (exit 2) in one line that
// names the flag as the user typed it and says what would be accepted.

import { statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { assertOutsideSystemTrees, notAFolderError } from "../sandbox/output-paths.js";

/** "workspaceSize" -> "--workspace-size". */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/**
 * Parses commander's options with `schema`. `fixes` says, per option key, what a good value looks
 * like ("a whole number of MiB, at least 64"); without one, zod's own text is used.
 */
export function parseFlags<Schema extends z.ZodType>(schema: Schema, raw: unknown, fixes: Record<string, string> = {}): z.infer<Schema> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const value = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)[key] : undefined;
  const given = value === undefined ? "" : `, got ${JSON.stringify(value)}`;
  const fix = fixes[key] ?? issue.message;
  throw new UserError("DYNABOX_USAGE", `${key ? flagName(key) : "a flag"}: expected ${fix}${given}`);
}

/** A number from a flag's text: "1.5" -> 1.5; "" and "abc" are not numbers (z.coerce would give 0 / NaN). */
export const numberFlag = z
  .string()
  .trim()
  .regex(/^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/)
  .transform(Number);

/** A flag's text or a config file's number: `wholeNumber(1)` takes "3" and 3, refuses "3.5", "" and 0. */
export function wholeNumber(min: number): z.ZodType<number, string | number> {
  return z.union([z.number(), numberFlag]).pipe(z.number().int().min(min));
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once with a warning. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A positive number from a flag's text or a config file: seconds (a timer's range at most), dollars. */
export function positiveNumber(): z.ZodType<number, string | number> {
  return z.union([z.number(), numberFlag]).pipe(z.number().positive().max(MAX_TIMER_SECONDS));
}

/**
 * Checks a path flag before anything is written: it must not be under /proc, /sys or /dev, and
 * what exists there must be of the kind asked (`folder` or `file`). A mistake exits 2 in one line.
 */
export function assertPathFlag(key: string, value: string, kind: "folder" | "file"): void {
  const resolved = path.resolve(value);
  assertOutsideSystemTrees(flagName(key), value, [resolved], kind);
  let stats;
  try {
    stats = statSync(resolved);
  } catch {
    return; // made when needed
  }
  if (kind === "folder" && !stats.isDirectory()) throw notAFolderError(flagName(key), value);
  if (kind === "file" && stats.isDirectory()) throw new UserError("DYNABOX_USAGE", `${flagName(key)}: ${value} is a folder; give a file path`);
}
