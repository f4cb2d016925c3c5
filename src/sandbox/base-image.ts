// The base the sandbox image is built FROM. Preferred: debian:bookworm-slim (local, or pulled).
// Where no registry answers (air-gapped hosts, and this project's own machines), an equivalent
// image is bootstrapped once from the Debian mirror with debootstrap and `docker import`.

import { accessSync, constants, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type Dockerode from "dockerode";
import { execa } from "execa";
import { EnvironmentError } from "../errors.js";
import { imageExists } from "./docker.js";
import { LABEL_MANAGED } from "./labels.js";
import { followEngineProgress } from "./engine-progress.js";

export const DEBIAN_BASE_IMAGE = "debian:bookworm-slim";
export const BOOTSTRAPPED_BASE_IMAGE = "dynabox-base:bookworm";
export const DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian";

export interface BaseImageOptions {
  /** Debian mirror for debootstrap; defaults to DYNABOX_DEBIAN_MIRROR, then deb.debian.org. */
  mirror?: string;
  /** How long a pull may go without any answer before we give up on registries (default 20 s). */
  pullTimeoutMilliseconds?: number;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** The Debian release to bootstrap (default bookworm); the image is dynabox-base:<suite>. */
  suite?: string;
}

export function debianMirror(options: Pick<BaseImageOptions, "mirror"> = {}): string {
  return options.mirror ?? (process.env.DYNABOX_DEBIAN_MIRROR || DEFAULT_DEBIAN_MIRROR);
}

/** The base image present on the engine, if any, in order of preference. */
export async function findLocalBaseImage(docker: Dockerode): Promise<string | undefined> {
  for (const name of [DEBIAN_BASE_IMAGE, BOOTSTRAPPED_BASE_IMAGE]) {
    if (await imageExists(docker, name)) return name;
  }
  return undefined;
}

/** The path of the debootstrap program, searching PATH and the sbin folders. */
export function findDebootstrap(): string | undefined {
  const folders = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const folder of folders) {
    if (folder === "") continue;
    const candidate = join(folder, "debootstrap");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why a bootstrap can not run here, with the fix; undefined when it can. */
export function bootstrapBlocker(): string | undefined {
  if (findDebootstrap() === undefined) {
    return "debootstrap is not installed: apt-get install debootstrap (or sudo bash scripts/ensure-docker.sh)";
  }
  if (process.getuid?.() !== 0) {
    return "debootstrap needs root: run `sudo dynabox image build` once";
  }
  return undefined;
}

/**
 * Returns the name of a base image present on the engine, making one when needed: local first,
 * then a pull, then a bootstrap from the Debian mirror. Not locked: call it through
 * ensureSandboxImage, which holds the build lock.
 */
export async function ensureBaseImage(docker: Dockerode, options: BaseImageOptions = {}): Promise<string> {
  return ensureDebianBaseImage(docker, { ...options, suite: options.suite ?? "bookworm" });
}

/**
 * The same for any Debian release: debian:<suite>-slim (local or pulled), else dynabox-base:<suite>
 * (local, or bootstrapped from the Debian mirror). Callers hold a build lock.
 */
export async function ensureDebianBaseImage(docker: Dockerode, options: BaseImageOptions & { suite: string }): Promise<string> {
  const progress = options.onProgress ?? (() => {});
  const official = `debian:${options.suite}-slim`;
  const bootstrapped = `dynabox-base:${options.suite}`;
  for (const name of [official, bootstrapped]) {
    if (await imageExists(docker, name)) return name;
  }

  progress(`pulling ${official}`);
  const pullProblem = await tryPull(docker, official, options);
  if (pullProblem === undefined) return official;

  const blocker = bootstrapBlocker();
  if (blocker !== undefined) {
    throw new EnvironmentError(
      "DYNABOX_IMAGE_MISSING",
      `no base image: ${official} is not on the engine, the pull failed (${pullProblem}), ` +
        `and ${bootstrapped} can not be bootstrapped from the Debian mirror because ${blocker}`,
    );
  }
  const mirror = debianMirror(options);
  progress(
    `no registry answered (${pullProblem}); bootstrapping ${bootstrapped} from ${mirror} ` +
      `with debootstrap + docker import (about a minute, done once)`,
  );
  await bootstrapBaseImage(docker, { ...options, mirror });
  progress(`bootstrapped ${bootstrapped}`);
  return bootstrapped;
}

/** Pulls an image; undefined on success, otherwise why it failed. Gives up after a silence. */
export async function tryPull(docker: Dockerode, name: string, options: BaseImageOptions): Promise<string | undefined> {
  const silenceLimit = options.pullTimeoutMilliseconds ?? 20_000;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let timer = setTimeout(() => controller.abort(), silenceLimit);
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), silenceLimit);
  };
  try {
    const stream = await docker.pull(name, { abortSignal: signal });
    heard();
    const failure = await followEngineProgress(docker, stream, heard);
    if (failure !== undefined) return failure;
    return (await imageExists(docker, name)) ? undefined : "the pull finished without the image";
  } catch (error) {
    options.signal?.throwIfAborted();
    if (controller.signal.aborted) return `no answer within ${Math.round(silenceLimit / 1000)} s`;
    const message = (error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? String(error);
    return message.trim();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * debootstrap --variant=minbase <suite> (default bookworm) into a temp folder, then stream it as a
 * tar into `docker import` as dynabox-base:<suite>. Needs root and debootstrap.
 */
export async function bootstrapBaseImage(docker: Dockerode, options: BaseImageOptions = {}): Promise<void> {
  const progress = options.onProgress ?? (() => {});
  const mirror = debianMirror(options);
  const suite = options.suite ?? "bookworm";
  const tag = `dynabox-base:${suite}`;
  const debootstrap = findDebootstrap() ?? "debootstrap";
  const workFolder = await mkdtemp(join(tmpdir(), "dynabox-debootstrap-"));
  const rootfs = join(workFolder, "rootfs");
  try {
    const recent: string[] = [];
    const run = execa(debootstrap, ["--variant=minbase", suite, rootfs, mirror], {
      all: true,
      buffer: false,
      reject: false,
      ...(options.signal ? { cancelSignal: options.signal } : {}),
      env: { DEBIAN_FRONTEND: "noninteractive" },
    });
    for await (const line of run.iterable({ from: "all" })) {
      recent.push(line);
      if (recent.length > 15) recent.shift();
      progress(`debootstrap: ${line}`);
    }
    const result = await run;
    options.signal?.throwIfAborted();
    if (result.exitCode !== 0) {
      throw new EnvironmentError(
        "DYNABOX_IMAGE_BUILD_FAILED",
        `debootstrap from ${mirror} failed (exit ${result.exitCode ?? result.signal}); check that the mirror ` +
          `answers or set DYNABOX_DEBIAN_MIRROR\nlast output:\n  ${[...recent, ...debootstrapLogTail(rootfs)].join("\n  ")}`,
        { retryable: true },
      );
    }
    // The downloaded .deb files are not needed in the image.
    const archives = join(rootfs, "var/cache/apt/archives");
    for (const name of await readdir(archives).catch(() => [] as string[])) {
      if (name.endsWith(".deb")) await rm(join(archives, name), { force: true });
    }
    progress(`importing ${rootfs} as ${tag}`);
    await importFolder(docker, rootfs, mirror, tag, options.signal);
  } finally {
    await removeWorkFolder(workFolder);
  }
}

function debootstrapLogTail(rootfs: string): string[] {
  try {
    return readFileSync(join(rootfs, "debootstrap/debootstrap.log"), "utf8").trimEnd().split("\n").slice(-10);
  } catch {
    return [];
  }
}

async function importFolder(docker: Dockerode, rootfs: string, mirror: string, imageTag: string, signal?: AbortSignal): Promise<void> {
  const archive = execa("tar", ["--numeric-owner", "-C", rootfs, "-c", "."], {
    buffer: false,
    stdout: "pipe",
    stderr: "pipe",
    reject: false,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  const [repo, tag] = imageTag.split(":") as [string, string];
  let failure: string | undefined;
  let stderr = "";
  archive.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  try {
    const stream = await docker.importImage(archive.stdout as NodeJS.ReadableStream, {
      repo,
      tag,
      changes: [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
        `LABEL ${LABEL_MANAGED}=true dynabox.base.mirror=${mirror}`,
      ],
      ...(signal ? { abortSignal: signal } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: { error?: string; errorDetail?: { message?: string } }) => {
          if (event.error || event.errorDetail) failure = event.errorDetail?.message ?? event.error;
        },
      );
    });
  } catch (error) {
    signal?.throwIfAborted();
    failure = (error as Error).message ?? String(error);
  }
  const tarResult = await archive;
  signal?.throwIfAborted();
  if (tarResult.exitCode !== 0) failure = `tar failed (exit ${tarResult.exitCode}): ${stderr.trim()}`;
  if (failure !== undefined) {
    await docker.getImage(imageTag).remove({ force: true }).catch(() => {});
    throw new EnvironmentError("DYNABOX_IMAGE_BUILD_FAILED", `docker import of the bootstrapped base failed: ${failure}`, {
      retryable: true,
    });
  }
}

/**
 * debootstrap mounts /proc and /sys inside the target and may leave them mounted when it fails:
 * unmount whatever is below the folder first, and never let rm cross into another file system.
 */
async function removeWorkFolder(folder: string): Promise<void> {
  let mounts: string[] = [];
  try {
    mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((line) => (line.split(" ")[1] ?? "").replace(/\\040/g, " "))
      .filter((point) => point.startsWith(folder + "/"))
      .sort((a, b) => b.length - a.length);
  } catch {
    // not Linux, or no /proc: nothing to unmount
  }
  for (const point of mounts) await execa("umount", ["-l", point], { reject: false });
  await execa("rm", ["-rf", "--one-file-system", folder], { reject: false });
}
