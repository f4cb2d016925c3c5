// One sandbox: a locked-down container whose main process is the kernel supervisor, with a
// persistent Python kernel, shell commands, and files in and out as tar streams.

import { randomUUID } from "node:crypto";
import type { Duplex, Readable } from "node:stream";
import type Dockerode from "dockerode";
import { SandboxError, isAbortError } from "../errors.js";
import {
  DEFAULT_UNPACK_LIMITS,
  packDirectory,
  packFiles,
  readArchiveFiles,
  streamToBuffer,
  unpackArchive,
  type FileEntry,
  type UnpackLimits,
  type UnpackReport,
} from "./archive.js";
import { KernelClient, type ExecOptions, type HostCallHandler, type ShellOptions } from "./kernel-client.js";
import { engineSettingsOf } from "./docker.js";
import { currentOwner, ownerLabels } from "./labels.js";
import { DEFAULT_LIMITS, WORKSPACE, buildCreateOptions, type SandboxLimits } from "./profile.js";
import type { CellResult, ShellResult } from "./protocol.js";

export interface SandboxOptions {
  image: string;
  limits?: Partial<SandboxLimits>;
  network?: boolean;
  env?: Record<string, string>;
  /** An OCI runtime such as `runsc` (gVisor), when the engine has it. */
  runtime?: string;
  /** Groups the containers of one run; `dynabox clean` and reports use it. */
  runId?: string;
  /** What the sandbox is for (agent, grader, exec, bench); a label, for people. */
  role?: string;
  signal?: AbortSignal;
  /** How long the kernel may take to say it is ready. */
  startTimeoutMs?: number;
}

/** The run id of sandboxes started without one: DYNABOX_RUN_ID, or one per process. */
export const DEFAULT_RUN_ID = process.env.DYNABOX_RUN_ID || `run-${randomUUID().slice(0, 8)}`;

export async function startSandbox(docker: Dockerode, options: SandboxOptions): Promise<Sandbox> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const engine = engineSettingsOf(docker);
  const runtime = options.runtime ?? engine.runtime;
  const createOptions = buildCreateOptions({
    image: options.image,
    limits,
    network: options.network ?? false,
    labels: ownerLabels(currentOwner(), options.runId ?? DEFAULT_RUN_ID, options.role ?? "sandbox"),
    ...(options.env ? { env: options.env } : {}),
    ...(runtime ? { runtime } : {}),
  });
  if (engine.ulimits) {
    const names = new Set(engine.ulimits.map((limit) => limit.Name));
    const profileLimits = (createOptions.HostConfig?.Ulimits ?? []).filter((limit) => !names.has(limit.Name ?? ""));
    createOptions.HostConfig = { ...createOptions.HostConfig, Ulimits: [...profileLimits, ...engine.ulimits] };
  }
  options.signal?.throwIfAborted();
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer(createOptions);
  } catch (error) {
    throw startError(options.image, error);
  }
  try {
    const stream = await attachKernelStream(container);
    const sandbox = new Sandbox(docker, container, stream, limits, options.image);
    await container.start();
    await sandbox.waitReady(options.startTimeoutMs ?? 60_000, options.signal);
    return sandbox;
  } catch (error) {
    await container.remove({ force: true }).catch(() => {});
    if (isAbortError(error) || SandboxError.isInstance(error)) throw error;
    throw startError(options.image, error);
  }
}

/**
 * Attaches to the container's stdin, stdout and stderr (hijacked). Sent through the modem rather
 * than dockerode's attach(), which puts its options in the request body as JSON as well as in the
 * query: Docker ignores that body, but Podman's compatible API hands it to the container's stdin,
 * in front of the kernel's first message. The body here is one newline, which the kernel skips,
 * so the request is framed by a Content-Length on both engines.
 */
async function attachKernelStream(container: Dockerode.Container): Promise<Duplex> {
  const modem = container.modem as { dial(options: unknown, callback: (error: unknown, stream: unknown) => void): void };
  return new Promise<Duplex>((resolve, reject) => {
    modem.dial(
      {
        path: `/containers/${container.id}/attach?`,
        method: "POST",
        isStream: true,
        hijack: true,
        openStdin: true,
        statusCodes: { 101: true, 200: true, 404: "no such container", 409: "container is not running", 500: "server error" },
        options: { _query: { stream: true, stdin: true, stdout: true, stderr: true }, _body: {} },
        file: Buffer.from("\n"),
        headers: { ...(container.modem as { headers?: Record<string, string> }).headers, "Content-Type": "application/vnd.docker.raw-stream" },
      },
      (error, stream) => (error ? reject(error) : resolve(stream as Duplex)),
    );
  });
}

function startError(image: string, error: unknown): SandboxError {
  const status = (error as { statusCode?: number }).statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 404) {
    return new SandboxError(
      "DYNABOX_IMAGE_MISSING",
      `image ${image} is not on this Docker engine; build it with: npx dynabox image build`,
      { cause: error },
    );
  }
  return new SandboxError("DYNABOX_SANDBOX_START_FAILED", `could not start a sandbox from ${image}: ${message}`, {
    cause: error,
    retryable: true,
  });
}

