// What a stored result was made from, as one hash: a rerun skips an item only when the same task
// content, the same submission content, the same grader version and the same settings would be
// graded again. A result keyed by the task id alone would hand back the verdict of another
// submission (issue 8, "stale verdicts on a rerun").
//
//   resumeKey({ kind, family, task, submission, settings }) -> 64 hex digits
//
// `task` is a task fingerprint (taskFingerprint below); `submission` and `settings` are any JSON-like
// values, Buffers included. Object keys are sorted, so the key does not depend on key order.

import { createHash, type Hash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Family, TaskBase } from "../families/types.js";

/**
 * Bump a family's number whenever its grading rules change in a way that can change a verdict or
 * its text: stored results of the older rules are then graded again.
 * resq 2: upstream's patch handling ("Empty patch", no newline added, PASS feedback "").
 * resq 3: the patch file is `../temp.patch`, as upstream names it in git's whitespace warnings.
 * resq 4: a test script with no exit line upstream prints its secret at can not pass (as upstream).
 * sab 2: success_rate as the eval returned it (a fraction counts as it is), log_info kept as JSON.
 */
export const GRADER_VERSIONS: Record<Family, number> = { mlab: 1, sab: 2, resq: 4 };

/** The version of the key's own recipe (what goes into the hash and how). */
const RECIPE_VERSION = 1;

export interface ResumeKeyParts {
  /** "eval", "validate", "run", ... */
  kind: string;
  family: Family;
  /** The task's fingerprint: its row, its files. */
  task: unknown;
  /** What was graded; absent for validate. */
  submission?: unknown;
  /** Anything else that can change the verdict: timeouts, limits, the model and its settings. */
  settings?: unknown;
}

export function resumeKey(parts: ResumeKeyParts): string {
  const hash = createHash("sha256");
  feed(hash, {
    recipe: RECIPE_VERSION,
    kind: parts.kind,
    family: parts.family,
    grader: GRADER_VERSIONS[parts.family],
    task: parts.task,
    submission: parts.submission ?? null,
    settings: parts.settings ?? null,
  });
  return hash.digest("hex");
}

/** Feeds a value to the hash unambiguously: every value is tagged with its type and length. */
function feed(hash: Hash, value: unknown): void {
  if (value === null || value === undefined) {
    hash.update("n;");
  } else if (typeof value === "string") {
    hash.update(`s${Buffer.byteLength(value)}:`).update(value);
  } else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    hash.update(`${typeof value}:${String(value)};`);
  } else if (value instanceof Uint8Array) {
    hash.update(`b${value.byteLength}:`).update(value);
  } else if (Array.isArray(value)) {
    hash.update(`a${value.length}[`);
    for (const each of value) feed(hash, each);
    hash.update("]");
  } else if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, each]) => each !== undefined && typeof each !== "function")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update(`o${entries.length}{`);
    for (const [key, each] of entries) {
      feed(hash, key);
      feed(hash, each);
    }
    hash.update("}");
  } else {
    // Functions and symbols say nothing about content.
    hash.update("x;");
  }
}

/** Files bigger than this are fingerprinted by size and modification time, not read. */
const CONTENT_LIMIT_BYTES = 1024 * 1024;
/** Entries of a task folder looked at, at most; beyond that the count stands for the rest. */
const ENTRY_LIMIT = 20_000;

/**
 * What a task is, for resume keys: the loaded task (its row, settings and paths) and, when it was
 * loaded from a folder (an MLAgentBench task), the files in that folder: content for small files,
 * size and modification time for big ones (data), the link target for links (never followed).
 * A family module may add more with its `fingerprint` hook.
 */
export async function taskFingerprint(task: TaskBase, extra?: unknown): Promise<unknown> {
  const files = await folderFingerprint(task.origin);
  // A row's place in its file says nothing about what is graded: rows added or moved keep their keys.
  const { rowIndex: _rowIndex, ...content } = task as TaskBase & { rowIndex?: unknown };
  return { task: content, files, extra: extra ?? null };
}

async function folderFingerprint(root: string): Promise<unknown> {
  let info;
  try {
    info = await lstat(root);
  } catch {
    return null;
  }
  if (!info.isDirectory()) return null;
  const digest = createHash("sha256");
  let entries = 0;
  const walk = async (folder: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(folder)).sort();
    } catch {
      digest.update(`unreadable:${folder};`);
      return;
    }
    for (const name of names) {
      if (++entries > ENTRY_LIMIT) return;
      const full = path.join(folder, name);
      const relative = path.relative(root, full);
      const stat = await lstat(full).catch(() => undefined);
      if (stat === undefined) continue;
      if (stat.isDirectory()) {
        digest.update(`d${relative};`);
        await walk(full);
      } else if (stat.isFile() && stat.size <= CONTENT_LIMIT_BYTES) {
        const content = await readFile(full).catch(() => Buffer.from("unreadable"));
        digest.update(`f${relative}:${content.byteLength}:`).update(content);
      } else {
        digest.update(`o${relative}:${stat.mode}:${stat.size}:${stat.mtimeMs};`);
      }
    }
  };
  await walk(root);
  return { digest: digest.digest("hex"), entries };
}
