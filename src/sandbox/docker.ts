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

/** How dynabox uses one engine beyond the connection itself. */
export interface EngineSettings {
  /** The OCI runtime every sandbox on this engine runs under ("runsc" for gVisor); the engine's default when absent. */
  runtime?: string;
  /** Process limits to set on every sandbox besides the profile's (Podman: the host's process cap). */
  ulimits?: { Name: string; Soft: number; Hard: number }[];
}

// Settings travel with the client, so code that receives only a Dockerode (graders, pools, the
// agent run) starts its sandboxes the way the engine was configured, on any of several engines.
const engineSettings = new WeakMap<Dockerode, EngineSettings>();

/** A client for the engine named by DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), or the local socket. */
export function connectDocker(options?: Dockerode.DockerOptions, settings: EngineSettings = {}): Dockerode {
  const docker = new Dockerode(options);
  if (settings.runtime || settings.ulimits) engineSettings.set(docker, { ...settings });
  return docker;
}

/** Everything chosen for this engine beyond the connection. */
export function engineSettingsOf(docker: Dockerode): EngineSettings {
  return engineSettings.get(docker) ?? {};
}

/** Adds to (or replaces parts of) what was chosen for this engine. */
export function updateEngineSettings(docker: Dockerode, update: EngineSettings): void {
  engineSettings.set(docker, { ...engineSettings.get(docker), ...update });
}

/** The runtime sandboxes on this engine run under, when one was chosen. */
export function engineRuntime(docker: Dockerode): string | undefined {
  return engineSettings.get(docker)?.runtime;
}

/** Chooses the runtime for every sandbox started on this client from now on. */
export function setEngineRuntime(docker: Dockerode, runtime: string | undefined): void {
  if (runtime) engineSettings.set(docker, { ...engineSettings.get(docker), runtime });
  else engineSettings.delete(docker);
}

/** The OCI runtimes the engine has registered (runc, and runsc once added). */
export async function engineRuntimes(docker: Dockerode): Promise<string[]> {
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  return Object.keys(info.Runtimes ?? {}).sort();
}

/** How to add a runtime the engine lacks, for messages and `doctor`. */
export function runtimeFix(runtime: string): string {
  return runtime === "runsc"
    ? "register gVisor with the engine: sudo bash scripts/ensure-runsc.sh (installs Debian's runsc, adds it to /etc/docker/daemon.json with --network=none, reloads dockerd)"
    : `register ${runtime} under "runtimes" in the engine's /etc/docker/daemon.json and reload dockerd (kill -HUP)`;
}

/** Fails with DYNABOX_RUNTIME_MISSING, naming the fix, when the engine lacks the runtime. */
export async function assertRuntimeAvailable(docker: Dockerode, runtime: string, where = engineAddress()): Promise<void> {
  const available = await engineRuntimes(docker);
  if (available.includes(runtime)) return;
  throw new EnvironmentError(
    "DYNABOX_RUNTIME_MISSING",
    `the Docker engine at ${where} has no runtime "${runtime}" (it has: ${available.join(", ") || "none listed"}); ${runtimeFix(runtime)}`,
  );
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
