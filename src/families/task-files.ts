// Reading a downloaded task's files without leaving its folder. A task folder is untrusted: any
// path in it (env/, benchmark/datasets/<x>, a file in scripts/) may be a symlink to a host file
// such as ~/.ssh/id_rsa, and whatever dynabox reads from a task reaches prompts, containers and
// result files. Every read, walk, copy and pack of task files goes through a TaskFolder, which
// resolves each path with realpath and refuses any that lands outside the task folder's own real
// path. Links that stay inside are followed (their content is read as regular files), so a task
// may share files between its folders; nothing is ever written or packed as a link.

import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { copyFile, lstat, mkdir, readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import tar from "tar-stream";
import { UserError } from "../errors.js";
import { streamToBuffer } from "../sandbox/archive.js";
import { SANDBOX_UID } from "../sandbox/profile.js";
import type { Sandbox } from "../sandbox/sandbox.js";

export type TaskPathKind = "file" | "directory" | "missing" | "other";

export interface TaskFileEntry {
  /** Path relative to the walked folder, with `/`. */
  relative: string;
  /** The real path on the host (inside the task folder). */
  absolute: string;
  kind: "file" | "directory";
  mode: number;
}

export interface WalkOptions {
  /** Names (a single path component) left out with everything under them, e.g. `__pycache__`. */
  skip?: (name: string) => boolean;
}

function isInside(candidate: string, root: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** Why a link leads out of the task: names the link, where it points and the fix. */
function outsideError(root: string, relative: string, target: string): UserError {
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `the task file ${relative} in ${root} is a link to ${target}, outside the task folder; dynabox reads task files only ` +
      "from inside the task folder (a downloaded task could otherwise hand host files to the agent or the grader): " +
      "replace the link with the files themselves",
    { details: { folder: root, file: relative } },
  );
}

function specialFileError(root: string, relative: string): UserError {
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `the task file ${relative} in ${root} is neither a regular file nor a folder (a FIFO, socket or device): remove it`,
    { details: { folder: root, file: relative } },
  );
}

/** A relative path inside a task folder, or null when it is absolute or climbs out lexically. */
function normalizeRelative(relative: string): string | null {
  const normalized = path.posix.normalize(relative.replace(/\\/g, "/"));
  if (normalized === "." || normalized === "") return "";
  if (path.posix.isAbsolute(normalized) || normalized === ".." || normalized.startsWith("../")) return null;
  return normalized.replace(/\/$/, "");
}

/** A task folder on the host, read only through paths that resolve inside it. */
export class TaskFolder {
  private constructor(
    /** The folder's real path: the boundary every task path must resolve inside. */
    readonly root: string,
  ) {}

