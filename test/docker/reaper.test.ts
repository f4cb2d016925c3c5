import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { afterEach, describe, expect, inject, it } from "vitest";
import { connectDocker } from "../../src/sandbox/docker.js";
import { LABEL_RUN, currentOwner, ownerLabels, type OwnerIdentity } from "../../src/sandbox/labels.js";
import { cleanAll, sweepDeadOwners } from "../../src/sandbox/reaper.js";

const docker = connectDocker();
const image = inject("sandboxImage");
const runs: string[] = [];

/** An owner whose process has exited. */
function deadOwner(): OwnerIdentity {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return { pid: child.pid, startTime: "1", host: hostname() };
}

async function labelledContainer(owner: OwnerIdentity, runId: string, running: boolean): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: ["sleep", "300"],
    Labels: ownerLabels(owner, runId, "reaper-test"),
    HostConfig: { NetworkMode: "none", Init: true },
  });
  if (running) await container.start();
  return container.id;
}

async function labelledVolume(owner: OwnerIdentity, runId: string): Promise<string> {
  const name = `dynabox-reaper-test-${randomUUID().slice(0, 8)}`;
  await docker.createVolume({ Name: name, Labels: ownerLabels(owner, runId, "reaper-test") });
  return name;
}

async function exists(kind: "container" | "volume", id: string): Promise<boolean> {
  try {
    await (kind === "container" ? docker.getContainer(id).inspect() : docker.getVolume(id).inspect());
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

function newRun(): string {
  const runId = `reaper-test-${randomUUID()}`;
  runs.push(runId);
  return runId;
}

afterEach(async () => {
  // Whatever a failed assertion left behind: only this file's runs, never other processes' sandboxes.
  for (const runId of runs.splice(0)) await cleanAll(docker, { runId });
});

describe("the reaper", () => {
  it("sweeps containers and volumes of dead owners and keeps live and foreign owners'", async () => {
    const runId = newRun();
    const dead = deadOwner();
    const foreign: OwnerIdentity = { ...dead, host: "some-other-host" };
    const deadRunning = await labelledContainer(dead, runId, true);
    const deadCreated = await labelledContainer(dead, runId, false);
    const live = await labelledContainer(currentOwner(), runId, true);
    const foreignContainer = await labelledContainer(foreign, runId, false);
    const deadVolume = await labelledVolume(dead, runId);
    const liveVolume = await labelledVolume(currentOwner(), runId);

    const result = await sweepDeadOwners(docker);

    const removedIds = result.containers.map((container) => container.id);
    expect(removedIds).toEqual(expect.arrayContaining([deadRunning, deadCreated]));
    expect(removedIds).not.toContain(live);
    expect(removedIds).not.toContain(foreignContainer);
    expect(result.volumes.map((volume) => volume.name)).toContain(deadVolume);
    expect(result.removedContainers).toBe(result.containers.length);
    expect(await exists("container", deadRunning)).toBe(false);
    expect(await exists("container", deadCreated)).toBe(false);
    expect(await exists("container", live)).toBe(true);
    expect(await exists("container", foreignContainer)).toBe(true);
    expect(await exists("volume", deadVolume)).toBe(false);
    expect(await exists("volume", liveVolume)).toBe(true);
  });

  it("cleanAll removes every managed container and volume of a run, live or dead", async () => {
    const runId = newRun();
    const otherRunId = newRun();
    const ids = [
      await labelledContainer(currentOwner(), runId, true),
      await labelledContainer(deadOwner(), runId, false),
    ];
    const volume = await labelledVolume(currentOwner(), runId);
    const otherRun = await labelledContainer(currentOwner(), otherRunId, false);

    const result = await cleanAll(docker, { runId });

    expect(result.containers.map((container) => container.id).sort()).toEqual([...ids].sort());
    expect(result.volumes.map((removed) => removed.name)).toEqual([volume]);
    expect(result.containers.every((container) => container.labels[LABEL_RUN] === runId)).toBe(true);
    for (const id of ids) expect(await exists("container", id)).toBe(false);
    expect(await exists("volume", volume)).toBe(false);
    expect(await exists("container", otherRun)).toBe(true);
  });

  it("tolerates resources that vanish while it works", async () => {
    const runId = newRun();
    const ids = await Promise.all([1, 2, 3].map(() => labelledContainer(currentOwner(), runId, true)));
    // Two cleaners race over the same containers: each removal is someone's, none is an error.
    const [first, second] = await Promise.all([cleanAll(docker, { runId }), cleanAll(docker, { runId })]);
    const removed = new Set([...first.containers, ...second.containers].map((container) => container.id));
    expect([...removed].sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await exists("container", id)).toBe(false);
  });
});
