// What to do with each entry of an archive made by untrusted code, decided from its headers
// alone (pure, no file system). Every consumer (copy-out to the host, reading into memory,
// re-packing before an archive goes into another container) follows the same plan:
// only folders and regular files are ever made; no link is ever created or followed, so
// nothing can be resolved through a link the archive made; hard links become copies of
// content already accepted; names that would change meaning on the way (a backslash, NUL,
// `.`/`..`, invalid UTF-8) are refused; entry and byte caps fail the whole archive as soon as
// a header passes them, before anything is written.

import { SandboxError } from "../errors.js";

export interface UnpackLimits {
  /** Most bytes of file content accepted in total (apparent sizes: a sparse file counts in full). */
  maxBytes: number;
  /** Most entries accepted, skipped ones included. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 512 * 1024 * 1024, maxEntries: 100_000 };

export interface SkippedEntry {
  /** The entry's name as the archive gave it (print it with printableLine). */
  path: string;
  reason: string;
}

/** The header fields the plan looks at (tar-stream's header has them all). */
export interface EntryHeader {
  name: string;
  type?: string | null;
  size?: number;
  linkname?: string | null;
  mode?: number;
}

export type PlannedEntry =
  /** Nothing to make: the copied folder itself, a repeated folder, or a skipped entry. */
  | { kind: "none" }
  | { kind: "directory"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; size: number }
  /** A hard link: a regular copy of `source`, a file accepted earlier in the same archive. */
  | { kind: "copy"; path: string; source: string; mode: number; size: number };

/** Longest name of one path component Linux accepts, in bytes. */
const MAX_COMPONENT_BYTES = 255;
const MAX_PATH_BYTES = 4000;

export type EntryPath = { path: string } | { reason: string };

/**
 * The relative path an entry name stands for after dropping `strip` leading components, or why it
 * is refused. "" is the copied folder itself. Leading `./` is dropped; every other `.`, `..` or
 * empty component (an absolute name, `a//b`) is refused rather than normalized, so a name never
 * means something else than it says.
 */
export function entryPath(name: string, strip = 0): EntryPath {
  if (name.includes("\0")) return { reason: "the name holds a NUL byte" };
  if (name.includes("\uFFFD")) return { reason: "the name is not valid UTF-8 (two such names could decode alike)" };
  if (name.includes("\\")) return { reason: "the name holds a backslash (some tools read it as a folder separator)" };
  let components = name.split("/");
  if (components.length > 1 && components.at(-1) === "") components = components.slice(0, -1);
  if (components[0] === "") return { reason: "the path is absolute" };
  components = components.slice(strip);
  while (components[0] === ".") components = components.slice(1);
  if (components.length === 0) return { path: "" };
  for (const component of components) {
    if (component === "" || component === "." || component === "..") return { reason: "the path has an empty, '.' or '..' part" };
    if (Buffer.byteLength(component) > MAX_COMPONENT_BYTES) return { reason: `a part of the name is longer than ${MAX_COMPONENT_BYTES} bytes` };
  }
  const joined = components.join("/");
  if (Buffer.byteLength(joined) > MAX_PATH_BYTES) return { reason: `the path is longer than ${MAX_PATH_BYTES} bytes` };
  return { path: joined };
}

/** Permission bits kept from an archive: never setuid, setgid or sticky; the owner may always read and write. */
export function safeMode(mode: number | undefined, kind: "directory" | "file"): number {
  const fallback = kind === "directory" ? 0o755 : 0o644;
  const owner = kind === "directory" ? 0o700 : 0o600;
  return ((mode ?? fallback) & 0o777) | owner;
}

export function capError(message: string): SandboxError {
  return new SandboxError("DYNABOX_ARCHIVE_REJECTED", `${message}; nothing was copied`);
}

