// What the agent handed in, kept in the run folder as a unified diff so that the report and
// `show` can show it: RES-Q's patch as it is, a ScienceAgentBench program as a new file, an
// MLAgentBench workspace as the changes against the task's starter files (env/).
// submissions/<family>/<task>/attempt-N.diff

import { existsSync } from "node:fs";
import { lstat, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { createTwoFilesPatch } from "diff";
import { readArchiveFiles } from "../sandbox/archive.js";

/** Files bigger than this are named in the diff, not shown. */
const MAX_SHOWN_FILE_BYTES = 256 * 1024;
/** New files other than Python past this size (data the task prepared, outputs) are named only. */
const MAX_SHOWN_NEW_DATA_BYTES = 32 * 1024;

export function submissionFile(runDirectory: string, family: string, taskId: string, item: string): string {
  return path.join(runDirectory, "submissions", family, segment(taskId), `${segment(item || "submission")}.diff`);
}

/** A name from a dataset as one path segment: no separator, never "." or "..", so nothing lands outside the folder. */
function segment(name: string): string {
  const flat = name.replace(/[/\\\u0000]/g, "_");
  return flat === "" || flat === "." || flat === ".." ? `_${flat}` : flat;
}

/** `eval`: keeps every item's submission before grading; returns the warnings (nothing here fails the eval). */
export async function keepEvalSubmissions(runDirectory: string, items: ReadonlyArray<{ task: { family: string; id: string; directory?: string }; submission: unknown; item: string }>): Promise<string[]> {
  const warnings: string[] = [];
  for (const { task, submission, item } of items) {
    const warning = await keepSubmission(runDirectory, task.family, task.id, item, submission, task);
    if (warning) warnings.push(`${task.family}/${task.id}: ${warning}`);
  }
  return warnings;
}

/** The diff of a submission, or null when there is nothing to show. Never throws: a report must not fail on it. */
export async function submissionDiff(submission: unknown, task: { family: string; directory?: string }): Promise<string | null> {
  if (typeof submission === "string") return submission;
  if (typeof submission !== "object" || submission === null) return null;
  const value = submission as Record<string, unknown>;
  if (typeof value.source === "string" && typeof value.fileName === "string") {
    return gitStylePatch(`pred_programs/${value.fileName}`, null, value.source);
  }
  if (Buffer.isBuffer(value.archive)) return await workspaceDiff(value.archive, task.directory ? path.join(task.directory, "env") : undefined);
  return null;
}

/** Writes the submission's diff; a failure is reported by the caller as a warning, never as the task's error. */
export async function saveSubmission(runDirectory: string, family: string, taskId: string, item: string, submission: unknown, task: { family: string; directory?: string }): Promise<void> {
  const diff = await submissionDiff(submission, task);
  if (diff === null) return;
  const file = submissionFile(runDirectory, family, taskId, item);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, diff);
}

export async function readSubmission(runDirectory: string, family: string, taskId: string, item: string): Promise<string | null> {
  const file = submissionFile(runDirectory, family, taskId, item);
  return existsSync(file) ? await readFile(file, "utf8") : null;
}

/** Text files of the workspace that differ from the starter files; binary and big files are named only. */
async function workspaceDiff(archive: Buffer, starterDirectory: string | undefined): Promise<string> {
  const files = await readArchiveFiles(Readable.from(archive), { stripComponents: 0 });
  const parts: string[] = [];
  for (const [name, content] of [...files.entries()].sort(([left], [right]) => left.localeCompare(right))) {
    const before = starterDirectory ? await starterText(starterDirectory, name) : null;
    if (before !== null && before.equals(content)) continue;
    const newData = before === null && !name.endsWith(".py") && content.length > MAX_SHOWN_NEW_DATA_BYTES;
    if (newData || !isShowable(content) || (before !== null && !isShowable(before))) {
      parts.push(`diff --git a/${name} b/${name}\n${before === null ? "new file mode 100644\n" : ""}Binary files ${before === null ? "/dev/null" : `a/${name}`} and b/${name} differ\n`);
      continue;
    }
    parts.push(gitStylePatch(name, before?.toString("utf8") ?? null, content.toString("utf8")));
  }
  return parts.join("");
}

/** One file's change in git's form (diff --git, new file mode), which diff renderers read best. */
function gitStylePatch(name: string, before: string | null, after: string): string {
  const body = createTwoFilesPatch(before === null ? "/dev/null" : `a/${name}`, `b/${name}`, before ?? "", after, undefined, undefined, { context: 3 });
  // createTwoFilesPatch starts with a line of "=" (and an Index: line in some versions): git's header replaces them.
  const hunks = body.slice(body.indexOf("--- "));
  return `diff --git a/${name} b/${name}\n${before === null ? "new file mode 100644\n" : ""}${hunks}`;
}

/** A starter file's bytes, only a regular file inside the folder (never through a symlink). */
async function starterText(directory: string, relative: string): Promise<Buffer | null> {
  const file = path.join(directory, relative);
  if (!file.startsWith(directory + path.sep)) return null;
  try {
    const stat = await lstat(file);
    return stat.isFile() ? await readFile(file) : null;
  } catch {
    return null;
  }
}

function isShowable(content: Buffer): boolean {
  return content.length <= MAX_SHOWN_FILE_BYTES && !content.includes(0);
}

/** saveSubmission for the run loop: returns a warning instead of throwing (the task's result does not depend on it). */
export async function keepSubmission(runDirectory: string, family: string, taskId: string, item: string, submission: unknown, task: { family: string; directory?: string }): Promise<string | null> {
  try {
    await saveSubmission(runDirectory, family, taskId, item, submission, task);
    return null;
  } catch (error) {
    return `the submission was graded but not kept for the report: ${error instanceof Error ? error.message : String(error)}`;
  }
}