export class Sandbox implements AsyncDisposable {
  readonly kernel: KernelClient;
  private disposed: Promise<void> | undefined;

  constructor(
    private readonly docker: Dockerode,
    readonly container: Dockerode.Container,
    stream: Duplex,
    readonly limits: SandboxLimits,
    readonly image: string,
  ) {
    this.kernel = new KernelClient(stream, (reason) => {
      this.kernel.close(reason);
      // The engine may be gone too (that is often why the kernel was lost): nothing to remove then.
      void this.dispose().catch(() => undefined);
    });
  }

  get id(): string {
    return this.container.id;
  }

  get isAlive(): boolean {
    return this.disposed === undefined && !this.kernel.isClosed;
  }

  /** @internal */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SandboxError("DYNABOX_SANDBOX_START_FAILED", `the kernel did not start within ${timeoutMs} ms\n${this.kernel.stderrText}`)),
        timeoutMs,
      );
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.kernel.ready, timeout, aborted]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Runs a Python cell in the persistent kernel. */
  exec(code: string, options?: ExecOptions): Promise<CellResult> {
    this.assertUsable();
    return this.kernel.exec(code, options);
  }

  /** Runs a bash command in the workspace (its own process, not the kernel). */
  shell(command: string, options?: ShellOptions): Promise<ShellResult> {
    this.assertUsable();
    return this.kernel.shell(command, options);
  }

  /** Restarts the kernel: variables and imports are lost, files are kept. */
  restartKernel(signal?: AbortSignal): Promise<void> {
    this.assertUsable();
    return this.kernel.restart(signal);
  }

  /** Lets sandbox code call `dynabox.host_call(name, args)`. */
  setHostCall(name: string, handler: HostCallHandler | undefined): void {
    this.kernel.setHostCall(name, handler);
  }

  /** Writes files (relative paths) under `destination`, owned by the sandbox user. */
  async putFiles(files: FileEntry[], destination = WORKSPACE): Promise<void> {
    this.assertUsable();
    await this.container.putArchive(await packFiles(files), { path: destination });
  }

  /** Copies a host folder's contents under `destination`. */
  async putDirectory(hostDirectory: string, destination = WORKSPACE): Promise<void> {
    this.assertUsable();
    await this.container.putArchive(await packDirectory(hostDirectory), { path: destination });
  }

  /** A tar stream of `path` inside the container; entries are named after its last component. */
  async getArchive(path = WORKSPACE): Promise<Readable> {
    this.assertUsable();
    return (await this.container.getArchive({ path })) as unknown as Readable;
  }

  /** Copies a folder of the sandbox into a host folder, refusing links out and capping size. */
  async copyOut(path: string, hostDirectory: string, limits?: Partial<UnpackLimits>): Promise<UnpackReport> {
    return unpackArchive(await this.getArchive(path), hostDirectory, { ...limits, stripComponents: 1 });
  }

  /** Reads the regular files under a sandbox folder into memory (capped). */
  async readFiles(path = WORKSPACE, limits?: Partial<UnpackLimits>): Promise<Map<string, Buffer>> {
    return readArchiveFiles(await this.getArchive(path), { ...limits, stripComponents: 1 });
  }

  /** The workspace as one tar archive, for grading in a fresh container. */
  async snapshot(maxBytes = DEFAULT_UNPACK_LIMITS.maxBytes): Promise<Buffer> {
    return streamToBuffer(await this.getArchive(`${WORKSPACE}/.`), maxBytes);
  }

  /** Puts a snapshot taken with `snapshot()` into this sandbox's workspace. */
  async restoreSnapshot(archive: Buffer): Promise<void> {
    this.assertUsable();
    await this.container.putArchive(archive, { path: WORKSPACE });
  }

  /** Memory the container uses now, from the engine's stats. */
  async memoryUsageMb(): Promise<number> {
    const stats = (await this.container.stats({ stream: false })) as {
      memory_stats?: { usage?: number; stats?: Record<string, number> };
    };
    const usage = stats.memory_stats?.usage ?? 0;
    // Like `docker stats`: page cache is not the sandbox's working memory.
    const cache = stats.memory_stats?.stats?.total_inactive_file ?? stats.memory_stats?.stats?.inactive_file ?? 0;
    return (usage - cache) / (1024 * 1024);
  }

  private assertUsable(): void {
    if (this.disposed !== undefined) {
      throw new SandboxError("DYNABOX_SANDBOX_DISPOSED", "this sandbox was disposed; acquire a new one");
    }
  }

  /** Stops the kernel and removes the container and its workspace volume. */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.kernel.close("the sandbox was disposed");
      try {
        await this.container.remove({ force: true, v: true });
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        // 404: already gone; 409: AutoRemove is removing it right now.
        if (status !== 404 && status !== 409) throw error;
      }
    })();
    return this.disposed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
