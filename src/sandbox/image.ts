// The sandbox image: tagged by a hash of its inputs (the Dockerfile and every file under
// sandbox/), so that a change to either rebuilds it and nothing else does. Builds are serialized
// across processes with a lock file, so two CLIs or two test files never build at once.

import { createHash } from "node:crypto";
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type Dockerode from "dockerode";
import tar from "tar-stream";
import { DynaboxError, EnvironmentError, InternalError } from "../errors.js";
import { ensureBaseImage, type BaseImageOptions } from "./base-image.js";
import { imageExists } from "./docker.js";
import { LABEL_MANAGED, processStartTime } from "./labels.js";
import { followEngineProgress } from "./engine-progress.js";

export const SANDBOX_IMAGE_REPOSITORY = "dynabox-sandbox";
/** Image label holding the full inputs hash the image was built from. */
export const LABEL_INPUTS = "dynabox.inputs";

/** Names skipped anywhere under sandbox/: caches Python or pytest leave behind on the host. */
const IGNORED_NAMES = new Set(["__pycache__", ".pytest_cache", ".mypy_cache", ".DS_Store"]);
const IGNORED_SUFFIXES = [".pyc", ".pyo"];

/**
 * The folder holding package.json (name "dynabox") and the Dockerfile, found from this module's
 * own location: src/sandbox/ under vitest, dist/sandbox/ after tsc, node_modules/dynabox/dist/
 * when installed as a dependency.
 */
export function projectRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  let folder = start;
  for (;;) {
    if (existsSync(join(folder, "Dockerfile")) && isDynaboxPackage(join(folder, "package.json"))) return folder;
    const parent = dirname(folder);
    if (parent === folder) throw new InternalError(`can not find the dynabox project root above ${start}`);
    folder = parent;
  }
}

function isDynaboxPackage(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: unknown }).name === "dynabox";
  } catch {
    return false;
  }
}

export interface ImageInput {
  /** Path inside the build context, with forward slashes: "Dockerfile", "sandbox/kernel.py". */
  relativePath: string;
  absolutePath: string;
  kind: "file" | "symlink";
  /** 0o755 for executables, 0o644 otherwise; the only mode bits that reach the image. */
  mode: number;
  /** The link target, for symlinks. */
  linkTarget?: string;
}

/** The build inputs in a stable order: Dockerfile first, then sandbox/ sorted by path. */
export function listImageInputs(root: string = projectRoot()): ImageInput[] {
  const dockerfile = join(root, "Dockerfile");
  if (!existsSync(dockerfile)) throw new InternalError(`no Dockerfile in ${root}`);
  const inputs: ImageInput[] = [{ relativePath: "Dockerfile", absolutePath: dockerfile, kind: "file", mode: modeOf(dockerfile) }];
  const sandboxFolder = join(root, "sandbox");
  const found: ImageInput[] = [];
  if (existsSync(sandboxFolder)) walk(sandboxFolder, "sandbox", found);
  found.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
  return inputs.concat(found);
}

function walk(folder: string, relative: string, into: ImageInput[]): void {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (IGNORED_NAMES.has(entry.name) || IGNORED_SUFFIXES.some((suffix) => entry.name.endsWith(suffix))) continue;
    const absolutePath = join(folder, entry.name);
    const relativePath = `${relative}/${entry.name}`;
    if (entry.isDirectory()) walk(absolutePath, relativePath, into);
    else if (entry.isSymbolicLink()) {
      into.push({ relativePath, absolutePath, kind: "symlink", mode: 0o777, linkTarget: readlinkSync(absolutePath) });
    } else if (entry.isFile()) into.push({ relativePath, absolutePath, kind: "file", mode: modeOf(absolutePath) });
    // Sockets, fifos and devices can not be part of an image's inputs: skipped.
  }
}

function modeOf(path: string): number {
  return (lstatSync(path).mode & 0o111) !== 0 ? 0o755 : 0o644;
}

/** sha256 (hex) over every input's path, kind, mode and contents. */
export function computeInputsHash(root: string = projectRoot()): string {
  const hash = createHash("sha256");
  for (const input of listImageInputs(root)) {
    const body = input.kind === "symlink" ? Buffer.from(input.linkTarget ?? "") : readFileSync(input.absolutePath);
    hash.update(`${input.relativePath}\0${input.kind}\0${input.mode.toString(8)}\0${body.length}\0`);
    hash.update(body);
  }
  return hash.digest("hex");
}

/** `dynabox-sandbox:<first 16 hex of the inputs hash>`. */
export function sandboxImageTag(root: string = projectRoot()): string {
  return `${SANDBOX_IMAGE_REPOSITORY}:${computeInputsHash(root).slice(0, 16)}`;
}

