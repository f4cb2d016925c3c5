// Brings an image to engines that lack it through a registry the user names: pushed once from
// the engine that has it, pulled by each engine that does not, then tagged there with the image's
// own name. For many engines or distant ones this moves each layer once per engine, compressed,
// and an engine that already holds some layers fetches only the rest; save/load sends the whole
// archive every time.

import type Dockerode from "dockerode";
import { EnvironmentError } from "../errors.js";
import { imageExists } from "../sandbox/docker.js";
import { followEngineProgress } from "../sandbox/engine-progress.js";

/** "name:tag" as repository and tag (a name without a tag is "latest"). */
function splitTag(tag: string): { repository: string; version: string } {
  const colon = tag.lastIndexOf(":");
  return colon > tag.lastIndexOf("/") ? { repository: tag.slice(0, colon), version: tag.slice(colon + 1) } : { repository: tag, version: "latest" };
}

/** The image's name in the registry: HOST:PORT/<repository>:<tag>. */
export function registryReference(registry: string, tag: string): { repository: string; version: string; reference: string } {
  const { repository, version } = splitTag(tag);
  const remote = `${registry}/${repository}`;
  return { repository: remote, version, reference: `${remote}:${version}` };
}

/** Reads a push or pull progress stream to its end; an error line in it is a failure. */
async function follow(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  const failure = await followEngineProgress(docker, stream);
  if (failure !== undefined) throw new Error(failure);
}

/** Removes one name of an image, leaving the image and its other names. */
async function untag(docker: Dockerode, reference: string): Promise<void> {
  await docker.getImage(reference).remove({ noprune: true }).catch(() => undefined);
}

/**
 * Pushes `tag` from `source` to `registry` (HOST:PORT, plain HTTP or HTTPS as the engine is
 * configured for it). The registry name is removed from the source again afterwards.
 */
export async function pushToRegistry(source: Dockerode, tag: string, registry: string): Promise<{ seconds: number }> {
  const started = performance.now();
  const remote = registryReference(registry, tag);
  try {
    await source.getImage(tag).tag({ repo: remote.repository, tag: remote.version });
    // An empty credential: the daemon refuses a push without the header, and an open registry needs no more.
    const stream = (await source.getImage(remote.reference).push({ authconfig: {} } as never)) as unknown as NodeJS.ReadableStream;
    await follow(source, stream);
  } catch (error) {
    throw new EnvironmentError(
      "DYNABOX_IMAGE_MISSING",
      `could not push ${tag} to the registry ${registry}: ${error instanceof Error ? error.message : String(error)}; ` +
        "check that the registry answers (curl http://" + registry + "/v2/) and that the engine trusts it (insecure-registries in its daemon.json for plain HTTP)",
      { cause: error, retryable: true },
    );
  } finally {
    await untag(source, remote.reference);
  }
  return { seconds: (performance.now() - started) / 1000 };
}

/**
 * Pulls `tag` into `target` from `registry` (the address under which that engine reaches the
 * registry) and names it `tag` there.
 */
export async function pullFromRegistry(target: Dockerode, tag: string, registry: string, targetName: string): Promise<{ seconds: number }> {
  const started = performance.now();
  const remote = registryReference(registry, tag);
  try {
    const stream = (await target.pull(remote.reference, { authconfig: {} } as never)) as NodeJS.ReadableStream;
    await follow(target, stream);
    const { repository, version } = splitTag(tag);
    await target.getImage(remote.reference).tag({ repo: repository, tag: version });
  } catch (error) {
    throw new EnvironmentError(
      "DYNABOX_IMAGE_MISSING",
      `the engine ${targetName} could not pull ${remote.reference}: ${error instanceof Error ? error.message : String(error)}; ` +
        "the engine must reach the registry (give its address as seen from there with ?registry=HOST:PORT on --engine) and trust it (insecure-registries for plain HTTP)",
      { cause: error, retryable: true },
    );
  } finally {
    await untag(target, remote.reference);
  }
  if (!(await imageExists(target, tag))) throw new EnvironmentError("DYNABOX_IMAGE_MISSING", `the engine ${targetName} pulled ${remote.reference} but has no image ${tag} afterwards`);
  return { seconds: (performance.now() - started) / 1000 };
}
