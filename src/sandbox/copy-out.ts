// Writing an archive made by untrusted code to a host folder, all or nothing.
//
// Pass one reads only the headers and plans every entry (archive-plan.ts): caps fail here,
// before anything is written. Pass two writes into a fresh private folder next to the
// destination: folders with mkdir, files with O_CREAT|O_EXCL|O_NOFOLLOW, hard links as copies
// made after every file; no link is ever created, so no path is ever resolved through one the
// archive made. The folder is renamed into place only when the whole archive was written; on any
// failure it is removed. All-zero stretches of a file are left as holes, so a sparse file made
// in the sandbox stays sparse on the host disk.

import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, mkdtemp, open, readdir, realpath, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { SandboxError, UserError } from "../errors.js";
import { ArchivePlanner, DEFAULT_UNPACK_LIMITS, type PlannedEntry } from "./archive-plan.js";
import { assertOutsideSystemTrees, notAFolderError } from "./output-paths.js";
import type { ArchiveOptions, UnpackReport } from "./archive.js";

/** An archive that can be read twice: bytes in memory, or a function that opens it again. */
export type ArchiveSource = Buffer | (() => Promise<Readable>);

const HOLE_CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(HOLE_CHUNK);

async function openSource(source: ArchiveSource): Promise<Readable> {
  return Buffer.isBuffer(source) ? Readable.from([source]) : source();
}

/**
 * Where an output folder really is (links in its existing part resolved) and whether it exists;
 * refuses one under /proc, /sys or /dev and an existing path that is not a folder (exit code 2).
 * `what` names it in messages ("copy-out folder", "--run-dir").
 */
export async function checkOutputFolder(folder: string, what: string): Promise<{ real: string; exists: boolean }> {
  const absolute = path.resolve(folder);
  let existing = absolute;
  const missing: string[] = [];
  while ((await lstat(existing).catch(() => undefined)) === undefined && path.dirname(existing) !== existing) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  const real = path.join(await realpath(existing), ...missing);
  assertOutsideSystemTrees(what, folder, [real, absolute], "folder");
  const exists = missing.length === 0;
  if (exists && !(await lstat(real)).isDirectory()) throw notAFolderError(what, folder);
  return { real, exists };
}

/**
 * Checks a copy-out destination before anything runs: it must be a new folder (its parent is
 * made) or an empty one, never a file, and never under /proc, /sys or /dev. Returns its real path.
 */
export async function checkCopyOutDestination(destination: string): Promise<string> {
  const { real, exists } = await checkOutputFolder(destination, "copy-out folder");
  if (exists && (await readdir(real)).length > 0) {
    throw new UserError(
      "DYNABOX_USAGE",
      `copy-out folder ${destination} is not empty; give a new or empty folder (copy-out never mixes its files with existing ones)`,
    );
  }
  return real;
}

/** Plans every entry from the headers alone; throws at the first passed cap. */
async function planArchive(stream: Readable, planner: ArchivePlanner): Promise<{ name: string; type: string; size: number; planned: PlannedEntry }[]> {
  const entries: { name: string; type: string; size: number; planned: PlannedEntry }[] = [];
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    body.on("error", () => {});
    body.on("end", next);
    body.resume();
    try {
      entries.push({ name: header.name, type: header.type ?? "file", size: header.size ?? 0, planned: planner.plan(header) });
    } catch (error) {
      extract.destroy(error as Error);
    }
  });
  await pipeline(stream, extract);
  return entries;
}

/** Writes a file's content at the right offsets, leaving all-zero stretches as holes. */
async function writeSparse(body: AsyncIterable<unknown>, handle: FileHandle, size: number): Promise<void> {
  let position = 0;
  for await (const data of body) {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
    for (let offset = 0; offset < chunk.length; offset += HOLE_CHUNK) {
      const piece = chunk.subarray(offset, Math.min(offset + HOLE_CHUNK, chunk.length));
      if (!piece.equals(ZEROS.subarray(0, piece.length))) await handle.write(piece, 0, piece.length, position);
      position += piece.length;
    }
  }
  if (position !== size) throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", `a file's content ended after ${position} of ${size} bytes`);
  await handle.truncate(size);
}