/** The build context as one tar buffer: exactly the hashed inputs, owned by root, fixed mtime. */
export async function createBuildContext(inputs: readonly ImageInput[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const common = { uid: 0, gid: 0, uname: "root", gname: "root", mtime: new Date(0) };
  for (const input of inputs) {
    if (input.kind === "symlink") {
      pack.entry({ ...common, name: input.relativePath, type: "symlink", linkname: input.linkTarget ?? "", mode: input.mode });
    } else {
      pack.entry({ ...common, name: input.relativePath, type: "file", mode: input.mode }, readFileSync(input.absolutePath));
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface EnsureSandboxImageOptions extends BaseImageOptions {
  /** One human-readable line per step of the work (build output, bootstrap progress). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** Build even when an image with the tag exists (the build cache still applies). */
  force?: boolean;
  /** Where the Dockerfile and sandbox/ live; defaults to the project root. */
  root?: string;
}

export interface EnsureSandboxImageResult {
  tag: string;
  built: boolean;
  seconds: number;
}

/**
 * Makes sure the sandbox image for the current inputs exists: reuses it when tagged, otherwise
 * makes sure a base image exists (local, pulled, or bootstrapped from the Debian mirror) and builds.
 */
export async function ensureSandboxImage(
  docker: Dockerode,
  options: EnsureSandboxImageOptions = {},
): Promise<EnsureSandboxImageResult> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  const root = options.root ?? projectRoot();
  const inputsHash = computeInputsHash(root);
  const tag = `${SANDBOX_IMAGE_REPOSITORY}:${inputsHash.slice(0, 16)}`;
  const progress = options.onProgress ?? (() => {});

  if (!options.force && (await imageExists(docker, tag))) return { tag, built: false, seconds: seconds() };

  const lock = await acquireBuildLock({ signal: options.signal, onWait: progress });
  try {
    // Another process may have built it while we waited for the lock.
    if (!options.force && (await imageExists(docker, tag))) return { tag, built: false, seconds: seconds() };
    const baseImage = await ensureBaseImage(docker, { ...options, onProgress: progress });
    progress(`building ${tag} from ${baseImage}`);
    const context = await createBuildContext(listImageInputs(root));
    await buildImage(docker, {
      context,
      tag,
      buildArgs: { BASE_IMAGE: baseImage },
      labels: { [LABEL_MANAGED]: "true", [LABEL_INPUTS]: inputsHash },
      onProgress: progress,
      signal: options.signal,
    });
    progress(`built ${tag} in ${seconds()} s`);
    return { tag, built: true, seconds: seconds() };
  } finally {
    lock.release();
  }
}

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

export interface BuildImageOptions {
  /** The build context: a tar holding a Dockerfile at its root (and whatever it copies). */
  context: Buffer;
  tag: string;
  buildArgs?: Record<string, string> | undefined;
  labels?: Record<string, string> | undefined;
  /** What is built, for messages ("task environment dynabox-task:…"); the tag by default. */
  name?: string | undefined;
  /** One line per line of build output (carriage-return redraws collapsed), and `error: …`. */
  onProgress?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Stop the build after this long; no limit when absent. */
  timeoutMs?: number | undefined;
  /**
   * The network of the build's RUN steps: "host" lets a step reach a package index on the host's
   * loopback (environment package layers only; run-time containers never get it).
   */
  networkMode?: "host" | "default" | undefined;
}

/**
 * Builds an image with the classic builder, streaming its output to onProgress. Resolves once the
 * tagged image exists. A failure is a retryable DYNABOX_IMAGE_BUILD_FAILED that names the failing
 * `Step n/m` and holds the last lines of output (details.step, details.output); an abort rethrows
 * the signal's reason; a timeout stops the build and says so. Builds are not serialized here:
 * callers hold the build lock (acquireBuildLock).
 */
export async function buildImage(docker: Dockerode, options: BuildImageOptions): Promise<void> {
  const name = options.name ?? options.tag;
  const progress = options.onProgress ?? (() => {});
  const timeout = options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined;
  const signal = timeout && options.signal ? AbortSignal.any([options.signal, timeout]) : (timeout ?? options.signal);
  let currentStep = "";
  const stopped = (cause?: unknown): unknown => {
    if (options.signal?.aborted) return options.signal.reason;
    if (timeout?.aborted) {
      return new EnvironmentError(
        "DYNABOX_IMAGE_BUILD_FAILED",
        `the build of ${name} took longer than ${Math.round((options.timeoutMs ?? 0) / 100) / 10} s and was stopped ` +
          `at "${currentStep || "the start"}"`,
        { ...(cause !== undefined ? { cause } : {}), details: { step: currentStep }, retryable: true },
      );
    }
    return undefined;
  };
  const recent: string[] = [];
  let failure: string | undefined;
  try {
    const stream = await docker.buildImage(Readable.from([options.context]), {
      t: options.tag,
      ...(options.buildArgs ? { buildargs: options.buildArgs } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.networkMode === "host" ? { networkmode: "host" } : {}),
      rm: true,
      forcerm: true,
      ...(signal ? { abortSignal: signal } : {}),
    });
    failure = await followEngineProgress(docker, stream, (event: BuildEvent, failed) => {
      if (failed !== undefined) {
        progress(`error: ${failed}`);
        return;
      }
      const text = event.stream ?? event.status;
      if (!text) return;
      for (const line of text.split("\n")) {
        // apt redraws progress with carriage returns: keep only the last state of a line.
        const trimmed = (line.split("\r").filter((part) => part.trim() !== "").pop() ?? "").trimEnd();
        if (trimmed === "") continue;
        if (/^Step \d+\/\d+ :/.test(trimmed)) currentStep = trimmed;
        recent.push(trimmed);
        if (recent.length > 15) recent.shift();
        progress(trimmed);
      }
    });
  } catch (error) {
    throw (
      stopped(error) ??
      new EnvironmentError("DYNABOX_IMAGE_BUILD_FAILED", `the build of ${name} broke off: ${String(error)}`, {
        cause: error,
        retryable: true,
      })
    );
  }
  // An aborted request may end the stream quietly rather than with an error.
  const reason = stopped();
  if (reason !== undefined) throw reason;
  if (failure !== undefined) {
    throw new EnvironmentError(
      "DYNABOX_IMAGE_BUILD_FAILED",
      `the build of ${name} failed at "${currentStep || "the start"}": ${failure}` +
        (recent.length > 0 ? `\nlast output:\n  ${recent.join("\n  ")}` : ""),
      { details: { step: currentStep, output: recent }, retryable: true },
    );
  }
  if (!(await imageExists(docker, options.tag))) {
    throw new EnvironmentError("DYNABOX_IMAGE_BUILD_FAILED", `the build of ${name} finished but the image ${options.tag} is missing`);
  }
}

// ---- the build lock ----------------------------------------------------------------------------

export interface BuildLockOptions {
  /** Defaults to <os.tmpdir()>/dynabox-image-build.lock. */
  path?: string;
  signal?: AbortSignal | undefined;
  /** Told once when the lock is held by another live process. */
  onWait?: (line: string) => void;
  pollMilliseconds?: number;
}

export interface BuildLock {
  path: string;
  release(): void;
}

interface LockOwner {
  pid: number;
  startTime: string;
  host: string;
}

export function defaultBuildLockPath(): string {
  return join(tmpdir(), "dynabox-image-build.lock");
}

/**
 * Takes the machine-wide image build lock: a file created with O_EXCL that holds the owner's pid
 * and start time. A lock whose owner died (or whose pid was reused) is stale and is broken. The
 * check-then-remove has a small window where two breakers race; the worst outcome is two
 * concurrent builds, which Docker tolerates.
 */
export async function acquireBuildLock(options: BuildLockOptions = {}): Promise<BuildLock> {
  const path = options.path ?? defaultBuildLockPath();
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid), host: hostname() };
  const content = JSON.stringify(me);
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const fd = openSync(path, "wx", 0o644);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return { path, release: () => releaseLock(path, content) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readLock(path);
    if (holder === "gone") continue;
    if (holder === "stale") {
      breakLock(path);
      continue;
    }
    if (!told) {
      options.onWait?.(`waiting for another dynabox process (pid ${holder.pid || "unknown"}) to finish building an image (lock ${path})`);
      told = true;
    }
    await sleep(options.pollMilliseconds ?? 500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
      throw options.signal?.reason ?? new DynaboxError("DYNABOX_ABORTED", "aborted while waiting for the build lock");
    });
  }
}

/** The live owner of the lock, "stale" if its owner is gone, "gone" if the file vanished. */
function readLock(path: string): LockOwner | "stale" | "gone" {
  let text: string;
  let ageMilliseconds: number;
  try {
    text = readFileSync(path, "utf8");
    ageMilliseconds = Date.now() - statSync(path).mtimeMs;
  } catch {
    return "gone";
  }
  let owner: LockOwner;
  try {
    owner = JSON.parse(text) as LockOwner;
  } catch {
    // Written between open and write, or by a process that crashed in between.
    return ageMilliseconds > 10_000 ? "stale" : { pid: 0, startTime: "", host: "" };
  }
  if (owner.host !== hostname()) return owner; // A shared tmp folder: we can not judge other hosts.
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return "stale";
  const start = processStartTime(owner.pid);
  if (start !== "") return start === owner.startTime ? owner : "stale";
  try {
    process.kill(owner.pid, 0);
    return owner;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH" ? "stale" : owner;
  }
}

function breakLock(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

function releaseLock(path: string, content: string): void {
  try {
    if (readFileSync(path, "utf8") === content) unlinkSync(path);
  } catch {
    // Already gone: someone judged us dead, or the tmp folder was cleaned.
  }
}
