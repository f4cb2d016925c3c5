// Files in and out of sandboxes as tar streams. Packing sets the sandbox user as owner;
// unpacking never follows or creates a link that leaves the destination, and stops at a size cap.

import { createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, symlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { SandboxError } from "../errors.js";
import { SANDBOX_UID } from "./profile.js";

export interface FileEntry {
  /** Relative path inside the destination folder, with forward slashes. */
  path: string;
  content: Buffer | string;
  mode?: number;
}

export interface UnpackLimits {
  /** Most bytes of file content accepted in total. */
  maxBytes: number;
  /** Most entries accepted. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 512 * 1024 * 1024, maxEntries: 100_000 };

export interface SkippedEntry {
  path: string;
  reason: string;
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

/**
 * Unpacks a tar stream under `destination`. Entries that would leave it (absolute paths, `..`,
 * links pointing outside, hard links, devices) are skipped and reported; content past
 * `maxBytes` or more than `maxEntries` entries fails the whole unpack.
 * `stripComponents` drops leading folders (Docker names entries after the copied folder).
 */
export async function unpackArchive(
  stream: Readable,
  destination: string,
  options: Partial<UnpackLimits> & { stripComponents?: number } = {},
): Promise<UnpackReport> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options };
  const strip = options.stripComponents ?? 0;
  const report: UnpackReport = { files: 0, bytes: 0, skipped: [] };
  const extract = tar.extract();
  let entries = 0;
  extract.on("entry", (header, body, next) => {
    // When the unpack fails, the extractor destroys the entry too; the error is reported once, by pipeline.
    body.on("error", () => {});
    const fail = (message: string): void => {
      body.resume();
      extract.destroy(new SandboxError("DYNABOX_ARCHIVE_REJECTED", message));
    };
    entries += 1;
    if (entries > limits.maxEntries) return fail(`the archive has more than ${limits.maxEntries} entries`);
    const stripped = header.name.split("/").slice(strip).join("/");
    const relative = safeRelativePath(stripped);
    const skip = (reason: string): void => {
      report.skipped.push({ path: header.name, reason });
      body.on("end", next);
      body.resume();
    };
    if (relative === null) return skip("path leaves the destination");
    if (relative === "") {
      // The copied folder itself: it is the destination.
      body.on("end", next);
      body.resume();
      return;
    }
    const target = path.join(destination, relative);
    const run = async (): Promise<void> => {
      switch (header.type) {
        case "directory":
          await mkdir(target, { recursive: true });
          body.resume();
          return;
        case "symlink": {
          const linkname = header.linkname ?? "";
          if (!linkStaysInside(relative, linkname)) {
            report.skipped.push({ path: header.name, reason: `symlink to ${linkname} leaves the destination` });
            body.resume();
            return;
          }
          await mkdir(path.dirname(target), { recursive: true });
          await symlink(linkname, target);
          body.resume();
          return;
        }
        case "file":
        case "contiguous-file": {
          const size = header.size ?? 0;
          if (report.bytes + size > limits.maxBytes) {
            throw new SandboxError(
              "DYNABOX_ARCHIVE_REJECTED",
              `the archive holds more than ${limits.maxBytes} bytes (at ${header.name}); nothing past the cap was written`,
            );
          }
          await mkdir(path.dirname(target), { recursive: true });
          await pipeline(body, createWriteStream(target, { mode: (header.mode ?? 0o644) & 0o777, flags: "wx" }));
          report.bytes += size;
          report.files += 1;
          return;
        }
        default:
          report.skipped.push({ path: header.name, reason: `${header.type ?? "unknown"} entries are not copied` });
          body.resume();
      }
    };
    run().then(
      () => next(),
      (error: unknown) => fail(error instanceof Error ? error.message : String(error)),
    );
  });
  await pipeline(stream, extract);
  return report;
}

/** Reads regular files of a tar stream into memory, with the same caps and path rules. */
export async function readArchiveFiles(
  stream: Readable,
  options: Partial<UnpackLimits> & { stripComponents?: number } = {},
): Promise<Map<string, Buffer>> {
  const limits = { ...DEFAULT_UNPACK_LIMITS, ...options };
  const strip = options.stripComponents ?? 0;
  const files = new Map<string, Buffer>();
  let total = 0;
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    body.on("error", () => {});
    const relative = safeRelativePath(header.name.split("/").slice(strip).join("/"));
    if (header.type !== "file" || relative === null || relative === "") {
      body.on("end", next);
      body.resume();
      return;
    }
    total += header.size ?? 0;
    if (total > limits.maxBytes) {
      body.resume();
      extract.destroy(new SandboxError("DYNABOX_ARCHIVE_REJECTED", `the archive holds more than ${limits.maxBytes} bytes`));
      return;
    }
    streamToBuffer(body, limits.maxBytes).then((content) => {
      files.set(relative, content);
      next();
    }, (error: unknown) => extract.destroy(error as Error));
  });
  await pipeline(stream, extract);
  return files;
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
