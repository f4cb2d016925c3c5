// One sandbox: a locked-down container whose main process is the kernel supervisor, with a
// persistent Python kernel, shell commands, and files in and out as tar streams.

import { randomUUID } from "node:crypto";
import { Readable, type Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import type Dockerode from "dockerode";
import { DynaboxError, EnvironmentError, SandboxError, isAbortError } from "../errors.js";
import {
  DEFAULT_UNPACK_LIMITS,
  canonicalArchive,
  packDirectory,
  packFiles,
  readArchiveFiles,
  type ArchiveOptions,
  type FileEntry,
  type UnpackLimits,
  type UnpackReport,
} from "./archive.js";
import { unpackArchive } from "./copy-out.js";
import { KernelClient, type ExecOptions, type HostCallHandler, type ShellOptions } from "./kernel-client.js";
import { engineSettingsOf } from "./docker.js";
import { currentOwner, ownerLabels } from "./labels.js";
import { DEFAULT_LIMITS, SANDBOX_UID, WORKSPACE, buildCreateOptions, type SandboxLimits, type SandboxProfile } from "./profile.js";
import type { CellResult, ShellResult } from "./protocol.js";

export interface SandboxOptions {
  image: string;
  limits?: Partial<SandboxLimits>;
  network?: boolean;
  env?: Record<string, string>;
  /** An OCI runtime such as `runsc` (gVisor), when the engine has it. */
  runtime?: string;
  /** GPUs for a task that declares one (src/environments/gpus.ts); none by default. */
  deviceRequests?: SandboxProfile["deviceRequests"];
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
    ...(options.deviceRequests ? { deviceRequests: options.deviceRequests } : {}),
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
    const sandbox = new Sandbox(docker, container, stream, limits, options.image, options.signal);
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

function startError(image: string, error: unknown): DynaboxError {
  const status = (error as { statusCode?: number }).statusCode;
  const message = error instanceof Error ? error.message : String(error);
  // GPUs asked for (--gpus) on an engine without the NVIDIA runtime hook: dockerd says
  // 'could not select device driver "nvidia" with capabilities: [[gpu]]'. The machine's to fix.
  if (/could not select device driver|nvidia-container|unknown or invalid runtime name: nvidia/i.test(message)) {
    return new EnvironmentError(
      "DYNABOX_RUNTIME_MISSING",
      `the task's containers need GPUs (--gpus), but this Docker engine can not give them (${message.trim()}). ` +
        "Install the NVIDIA driver and the NVIDIA container toolkit (nvidia-container-toolkit; then nvidia-ctk runtime configure --runtime=docker " +
        "and restart dockerd; see docs/images.md), or run without --gpus (such tasks then run on the CPU with a warning)",
      { cause: error, details: { image } },
    );
  }
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
    /** The signal the sandbox was started with: every file copy into or out of it stops on it. */
    private readonly startSignal?: AbortSignal,
  ) {
    this.kernel = new KernelClient(stream, (reason) => {
      this.kernel.close(reason);
      // Nobody awaits this removal; a failure of it must not become an unhandled rejection.
      this.dispose().catch(() => {});
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

  /** Runs a bash command in the workspace (its own process, not the kernel); stops on the call's signal, else the sandbox's own. */
  shell(command: string, options?: ShellOptions): Promise<ShellResult> {
    this.assertUsable();
    const signal = options?.signal ?? this.startSignal;
    return this.kernel.shell(command, signal ? { ...options, signal } : options);
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

  /**
   * Writes files (relative paths) under `destination`, owned by the sandbox user. Every copy below
   * stops on `signal` (else the signal the sandbox was started with), so Ctrl-C never waits for one.
   */
  async putFiles(files: FileEntry[], destination = WORKSPACE, signal?: AbortSignal): Promise<void> {
    this.assertUsable();
    const archive = await packFiles(files);
    await this.container.putArchive(archive, { path: destination, ...this.abortOption(signal) });
  }

  /** Copies a host folder's contents under `destination`. */
  async putDirectory(hostDirectory: string, destination = WORKSPACE, signal?: AbortSignal): Promise<void> {
    this.assertUsable();
    const archive = await packDirectory(hostDirectory);
    await this.container.putArchive(archive, { path: destination, ...this.abortOption(signal) });
  }

  /** Puts an archive dynabox packed itself from a task folder (folders and regular files only) under `destination`. */
  async putPackedArchive(archive: Buffer, destination: string, signal?: AbortSignal): Promise<void> {
    this.assertUsable();
    await this.container.putArchive(archive, { path: destination, ...this.abortOption(signal) });
  }

  /** A tar stream of `path` inside the container; entries are named after its last component. */
  async getArchive(path = WORKSPACE, signal?: AbortSignal): Promise<Readable> {
    this.assertUsable();
    return (await this.container.getArchive({ path, ...this.abortOption(signal) })) as unknown as Readable;
  }

  /**
   * Copies a folder of the sandbox into a new or empty host folder, all or nothing: folders and
   * regular files only (links, devices and refused names are reported as skipped), capped.
   * Every process in the sandbox is frozen meanwhile, so the folder can not change under the copy.
   */
  async copyOut(path: string, hostDirectory: string, limits?: Partial<UnpackLimits>, signal?: AbortSignal): Promise<UnpackReport> {
    this.assertUsable();
    return this.whileFrozen(() => unpackArchive(() => this.getArchive(path, signal), hostDirectory, { ...limits, stripComponents: 1 }));
  }

  /** Reads the regular files under a sandbox folder into memory (capped), processes frozen. */
  async readFiles(path = WORKSPACE, options: ArchiveOptions = {}, signal?: AbortSignal): Promise<Map<string, Buffer>> {
    this.assertUsable();
    return this.whileFrozen(async () => readArchiveFiles(await this.getArchive(path, signal), { stripComponents: 1, ...options }));
  }

  /** The engine call option that stops a copy on the given signal, else on the sandbox's own. */
  private abortOption(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
    const chosen = signal ?? this.startSignal;
    chosen?.throwIfAborted();
    return chosen ? { abortSignal: chosen } : {};
  }

  /**
   * Kills every process of the sandbox user but PID 1 (the supervisor, which starts a fresh,
   * empty kernel): what the agent left running can not change the workspace while it is collected.
   */
  async stopUserProcesses(): Promise<void> {
    this.assertUsable();
    // kill(-1) spares PID 1 and the caller; forks can not slip in while the kernel walks the list.
    const exec = await this.container.exec({ Cmd: ["/bin/sh", "-c", "kill -9 -1; kill -9 -1; true"], User: `${SANDBOX_UID}:${SANDBOX_UID}`, AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
    stream.resume();
    await finished(stream).catch(() => {});
  }

  /**
   * The workspace as one canonical tar archive (folders and regular files only, no links,
   * owned by the sandbox user), for grading in a fresh container. Taken with every process of
   * the sandbox frozen, so nothing can swap a folder for a link while it is read.
   */
  async snapshot(maxBytes = DEFAULT_UNPACK_LIMITS.maxBytes, maxEntries = DEFAULT_UNPACK_LIMITS.maxEntries): Promise<Buffer> {
    return (await this.snapshotWithReport({ maxBytes, maxEntries })).archive;
  }

  /** `snapshot()`, with what was left out (links, FIFOs, devices, refused names). */
  async snapshotWithReport(limits: Partial<UnpackLimits> = {}, signal?: AbortSignal): Promise<{ archive: Buffer; report: UnpackReport }> {
    this.assertUsable();
    return this.whileFrozen(async () => canonicalArchive(await this.getArchive(WORKSPACE, signal), { ...limits, stripComponents: 1 }));
  }

  /**
   * Puts a workspace archive into `folder` (the workspace by default). The archive is re-packed
   * first, whoever made it: the engine's own extraction follows links, so only folders and
   * regular files ever reach it.
   */
  async restoreSnapshot(archive: Buffer, folder = WORKSPACE, maxEntries = DEFAULT_UNPACK_LIMITS.maxEntries, signal?: AbortSignal): Promise<void> {
    this.assertUsable();
    // The archive is in memory already: it can not hold more content than its own length.
    const canonical = await canonicalArchive(Readable.from([archive]), { maxBytes: Math.max(DEFAULT_UNPACK_LIMITS.maxBytes, archive.length), maxEntries });
    await this.container.putArchive(canonical.archive, { path: folder, ...this.abortOption(signal) });
  }

  /**
   * Runs `work` with every process of the container frozen (the engine's pause; its archive API
   * still works), then thaws them. Calls take turns, so one never thaws another's copy.
   */
  private whileFrozen<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.frozenTurns.then(async () => {
      const paused = await this.freeze();
      try {
        return await work();
      } finally {
        if (paused && this.disposed === undefined) await this.container.unpause().catch(() => {});
      }
    });
    this.frozenTurns = turn.catch(() => {});
    return turn;
  }

  /**
   * Pauses the container; true when it is paused. The freezer can fail on a busy machine ("unable
   * to freeze"); after a few tries every user process is killed instead, so nothing the sandbox's
   * code started runs during the copy either way (the kernel's state is lost then).
   */
  private async freeze(): Promise<boolean> {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        await this.container.pause();
        return true;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 404) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
    // A failed freeze is undone by the runtime; make sure, so the kill below can run.
    await this.container.unpause().catch(() => {});
    await this.stopUserProcesses();
    return false;
  }

  private frozenTurns: Promise<unknown> = Promise.resolve();

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
      for (let attempt = 0; ; attempt++) {
        try {
          await this.container.remove({ force: true, v: true });
          return;
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          // 404: already gone; 409: AutoRemove is removing it right now.
          if (status === 404 || status === 409) return;
          // Podman answers 500 "could not be stopped ... container state improper: stopped" when the
          // container stopped by itself while it was being killed: it is stopped, so ask again.
          const stoppedMeanwhile = status === 500 && /state improper|could not be stopped/.test(String((error as Error).message));
          if (!stoppedMeanwhile || attempt >= 3) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        }
      }
    })();
    return this.disposed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
