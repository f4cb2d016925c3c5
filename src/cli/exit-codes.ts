import { DynaboxError, EnvironmentError, UserError, isAbortError } from "../errors.js";
import { printableText } from "./terminal-text.js";

/** 1: the work ran and failed; 2: a usage mistake; 3: the machine is not ready; 130: interrupted; 70: a bug. */
export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return 130;
  if (error instanceof UserError) return 2;
  if (error instanceof EnvironmentError) return 3;
  if (DynaboxError.isInstance(error)) return error.code === "DYNABOX_INTERNAL" ? 70 : 1;
  return 70;
}

/** An error for the terminal; its message may quote a sandbox, a task file or a model, so it is escaped. */
export function renderError(error: unknown): string {
  if (isAbortError(error)) return "dynabox: interrupted";
  if (DynaboxError.isInstance(error)) return `dynabox: ${printableText(error.message)} [${error.code}]`;
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `dynabox: unexpected error, please report it with this text:\n${printableText(text)}`;
}