/** Folders this copy made; a file is only ever created in one of them. */
class PrivateTree {
  private readonly made = new Set<string>([""]);
  /** Modes from the archive's folder entries; folders it did not list get 0755. */
  private readonly modes = new Map<string, number>();

  constructor(readonly root: string) {}

  async folder(relative: string, mode?: number): Promise<void> {
    if (mode !== undefined) this.modes.set(relative, mode);
    if (this.made.has(relative)) return;
    await this.folder(parentOf(relative));
    const target = path.join(this.root, relative);
    // Private (0700) until the copy is complete; mkdir never follows a link at its last
    // component and the parent was made here, but check the real path anyway.
    await mkdir(target, { mode: 0o700 });
    if ((await realpath(target)) !== target) throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", `${relative} did not end up inside the copy`);
    this.made.add(relative);
  }

  async file(relative: string): Promise<FileHandle> {
    await this.folder(parentOf(relative));
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    return open(path.join(this.root, relative), flags, 0o600);
  }

  /** Folder permissions are set last, deepest first, so a read-only folder does not block its content. */
  async applyFolderModes(): Promise<void> {
    const folders = [...this.made].filter((relative) => relative !== "");
    folders.sort((a, b) => b.split("/").length - a.split("/").length);
    for (const relative of folders) await chmod(path.join(this.root, relative), this.modes.get(relative) ?? 0o755);
  }
}

function parentOf(relative: string): string {
  const parent = path.posix.dirname(relative);
  return parent === "." ? "" : parent;
}

/**
 * Copies an archive under `destination`, which must not exist or be empty: all of it or nothing.
 * Links, devices and refused names are reported as skipped; passing a cap fails before writing.
 * `stripComponents` drops leading folders (Docker names entries after the copied folder).
 */
export async function unpackArchive(source: ArchiveSource, destination: string, options: ArchiveOptions = {}): Promise<UnpackReport> {
  const target = await checkCopyOutDestination(destination);
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options };
  const planner = new ArchivePlanner(limits, options.stripComponents ?? 0);
  const plan = await planArchive(await openSource(source), planner);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const root = await realpath(await mkdtemp(path.join(parent, `.${path.basename(target)}.dynabox-partial-`)));
  try {
    const tree = new PrivateTree(root);
    const copies: { path: string; source: string; mode: number }[] = [];
    let index = 0;
    const extract = tar.extract();
    extract.on("entry", (header, body, next) => {
      body.on("error", () => {});
      const expected = plan[index];
      index += 1;
      const run = async (): Promise<void> => {
        if (!expected || expected.name !== header.name || expected.type !== (header.type ?? "file") || expected.size !== (header.size ?? 0)) {
          throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", "the archive changed between planning and copying; nothing was copied");
        }
        const planned = expected.planned;
        if (planned.kind === "file") {
          const handle = await tree.file(planned.path);
          try {
            await writeSparse(body, handle, planned.size);
            await handle.chmod(planned.mode);
          } finally {
            await handle.close();
          }
          return;
        }
        body.resume();
        if (planned.kind === "directory") await tree.folder(planned.path, planned.mode);
        if (planned.kind === "copy") copies.push(planned);
      };
      run().then(
        () => next(),
        (error: unknown) => {
          body.resume();
          extract.destroy(error as Error);
        },
      );
    });
    await pipeline(await openSource(source), extract);
    if (index !== plan.length) throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", "the archive changed between planning and copying; nothing was copied");
    for (const copy of copies) {
      await tree.folder(parentOf(copy.path));
      const from = path.join(root, copy.source);
      if (!(await lstat(from)).isFile()) throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", `hard link source ${copy.source} is not a file`);
      await copyFile(from, path.join(root, copy.path), constants.COPYFILE_EXCL);
      await chmod(path.join(root, copy.path), copy.mode);
    }
    await tree.applyFolderModes();
    const previous = await lstat(target).catch(() => undefined);
    await chmod(root, previous ? previous.mode & 0o7777 : 0o777 & ~process.umask());
    // rename(2) replaces an empty folder in one step; a folder that got content meanwhile makes it fail.
    await rename(root, target);
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return { files: planner.files, bytes: planner.bytes, skipped: planner.skipped };
}
