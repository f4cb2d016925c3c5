// One mapping from what went wrong to who is to blame, for every family and for both `run` and
// `eval`. An infrastructure error (the model endpoint, the Docker engine, a lost sandbox, a grader
// that crashed) is never the agent's or the submission's failure: it is not counted in the
// metrics, it is shown as an error, it is retried (within a run, a bounded number of times; and
// by the next run) and it makes the command exit 3. An input error (a task or row that can not
// be graded as written) is the user's to fix: retrying does not help.

import { setTimeout as sleep } from "node:timers/promises";
import type Dockerode from "dockerode";
import { DynaboxError, EnvironmentError, isAbortError } from "../errors.js";
import { assertDockerReachable, engineAddress } from "../sandbox/docker.js";

export const INFRASTRUCTURE_ERROR_KINDS = ["model", "engine", "sandbox-lost", "grader-crash"] as const;
export type InfrastructureErrorKind = (typeof INFRASTRUCTURE_ERROR_KINDS)[number];
/** An error kind: infrastructure, or `input` (the task or item as written can not be graded). */
export type ErrorKind = InfrastructureErrorKind | "input";

export interface ClassifiedFailure {
  kind: ErrorKind;
  /** A DynaboxError code, or DYNABOX_INTERNAL. */
  code: string;
  reason: string;
}

/** Error codes that mean "the task or item as given is wrong": the user must act, a retry can not help. */
const INPUT_CODES = new Set(["DYNABOX_USAGE", "DYNABOX_INVALID_INPUT", "DYNABOX_TASK_INVALID", "DYNABOX_ARCHIVE_REJECTED", "DYNABOX_BUDGET"]);
const ENGINE_CODES = new Set(["DYNABOX_DOCKER_UNAVAILABLE", "DYNABOX_SANDBOX_START_FAILED", "DYNABOX_IMAGE_MISSING", "DYNABOX_IMAGE_BUILD_FAILED"]);
const SANDBOX_CODES = new Set(["DYNABOX_SANDBOX_LOST", "DYNABOX_SANDBOX_DISPOSED", "DYNABOX_KERNEL_PROTOCOL"]);
/** Node's socket errors: the engine's socket (or the model's) went away under a request. */
const SOCKET_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** Whether an error came from the Docker engine's API or its socket (dockerode's errors carry statusCode/json or an errno). */
function isEngineFailure(error: unknown): boolean {
  if (error === null || typeof error !== "object") return false;
  const candidate = error as { statusCode?: unknown; json?: unknown; code?: unknown; message?: unknown };
  if (typeof candidate.code === "string" && SOCKET_ERRNOS.has(candidate.code)) return true;
  if (typeof candidate.statusCode === "number" && "json" in candidate) return true;
  return typeof candidate.message === "string" && /socket hang up|docker\.sock|\(HTTP code 5\d\d\)/i.test(candidate.message);
}

/** Who is to blame for `error`, in one word, with its code and reason. Aborts are not failures: callers handle them first. */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const reason = error instanceof Error ? error.message : String(error);
  if (DynaboxError.isInstance(error)) {
    const code = error.code;
    if (code === "DYNABOX_MODEL") return { kind: "model", code, reason };
    if (SANDBOX_CODES.has(code)) return { kind: "sandbox-lost", code, reason };
    if (ENGINE_CODES.has(code)) return { kind: "engine", code, reason };
    if (INPUT_CODES.has(code)) return { kind: "input", code, reason };
    // An EnvironmentError with another code (a repository that can not be reached, a cache folder): the machine's.
    if (error instanceof EnvironmentError) return { kind: "engine", code, reason };
    return { kind: "grader-crash", code, reason };
  }
  if (/no such container/i.test(reason)) return { kind: "sandbox-lost", code: "DYNABOX_SANDBOX_LOST", reason };
  if (isEngineFailure(error)) return { kind: "engine", code: "DYNABOX_DOCKER_UNAVAILABLE", reason: `the Docker engine failed: ${reason}` };
  return { kind: "grader-crash", code: "DYNABOX_INTERNAL", reason };
}

export function isInfrastructureKind(kind: ErrorKind): kind is InfrastructureErrorKind {
  return kind !== "input";
}

/** A model endpoint that refused the key: every further call would too, so the run stops. */
export function isCredentialRefusal(error: unknown): boolean {
  if (!DynaboxError.isInstance(error) || error.code !== "DYNABOX_MODEL") return false;
  const status = error.details.status;
  return status === 401 || status === 403;
}

export interface EngineWaitOptions {
  /** Longest total wait before giving up (default 60 s). */
  limitMs?: number;
  /** First pause between pings; doubles up to 10 s (default 1 s). */
  firstDelayMs?: number;
  signal?: AbortSignal;
  /** Called once when the engine did not answer at first, so the user knows why nothing moves. */
  onWaiting?: (message: string) => void;
}

/**
 * Waits until the engine answers a ping, with backoff, up to a limit; then throws an
 * EnvironmentError. Used before retrying work an engine outage broke, and before the final sweep.
 */
export async function waitForEngine(docker: Dockerode, options: EngineWaitOptions = {}): Promise<void> {
  const limitMs = options.limitMs ?? 60_000;
  const started = Date.now();
  let delayMs = options.firstDelayMs ?? 1_000;
  let told = false;
  for (;;) {
    try {
      await assertDockerReachable(docker, options.signal, 5_000);
      return;
    } catch (error) {
      if (isAbortError(error) || options.signal?.aborted) throw error;
      const waited = Date.now() - started;
      if (waited >= limitMs) {
        throw new EnvironmentError(
          "DYNABOX_DOCKER_UNAVAILABLE",
          `the Docker engine at ${engineAddress()} did not answer for ${Math.round(waited / 1000)} s; start it (or raise --engine-wait)`,
          { cause: error, retryable: true },
        );
      }
      if (!told) {
        told = true;
        options.onWaiting?.(`the Docker engine does not answer; waiting up to ${Math.round(limitMs / 1000)} s for it`);
      }
      await sleep(Math.min(delayMs, Math.max(0, limitMs - waited)), undefined, options.signal ? { signal: options.signal } : undefined);
      delayMs = Math.min(delayMs * 2, 10_000);
    }
  }
}
