// The one place that opens a connection to the Docker engine. Everything else receives the
// Dockerode instance, so a remote engine (DOCKER_HOST=tcp://..., ssh://...) works everywhere.

import Dockerode from "dockerode";
import { EnvironmentError, isAbortError } from "../errors.js";

export interface EngineInfo {
  /** The engine's version, e.g. "20.10.24+dfsg1". */
  version: string;
  /** The API version the engine speaks, e.g. "1.41". */
  apiVersion: string;
}

/** A client for the engine named by DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), or the local socket. */
export function connectDocker(options?: Dockerode.DockerOptions): Dockerode {
  return new Dockerode(options);
}

export const DOCKER_UNAVAILABLE_FIX =
  "start the engine: sudo bash scripts/ensure-docker.sh, or set DOCKER_HOST to an engine that answers";

/** Describes where the client looks for the engine, for error messages. */
export function engineAddress(): string {
  return process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : "the local socket /var/run/docker.sock";
}

/**
 * Pings the engine and reads its version. Gives up after `timeoutMs` (an unresponsive engine or a
 * dead TCP host must not hang the CLI) with an EnvironmentError DYNABOX_DOCKER_UNAVAILABLE that
 * names the fix. An abort through `signal` is passed through as an abort, not as a missing engine.
 */
export async function assertDockerReachable(
  docker: Dockerode,
  signal?: AbortSignal,
  timeoutMs = 5_000,
): Promise<EngineInfo> {
  signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  // The runtime takes an abortSignal on ping and version; the published types do not say so.
  const engine = docker as unknown as SignalledEngine;
  try {
    const version = await raceAbort(combined, async () => {
      await engine.ping({ abortSignal: combined });
      return engine.version({ abortSignal: combined });
    });
    return { version: version.Version, apiVersion: version.ApiVersion };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const why = timeout.aborted
      ? `no answer within ${Math.round(timeoutMs / 1000)} s`
      : isAbortError(error)
        ? "the request was cancelled"
        : describeEngineError(error);
    throw new EnvironmentError(
      "DYNABOX_DOCKER_UNAVAILABLE",
      `the Docker engine at ${engineAddress()} is not reachable (${why}); ${DOCKER_UNAVAILABLE_FIX}`,
      { cause: error, retryable: true },
    );
  }
}

interface SignalledEngine {
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
  version(options: { abortSignal: AbortSignal }): Promise<Dockerode.DockerVersion>;
}

/** Settles with `work`, or rejects as soon as `signal` aborts, even if a transport ignores the signal. */
async function raceAbort<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work(), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

function describeEngineError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "the socket does not exist";
  if (code === "EACCES") return "permission denied on the socket: run as root or join the docker group";
  if (code === "ECONNREFUSED") return "connection refused";
  return error instanceof Error ? error.message : String(error);
}

/** Whether a Docker API error means "no such object" (404) or "already being removed / in use" (409). */
export function isGoneOrConflict(error: unknown): boolean {
  const status = (error as { statusCode?: number } | undefined)?.statusCode;
  return status === 404 || status === 409;
}

/** Whether a Docker API error is a 404. */
export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number } | undefined)?.statusCode === 404;
}

export async function imageExists(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}
