// Files in and out of sandboxes as tar streams. Packing sets the sandbox user as owner.
// Archives made by untrusted code are read by the rules of archive-plan.ts (folders and regular
// files only, capped); copy-out.ts writes them to the host.

import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { SandboxError } from "../errors.js";
import { ArchivePlanner, DEFAULT_UNPACK_LIMITS, type SkippedEntry, type UnpackLimits } from "./archive-plan.js";
import { SANDBOX_UID } from "./profile.js";

export { DEFAULT_UNPACK_LIMITS, type SkippedEntry, type UnpackLimits } from "./archive-plan.js";

export interface FileEntry {
  /** Relative path inside the destination folder, with forward slashes. */
  path: string;
  content: Buffer | string;
  mode?: number;
}

export interface UnpackReport {
  files: number;
  bytes: number;
  skipped: SkippedEntry[];
}

/** A path inside the archive made safe to join under a root, or null when it would escape. */
export function safeRelativePath(name: string): string | null {
  const normalized = path.posix.normalize(name.replace(/\\/g, "/")).replace(/^(\.\/)+/, "");
  if (normalized === "." || normalized === "") return "";
  if (path.posix.isAbsolute(normalized) || normalized === ".." || normalized.startsWith("../")) return null;
  return normalized.replace(/\/$/, "");
}

/** Whether a symlink at `linkPath` pointing to `target` stays inside the root. */
export function linkStaysInside(linkPath: string, target: string): boolean {
  if (path.posix.isAbsolute(target)) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  return resolved !== ".." && !resolved.startsWith("../");
}

export async function packFiles(files: FileEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const directories = new Set<string>();
  for (const file of files) {
    const relative = safeRelativePath(file.path);
    if (relative === null || relative === "") {
      throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", `refusing to pack ${JSON.stringify(file.path)}: it leaves the destination`);
    }
    for (let parent = path.posix.dirname(relative); parent !== "."; parent = path.posix.dirname(parent)) {
      if (directories.has(parent)) break;
      directories.add(parent);
    }
  }
  const owner = { uid: SANDBOX_UID, gid: SANDBOX_UID };
  for (const directory of [...directories].sort()) {
    pack.entry({ name: directory, type: "directory", mode: 0o755, ...owner });
  }
  for (const file of files) {
    const content = typeof file.content === "string" ? Buffer.from(file.content) : file.content;
    pack.entry({ name: safeRelativePath(file.path) ?? file.path, mode: file.mode ?? 0o644, ...owner }, content);
  }
  pack.finalize();
  return streamToBuffer(pack, Number.MAX_SAFE_INTEGER);
}

/** Packs a host folder (files, folders and symlinks that stay inside it), owned by the sandbox user. */
export async function packDirectory(root: string): Promise<Buffer> {
  const pack = tar.pack();
  const owner = { uid: SANDBOX_UID, gid: SANDBOX_UID };
  const walk = async (relative: string): Promise<void> => {
    const names = (await readdir(path.join(root, relative))).sort();
    for (const name of names) {
      const entryPath = relative ? `${relative}/${name}` : name;
      const absolute = path.join(root, entryPath);
      const info = await lstat(absolute);
      if (info.isDirectory()) {
        pack.entry({ name: entryPath, type: "directory", mode: info.mode & 0o777, ...owner });
        await walk(entryPath);
      } else if (info.isSymbolicLink()) {
        const target = await readlink(absolute);
        if (linkStaysInside(entryPath, target)) {
          pack.entry({ name: entryPath, type: "symlink", linkname: target, ...owner });
        }
      } else if (info.isFile()) {
        pack.entry({ name: entryPath, mode: info.mode & 0o777, ...owner }, await readFile(absolute));
      }
    }
  };
  const done = walk("").then(() => pack.finalize(), (error: unknown) => pack.destroy(error as Error));
  const buffer = await streamToBuffer(pack, Number.MAX_SAFE_INTEGER);
  await done;
  return buffer;
}

