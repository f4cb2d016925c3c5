// One error hierarchy for the whole tool. Each error says who must act (the user, the
// environment, the model, or us), carries a stable string code and whether a retry can help.

const brand = Symbol.for("dynabox.error");

/** Every error code; src/cli/exit-codes.ts gives each its exit code (a code without one does not compile). */
export const ERROR_CODES = [
  "DYNABOX_USAGE",
  "DYNABOX_INVALID_INPUT",
  "DYNABOX_DOCKER_UNAVAILABLE",
  "DYNABOX_SCHEDULER_UNAVAILABLE",
  "DYNABOX_SHARD_FAILED",
  "DYNABOX_IMAGE_BUILD_FAILED",
  "DYNABOX_IMAGE_MISSING",
  "DYNABOX_RUNTIME_MISSING",
  "DYNABOX_SANDBOX_START_FAILED",
  "DYNABOX_SANDBOX_LOST",
  "DYNABOX_SANDBOX_DISPOSED",
  "DYNABOX_KERNEL_PROTOCOL",
  "DYNABOX_ARCHIVE_REJECTED",
  "DYNABOX_TASK_INVALID",
  "DYNABOX_MODEL",
  "DYNABOX_BUDGET",
  "DYNABOX_ABORTED",
  "DYNABOX_INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface DynaboxErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class DynaboxError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  readonly [brand] = true;

  constructor(code: ErrorCode, message: string, options: DynaboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  /** Works across copies of the package, where `instanceof` would not. */
  static isInstance(value: unknown): value is DynaboxError {
    return typeof value === "object" && value !== null && brand in value;
  }
}

/** The user asked for something that can not work: a bad flag, a missing file (exit code: by its code, src/cli/exit-codes.ts). */
export class UserError extends DynaboxError {}

/** The machine is not ready: no Docker engine, an image that failed to build (exit code: by its code). */
export class EnvironmentError extends DynaboxError {}

/** A sandbox or kernel misbehaved at run time. */
export class SandboxError extends DynaboxError {}

/** A bug in dynabox itself. */
export class InternalError extends DynaboxError {
  constructor(message: string, options: DynaboxErrorOptions = {}) {
    super("DYNABOX_INTERNAL", message, options);
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    (error instanceof Error && error.name === "AbortError") ||
    (DynaboxError.isInstance(error) && error.code === "DYNABOX_ABORTED")
  );
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
