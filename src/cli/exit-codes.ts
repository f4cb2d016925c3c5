import { z } from "zod";
import { DynaboxError, EnvironmentError, UserError, isAbortError } from "../errors.js";
import { flagName } from "./flags.js";
import { printableText } from "./terminal-text.js";

/** `eval` finished, but some items could not be graded (infrastructure errors, bad rows); results are written. */
export const EXIT_ITEM_ERRORS = 4;

/** 1: the work ran and failed; 2: a usage mistake; 3: the machine is not ready; 130: interrupted; 70: a bug. */
export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return 130;
  // A command that checks its flags with a bare schema.parse: still a usage mistake, not a bug.
  if (error instanceof UserError || error instanceof z.ZodError) return 2;
  if (error instanceof EnvironmentError) return 3;
  if (DynaboxError.isInstance(error)) return error.code === "DYNABOX_INTERNAL" ? 70 : 1;
  return 70;
}

/** An error for the terminal; its message may quote a sandbox, a task file or a model, so it is escaped. */
export function renderError(error: unknown): string {
  if (isAbortError(error)) return "dynabox: interrupted";
  if (DynaboxError.isInstance(error)) return `dynabox: ${printableText(error.message)} [${error.code}]`;
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const key = String(issue?.path[0] ?? "");
    return `dynabox: ${key ? flagName(key) : "a flag"}: ${issue?.message ?? "not a valid value"} [DYNABOX_USAGE]`;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `dynabox: unexpected error, please report it with this text:\n${printableText(text)}`;
}