/** The folders and regular files of an archive, in memory, as the plan accepted them. */
export interface CollectedArchive {
  directories: Map<string, { mode: number; mtime?: Date }>;
  files: Map<string, { content: Buffer; mode: number; mtime?: Date }>;
  report: UnpackReport;
}

export type ArchiveOptions = Partial<UnpackLimits> & { stripComponents?: number };

/**
 * Reads an archive made by untrusted code into memory by the rules of `ArchivePlanner`: folders
 * and regular files only, hard links as copies, refused names and links reported as skipped,
 * caps on entries and bytes that fail the whole read.
 */
export async function collectArchive(stream: Readable, options: ArchiveOptions = {}): Promise<CollectedArchive> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options };
  const planner = new ArchivePlanner(limits, options.stripComponents ?? 0);
  const directories: CollectedArchive["directories"] = new Map();
  const files: CollectedArchive["files"] = new Map();
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    // When the read fails, the extractor destroys the entry too; the error is reported once, by pipeline.
    body.on("error", () => {});
    const run = async (): Promise<void> => {
      const planned = planner.plan(header);
      const mtime = header.mtime ? { mtime: header.mtime } : {};
      if (planned.kind === "file") {
        files.set(planned.path, { content: await streamToBuffer(body, planned.size), mode: planned.mode, ...mtime });
        return;
      }
      body.resume();
      if (planned.kind === "directory") directories.set(planned.path, { mode: planned.mode, ...mtime });
      if (planned.kind === "copy") files.set(planned.path, { content: files.get(planned.source)!.content, mode: planned.mode, ...mtime });
    };
    run().then(
      () => next(),
      (error: unknown) => {
        body.resume();
        extract.destroy(error as Error);
      },
    );
  });
  await pipeline(stream, extract);
  return { directories, files, report: { files: planner.files, bytes: planner.bytes, skipped: planner.skipped } };
}

/** Reads regular files of a tar stream into memory, with the same caps and path rules. */
export async function readArchiveFiles(stream: Readable, options: ArchiveOptions = {}): Promise<Map<string, Buffer>> {
  const collected = await collectArchive(stream, options);
  return new Map([...collected.files].map(([name, file]) => [name, file.content]));
}

/**
 * Re-packs an archive made by untrusted code into one that is safe to give the engine's
 * `putArchive`: folders and regular files only (never a link, so no later entry can be written
 * through one), normalized relative names, folders before what they hold, owned by the sandbox user.
 */
export async function canonicalArchive(stream: Readable, options: ArchiveOptions = {}): Promise<{ archive: Buffer; report: UnpackReport }> {
  const collected = await collectArchive(stream, options);
  const pack = tar.pack();
  const owner = { uid: SANDBOX_UID, gid: SANDBOX_UID };
  const implied = new Set<string>();
  for (const name of collected.files.keys()) {
    for (let parent = path.posix.dirname(name); parent !== "."; parent = path.posix.dirname(parent)) implied.add(parent);
  }
  for (const name of [...new Set([...collected.directories.keys(), ...implied])].sort()) {
    const directory = collected.directories.get(name);
    pack.entry({ name, type: "directory", mode: directory?.mode ?? 0o755, ...(directory?.mtime ? { mtime: directory.mtime } : {}), ...owner });
  }
  for (const [name, file] of collected.files) {
    pack.entry({ name, type: "file", mode: file.mode, ...(file.mtime ? { mtime: file.mtime } : {}), ...owner }, file.content);
  }
  pack.finalize();
  return { archive: await streamToBuffer(pack, Number.MAX_SAFE_INTEGER), report: collected.report };
}

export async function streamToBuffer(
  stream: AsyncIterable<unknown> & { destroy(error?: Error): unknown },
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new SandboxError("DYNABOX_ARCHIVE_REJECTED", `more than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
