// Brings an image to an engine that lacks it: `docker save` on an engine that has it, streamed
// straight into `docker load` on the one that does not (Docker or Podman's compatible API), so
// nothing passes through the disk and no registry is needed.

import type Dockerode from "dockerode";
import { EnvironmentError } from "../errors.js";
import { imageExists } from "../sandbox/docker.js";

export interface TransferReport {
  /** Whether the image had to be copied (false: the target already had it). */
  copied: boolean;
  seconds: number;
}

/**
 * Makes sure `target` has `tag`, copying it from `source` when it does not. `describe` names the
 * engines in errors.
 */
export async function ensureImageOn(
  source: Dockerode,
  target: Dockerode,
  tag: string,
  options: { signal?: AbortSignal; targetName?: string } = {},
): Promise<TransferReport> {
  const started = performance.now();
  if (await imageExists(target, tag)) return { copied: false, seconds: 0 };
  options.signal?.throwIfAborted();
  try {
    const archive = (await source.getImage(tag).get()) as NodeJS.ReadableStream;
    const onAbort = (): void => (archive as unknown as { destroy?: (error?: Error) => void }).destroy?.(new Error("aborted"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const reply = (await target.loadImage(archive, { quiet: true })) as NodeJS.ReadableStream;
      await drainLoadReply(reply);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  } catch (error) {
    options.signal?.throwIfAborted();
    throw new EnvironmentError(
      "DYNABOX_IMAGE_MISSING",
      `could not copy image ${tag} to the engine ${options.targetName ?? ""}: ${error instanceof Error ? error.message : String(error)}; ` +
        "copy it by hand (docker save | docker -H <engine> load) or build it there (dynabox image build with DOCKER_HOST set)",
      { cause: error, retryable: true },
    );
  }
  if (!(await imageExists(target, tag))) {
    // Podman names a loaded image localhost/<name> when the archive's tag lacks a registry; tag it back.
    await retagLoaded(target, tag);
  }
  if (!(await imageExists(target, tag))) {
    throw new EnvironmentError("DYNABOX_IMAGE_MISSING", `the engine ${options.targetName ?? ""} loaded the archive but has no image ${tag} afterwards`);
  }
  return { copied: true, seconds: (performance.now() - started) / 1000 };
}

/** Reads the load reply to its end; an {"error": ...} line in it is a failed load. */
async function drainLoadReply(reply: NodeJS.ReadableStream): Promise<void> {
  let text = "";
  for await (const chunk of reply as AsyncIterable<Buffer | string>) text += chunk.toString();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) continue;
    const message = JSON.parse(trimmed) as { error?: string; errorDetail?: { message?: string } };
    if (message.error) throw new Error(message.errorDetail?.message ?? message.error);
  }
}

async function retagLoaded(target: Dockerode, tag: string): Promise<void> {
  const candidate = `localhost/${tag}`;
  if (!(await imageExists(target, candidate))) return;
  const colon = tag.lastIndexOf(":");
  const [repo, version] = colon > tag.lastIndexOf("/") ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, "latest"];
  await target.getImage(candidate).tag({ repo, tag: version });
}