/** Decides entry by entry, in archive order; throws when a cap is passed. */
export class ArchivePlanner {
  entries = 0;
  bytes = 0;
  files = 0;
  readonly skipped: SkippedEntry[] = [];
  /** Accepted paths and what they are. */
  private readonly made = new Map<string, "directory" | "file">();
  /** Paths of refused entries that are not folders (links, devices): nothing may go below them. */
  private readonly refused = new Set<string>();
  /** Sizes of accepted files, so a hard link's copy is counted against the cap. */
  private readonly fileSizes = new Map<string, number>();

  constructor(
    private readonly limits: UnpackLimits,
    private readonly strip = 0,
  ) {}

  plan(header: EntryHeader): PlannedEntry {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      throw capError(`the archive has more than ${this.limits.maxEntries} entries (the cap on entries)`);
    }
    const skip = (reason: string, refusedPath?: string): PlannedEntry => {
      this.skipped.push({ path: header.name, reason });
      if (refusedPath !== undefined) this.refused.add(refusedPath);
      return { kind: "none" };
    };
    const where = entryPath(header.name, this.strip);
    if ("reason" in where) return skip(where.reason);
    const relative = where.path;
    if (relative === "") {
      return header.type === "directory" ? { kind: "none" } : skip("the copied path itself is not a folder");
    }
    const blocker = this.blockingAncestor(relative);
    if (blocker !== undefined) return skip(`it is below ${blocker}, which is not a folder here`, relative);
    const existing = this.made.get(relative);
    if (existing !== undefined) {
      if (existing === "directory" && header.type === "directory") return { kind: "none" };
      return skip("the path appears twice in the archive");
    }
    switch (header.type ?? "file") {
      case "directory":
        this.accept(relative, "directory", 0);
        return { kind: "directory", path: relative, mode: safeMode(header.mode, "directory") };
      case "file":
      case "contiguous-file": {
        const size = header.size ?? 0;
        this.countBytes(size, header.name);
        this.accept(relative, "file", size);
        return { kind: "file", path: relative, mode: safeMode(header.mode, "file"), size };
      }
      case "link": {
        const linkname = header.linkname ?? "";
        const target = entryPath(linkname, this.strip);
        if ("reason" in target || this.made.get(target.path) !== "file") {
          return skip(`hard link to ${linkname}, which is not a file copied from this archive`, relative);
        }
        const size = this.fileSizes.get(target.path) ?? 0;
        this.countBytes(size, header.name);
        this.accept(relative, "file", size);
        return { kind: "copy", path: relative, source: target.path, mode: safeMode(header.mode, "file"), size };
      }
      case "symlink":
        return skip(`symbolic link to ${header.linkname ?? ""}; links are never created on copy-out`, relative);
      default:
        return skip(`${header.type} entries are not copied`, relative);
    }
  }

  private countBytes(size: number, name: string): void {
    this.bytes += size;
    if (this.bytes > this.limits.maxBytes) {
      throw capError(`the archive holds more than ${this.limits.maxBytes} bytes of files (the cap on bytes; passed at ${JSON.stringify(name)})`);
    }
  }

  /** Records an accepted path, and its folders that the archive may not list on their own. */
  private accept(relative: string, kind: "directory" | "file", size: number): void {
    for (let end = relative.indexOf("/"); end !== -1; end = relative.indexOf("/", end + 1)) {
      const ancestor = relative.slice(0, end);
      if (!this.made.has(ancestor)) this.made.set(ancestor, "directory");
    }
    this.made.set(relative, kind);
    if (kind === "file") {
      this.fileSizes.set(relative, size);
      this.files += 1;
    }
  }

  private blockingAncestor(relative: string): string | undefined {
    for (let end = relative.indexOf("/"); end !== -1; end = relative.indexOf("/", end + 1)) {
      const ancestor = relative.slice(0, end);
      if (this.refused.has(ancestor) || this.made.get(ancestor) === "file") return ancestor;
    }
    return undefined;
  }
}
