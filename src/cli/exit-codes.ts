import { CommanderError } from "commander";
import { z } from "zod";
import { DynaboxError, isAbortError, type ErrorCode } from "../errors.js";
import { flagName } from "./flags.js";
import { printableText } from "./terminal-text.js";

// The exit codes of every command, in one place (README, "Exit codes"). A DynaboxError's code
// decides its exit code through the table below, whatever its class; commands that finish with
// errored items set EXIT_INFRASTRUCTURE_ERRORS or EXIT_ITEM_ERRORS themselves.

/** Done (tasks that failed are results, not errors). */
export const EXIT_OK = 0;
/** The work ran and failed: a task folder that is not valid, a submission or copy refused. */
export const EXIT_FAILED = 1;
/** A usage mistake: a bad flag, an unknown option or command, a path of the wrong kind, a bad config file or input file. */
export const EXIT_USAGE = 2;
/**
 * The infrastructure: the engine, the scheduler or the model endpoint is not usable (nothing ran),
 * or some tasks ended on an infrastructure error (model, engine, lost sandbox, grader crash); the
 * results of the others are written, and a rerun retries only the errored ones.
 */
export const EXIT_INFRASTRUCTURE_ERRORS = 3;
/** `eval` finished, but some items could not be graded because of their input (bad rows, unknown ids); results are written. With an infrastructure error among them, 3 wins. */
export const EXIT_ITEM_ERRORS = 4;
/** A bug in dynabox. */
export const EXIT_INTERNAL = 70;
/** Interrupted (Ctrl-C, SIGTERM); what finished is written. */
export const EXIT_INTERRUPTED = 130;

/**
 * The exit code of each error code. Kept in line with how a batch classifies an item's error
 * (src/runs/infrastructure-errors.ts): the user's input is 2 (1 when the work ran and its output
 * was refused), the machine's or a service's failure is 3.
 */
export const EXIT_CODE_OF_ERROR: Readonly<Record<ErrorCode, number>> = {
  DYNABOX_USAGE: EXIT_USAGE,
  DYNABOX_INVALID_INPUT: EXIT_USAGE,
  DYNABOX_TASK_INVALID: EXIT_USAGE,
  DYNABOX_ARCHIVE_REJECTED: EXIT_FAILED,
  DYNABOX_BUDGET: EXIT_FAILED,
  DYNABOX_DOCKER_UNAVAILABLE: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_SCHEDULER_UNAVAILABLE: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_SHARD_FAILED: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_IMAGE_BUILD_FAILED: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_IMAGE_MISSING: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_RUNTIME_MISSING: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_SANDBOX_START_FAILED: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_SANDBOX_LOST: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_SANDBOX_DISPOSED: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_KERNEL_PROTOCOL: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_MODEL: EXIT_INFRASTRUCTURE_ERRORS,
  DYNABOX_ABORTED: EXIT_INTERRUPTED,
  DYNABOX_INTERNAL: EXIT_INTERNAL,
};

/** The exit code of an error that ends a command: by its code, see EXIT_CODE_OF_ERROR. */
export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return EXIT_INTERRUPTED;
  if (DynaboxError.isInstance(error)) return EXIT_CODE_OF_ERROR[error.code] ?? EXIT_INTERNAL;
  // A command that checks its flags with a bare schema.parse: still a usage mistake, not a bug.
  if (error instanceof z.ZodError) return EXIT_USAGE;
  // commander's own refusals (unknown option or command, a missing argument): usage mistakes.
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return EXIT_INTERNAL;
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