  /** Opens a folder the user named (its own path may be a link: the user chose it). */
  static async open(folder: string): Promise<TaskFolder> {
    const absolute = path.resolve(folder);
    try {
      return new TaskFolder(await realpath(absolute));
    } catch (error) {
      throw new UserError("DYNABOX_TASK_INVALID", `the task folder ${absolute} can not be read: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * The real path of `relative`, checked to be inside the folder; null when nothing is there.
   * Throws a DYNABOX_TASK_INVALID error naming the link when it resolves outside.
   */
  async resolve(relative: string): Promise<string | null> {
    const clean = normalizeRelative(relative);
    if (clean === null) throw outsideError(this.root, relative, relative);
    const lexical = path.join(this.root, clean);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        // A dangling link is still a link that points somewhere: refuse it if it points out.
        await this.refuseDanglingLinkOut(clean);
        return null;
      }
      if (code === "ELOOP") throw outsideError(this.root, clean, "a loop of links");
      throw error;
    }
    if (!isInside(real, this.root)) throw outsideError(this.root, clean, real);
    return real;
  }

  private async refuseDanglingLinkOut(clean: string): Promise<void> {
    const info = await lstat(path.join(this.root, clean)).catch(() => undefined);
    if (info?.isSymbolicLink()) throw outsideError(this.root, clean, "a path that does not exist");
  }

  /** What is at `relative` (after following links that stay inside). */
  async kind(relative: string): Promise<TaskPathKind> {
    const real = await this.resolve(relative);
    if (real === null) return "missing";
    const info = await stat(real);
    return info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
  }

  /** The content of a file of the task. */
  async readBytes(relative: string): Promise<Buffer> {
    const real = await this.resolve(relative);
    if (real === null) throw new UserError("DYNABOX_TASK_INVALID", `the task file ${relative} in ${this.root} does not exist`, { details: { folder: this.root, file: relative } });
    const info = await stat(real);
    if (!info.isFile()) throw specialFileError(this.root, relative);
    return readFile(real);
  }

  async readText(relative: string): Promise<string> {
    return (await this.readBytes(relative)).toString("utf8");
  }

  /**
   * Every folder and regular file under `relative` (sorted, folders before their contents).
   * Links are followed only when they resolve inside the task folder; a link out, a FIFO or a
   * device throws. A link back to a folder being walked (a loop) is left out.
   */
  async walk(relative: string, options: WalkOptions = {}): Promise<TaskFileEntry[]> {
    const start = await this.resolve(relative);
    if (start === null) return [];
    const startInfo = await stat(start);
    const clean = normalizeRelative(relative) ?? relative;
    if (startInfo.isFile()) return [{ relative: path.posix.basename(clean), absolute: start, kind: "file", mode: startInfo.mode & 0o777 }];
    if (!startInfo.isDirectory()) throw specialFileError(this.root, clean);
    const entries: TaskFileEntry[] = [];
    const visit = async (real: string, inFolder: string, ancestors: Set<string>): Promise<void> => {
      const names = (await readdir(real)).sort();
      for (const name of names) {
        if (options.skip?.(name)) continue;
        const child = inFolder ? `${inFolder}/${name}` : name;
        const taskRelative = clean ? `${clean}/${child}` : child;
        let childReal = path.join(real, name);
        const info = await lstat(childReal);
        if (info.isSymbolicLink()) {
          const resolved = await this.resolve(taskRelative);
          if (resolved === null) continue; // a dangling link that points inside: nothing to read
          childReal = resolved;
        }
        const target = await stat(childReal);
        if (target.isDirectory()) {
          if (ancestors.has(childReal)) continue;
          entries.push({ relative: child, absolute: childReal, kind: "directory", mode: target.mode & 0o777 });
          await visit(childReal, child, new Set([...ancestors, childReal]));
        } else if (target.isFile()) {
          entries.push({ relative: child, absolute: childReal, kind: "file", mode: target.mode & 0o777 });
        } else throw specialFileError(this.root, taskRelative);
      }
    };
    await visit(start, "", new Set([start]));
    return entries;
  }

  /** The regular files under `relative` (paths relative to it), for hashing and listing. */
  async listFiles(relative: string, options: WalkOptions = {}): Promise<TaskFileEntry[]> {
    return (await this.walk(relative, options)).filter((entry) => entry.kind === "file");
  }

  /** sha256 over the names and contents of the files under `relative`. */
  async hash(relative: string, options: WalkOptions = {}): Promise<string> {
    const hash = createHash("sha256");
    for (const entry of await this.listFiles(relative, options)) {
      hash.update(`${entry.relative}\0${createHash("sha256").update(await readFile(entry.absolute)).digest("hex")}\0`);
    }
    return hash.digest("hex");
  }

  /**
   * A tar of the folder's contents (regular files and folders only, owned by the sandbox user),
   * for a container: no link ever goes in, so nothing inside can be steered out by one.
   */
  async pack(relative: string, options: WalkOptions = {}): Promise<Buffer> {
    const entries = await this.walk(relative, options);
    const pack = tar.pack();
    const owner = { uid: SANDBOX_UID, gid: SANDBOX_UID };
    const done = (async () => {
      for (const entry of entries) {
        if (entry.kind === "directory") pack.entry({ name: entry.relative, type: "directory", mode: entry.mode | 0o700, ...owner });
        else pack.entry({ name: entry.relative, mode: entry.mode | 0o600, ...owner }, await readFile(entry.absolute));
      }
    })().then(
      () => pack.finalize(),
      (error: unknown) => pack.destroy(error as Error),
    );
    const buffer = await streamToBuffer(pack, Number.MAX_SAFE_INTEGER);
    await done;
    return buffer;
  }

  /** Copies the folder's contents into a host folder, as regular files and folders only. */
  async copyTo(relative: string, destination: string, options: WalkOptions = {}): Promise<void> {
    await mkdir(destination, { recursive: true });
    for (const entry of await this.walk(relative, options)) {
      const target = path.join(destination, entry.relative);
      if (entry.kind === "directory") await mkdir(target, { recursive: true });
      else await copyFile(entry.absolute, target);
    }
  }
}

/**
 * Whether an existing path, after every link, lies inside `root` (also after its links). For
 * loaders that check synchronously (RES-Q's relative repo_url paths); false when it can not be
 * resolved.
 */
export function resolvesInside(root: string, target: string): boolean {
  try {
    return isInside(realpathSync(target), realpathSync(root));
  } catch {
    return false;
  }
}

/** Puts a task folder's contents under `destination` in a sandbox (see TaskFolder.pack). */
export async function putTaskDirectory(sandbox: Sandbox, folder: TaskFolder, relative: string, destination: string, options: WalkOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const { signal, ...walk } = options;
  const archive = await folder.pack(relative, walk);
  await sandbox.putPackedArchive(archive, destination, signal);
}
