import { CommanderError } from "commander";
import { z } from "zod";
import { DynaboxError, EnvironmentError, UserError, isAbortError } from "../errors.js";
import { flagName } from "./flags.js";
import { printableText } from "./terminal-text.js";

// The exit codes of every command (README, "Exit codes"):
//   0   done (tasks that failed are results, not errors)
//   1   the work ran and failed (a task folder that is not valid, a submission refused)
//   2   a usage mistake: a bad flag, an unknown option or command, a path of the wrong kind, a bad config file
//   3   the infrastructure: the engine or the model endpoint is not usable (nothing ran), or some
//       tasks ended on an infrastructure error (model, engine, lost sandbox, grader crash); the
//       results of the others are written, and a rerun retries only the errored ones
//   4   `eval` finished, but some items could not be graded because of the input (a bad row, an
//       unknown id); with an infrastructure error among them, 3 wins
//   70  a bug in dynabox;  130  interrupted (Ctrl-C, SIGTERM)

/** Some tasks or items ended on an infrastructure error; the others' results are written. */
export const EXIT_INFRASTRUCTURE_ERRORS = 3;

/** `eval` finished, but some items could not be graded because of their input (bad rows, unknown ids); results are written. */
export const EXIT_ITEM_ERRORS = 4;

/** 1: the work ran and failed; 2: a usage mistake; 3: the infrastructure is not usable; 130: interrupted; 70: a bug. */
export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return 130;
  // A command that checks its flags with a bare schema.parse: still a usage mistake, not a bug.
  if (error instanceof UserError || error instanceof z.ZodError) return 2;
  // commander's own refusals (unknown option or command, a missing argument): usage mistakes.
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof EnvironmentError) return 3;
  if (DynaboxError.isInstance(error)) return error.code === "DYNABOX_INTERNAL" ? 70 : 1;
  return 70;
}

/** An error for the terminal; its message may quote a sandbox, a task file or a model, so it is escaped. */
export function renderError(error: unknown): string {
  if (isAbortError(error)) return "dynabox: interrupted";
  // commander printed its message already (with the help hint).
  if (error instanceof CommanderError) return "";
  if (DynaboxError.isInstance(error)) return `dynabox: ${printableText(error.message)} [${error.code}]`;
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const key = String(issue?.path[0] ?? "");
    return `dynabox: ${key ? flagName(key) : "a flag"}: ${issue?.message ?? "not a valid value"} [DYNABOX_USAGE]`;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `dynabox: unexpected error, please report it with this text:\n${printableText(text)}`;
}
