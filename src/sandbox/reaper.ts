// Removes what dynabox left behind: containers and volumes labelled dynabox.managed. At start-up
// only those whose owner process is dead; `dynabox clean` all of them. Removing races with other
// removers and with Docker itself, so "already gone" (404) and "already being removed" (409) count
// as done, not as errors.

import type Dockerode from "dockerode";
import { isGoneOrConflict, isNotFound } from "./docker.js";
import { LABEL_MANAGED, LABEL_RUN, isOwnerDead } from "./labels.js";

export type Labels = Record<string, string | undefined>;

export interface RemovedResource {
  /** Container name (without the leading slash) or volume name. */
  name: string;
  id: string;
  labels: Labels;
}

export interface ReapResult {
  removedContainers: number;
  removedVolumes: number;
  containers: RemovedResource[];
  volumes: RemovedResource[];
}

export interface ReapOptions {
  signal?: AbortSignal;
}

/** Removes (force, with anonymous volumes) the managed containers and volumes that `select` picks. */
export async function removeManaged(
  docker: Dockerode,
  select: (labels: Labels) => boolean,
  options: ReapOptions = {},
): Promise<ReapResult> {
  const filters = JSON.stringify({ label: [`${LABEL_MANAGED}=true`] });
  options.signal?.throwIfAborted();
  const listed = await docker.listContainers({ all: true, filters });
  const containers: RemovedResource[] = listed
    .filter((container) => select(container.Labels ?? {}))
    .map((container) => ({
      id: container.Id,
      name: (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ""),
      labels: container.Labels ?? {},
    }));
  // 404: gone already; 409: "removal already in progress" (another remover, or Docker's AutoRemove).
  const removedContainers = await forEachLimited(containers, options.signal, async (container) => {
    await docker.getContainer(container.id).remove({ force: true, v: true });
  }, (error) => (isGoneOrConflict(error) ? "done" : "fail"));

  // Volumes after containers: a volume is in use until its container is gone.
  options.signal?.throwIfAborted();
  const volumeList = await docker.listVolumes({ filters });
  const volumes: RemovedResource[] = (volumeList.Volumes ?? [])
    .filter((volume) => select((volume.Labels ?? {}) as Labels))
    .map((volume) => ({ id: volume.Name, name: volume.Name, labels: (volume.Labels ?? {}) as Labels }));
  // 404: gone already; 409: still in use by a container we did not select: left alone.
  const removedVolumes = await forEachLimited(volumes, options.signal, async (volume) => {
    await docker.getVolume(volume.name).remove({ force: true });
  }, (error) => (isNotFound(error) ? "done" : isGoneOrConflict(error) ? "skip" : "fail"));

  return {
    removedContainers: removedContainers.length,
    removedVolumes: removedVolumes.length,
    containers: removedContainers,
    volumes: removedVolumes,
  };
}

/** Removes managed containers and volumes whose owner process (on this host) is dead. */
export function sweepDeadOwners(docker: Dockerode, options: ReapOptions = {}): Promise<ReapResult> {
  return removeManaged(docker, (labels) => isOwnerDead(labels), options);
}

/**
 * Removes every managed container and volume, live owners' too; with `runId`, only that run's.
 * Without it this also stops other processes' sandboxes on the same engine: it is `dynabox clean`.
 */
export function cleanAll(docker: Dockerode, options: ReapOptions & { runId?: string } = {}): Promise<ReapResult> {
  const { runId } = options;
  return removeManaged(docker, (labels) => runId === undefined || labels[LABEL_RUN] === runId, options);
}

/**
 * Runs `work` on every item, four at a time; returns the items that are now gone (removed by us,
 * or an error `classify` calls "done"). "fail" errors are thrown after every item was tried.
 */
async function forEachLimited<T>(
  items: readonly T[],
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
  classify: (error: unknown) => "done" | "skip" | "fail",
): Promise<T[]> {
  const limit = 4;
  const done: T[] = [];
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++] as T;
      try {
        await work(item);
        done.push(item);
      } catch (error) {
        const verdict = classify(error);
        if (verdict === "done") done.push(item);
        else if (verdict === "fail") errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} removals failed`);
  return done;
}
