// After grading, the trajectory's end line gets the verdict and the reason, so that a trajectory
// alone says how its task ended. The file is rewritten whole through a temporary file and a
// rename: a crash leaves either the old file or the new one, never half of it.

import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";

export interface TrajectoryVerdict {
  outcome: string;
  reason: string | null;
  score: number | null;
  passed: boolean;
  upstream: Record<string, unknown> | null;
}

/** Adds `verdict` to the last end line; returns false when the file has none (nothing is written). */
export async function recordVerdict(file: string, verdict: TrajectoryVerdict): Promise<boolean> {
  if (!existsSync(file)) return false;
  const lines = (await readFile(file, "utf8")).split("\n");
  for (let index = lines.length - 1; index >= 0; index--) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(lines[index]!) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (record.type !== "end") continue;
    lines[index] = JSON.stringify({ ...record, verdict });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, lines.join("\n"));
    await rename(temporary, file);
    return true;
  }
  return false;
}

/** recordVerdict for the run loop: returns a warning instead of throwing. */
export async function keepVerdict(file: string, verdict: TrajectoryVerdict): Promise<string | null> {
  try {
    return (await recordVerdict(file, verdict)) ? null : `the trajectory ${file} has no end line; the verdict was not added to it`;
  } catch (error) {
    return `the verdict was not added to the trajectory: ${error instanceof Error ? error.message : String(error)}`;
  }
}
