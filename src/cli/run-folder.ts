// What a run leaves and finds in its run folder, library and engine beyond its results: the
// settings a rerun must match, candidates of runs that were killed, containers an engine outage
// left behind.

import { readFile } from "node:fs/promises";
import path from "node:path";
import type Dockerode from "dockerode";
import type { ActionStore } from "../actions/store.js";
import { UserError } from "../errors.js";
import { waitForEngine } from "../runs/infrastructure-errors.js";
import { LABEL_OWNER_PID, LABEL_RUN } from "../sandbox/labels.js";
import { removeManaged } from "../sandbox/reaper.js";

/** Refuses a run folder whose manifest records other settings (a rerun there would mix two experiments). */
export async function assertSameSettings(runDirectory: string, settings: Record<string, unknown>): Promise<void> {
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(path.join(runDirectory, "manifest.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return; // a new folder, or one without a readable manifest: nothing to compare with
  }
  const before = (manifest.settings ?? { model: manifest.model }) as Record<string, unknown>;
  const differences = Object.keys(settings).filter((key) => key in before && JSON.stringify(before[key]) !== JSON.stringify(settings[key]));
  if (differences.length === 0) return;
  const described = differences.map((key) => `${key} ${JSON.stringify(before[key])} then, ${JSON.stringify(settings[key])} now`).join("; ");
  throw new UserError(
    "DYNABOX_USAGE",
    `${runDirectory} holds a run with other settings (${described}); use another --run-dir for this one, or --force to run every task again there`,
  );
}

/**
 * Candidates of runs whose process is gone (killed before their tasks settled) would stay in the
 * library for ever: a run id ends with its process id (`run-<folder>-<pid>`), so those of
 * processes no longer alive on this machine are dropped.
 */
export function dropOrphanCandidates(library: ActionStore): void {
  for (const runId of library.candidateRunIds()) {
    const pid = Number(/^run-.*-(\d+)$/.exec(runId)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
    library.discardRun(runId);
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, someone else's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes any container of this run still on the engine (one left in Created state by an outage), once the engine answers. */
export async function removeLeftovers(docker: Dockerode, runId: string, waitMs: number, signal: AbortSignal): Promise<void> {
  try {
    await waitForEngine(docker, { limitMs: waitMs, signal });
    const removed = await removeManaged(docker, (labels) => labels[LABEL_RUN] === runId && labels[LABEL_OWNER_PID] === String(process.pid));
    if (removed.removedContainers > 0) process.stderr.write(`dynabox: removed ${removed.removedContainers} container(s) this run left behind\n`);
  } catch (error) {
    process.stderr.write(`dynabox: could not check for containers this run left behind (${error instanceof Error ? error.message : String(error)}); \`npx dynabox clean --dead\` removes them later\n`);
  }
}
