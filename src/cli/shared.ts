// Pieces every command that touches Docker needs: Ctrl-C as an AbortSignal, and an engine
// plus the sandbox image, built on first use with progress on stderr.

import { homedir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { recordImageUse } from "../environments/image-cache.js";
import type { EnvironmentSettings } from "../environments/settings.js";
import type { GradingContext } from "../grading/context.js";
import { assertDockerReachable, assertRuntimeAvailable, connectDocker } from "../sandbox/docker.js";
import { ensureSandboxImage, projectRoot } from "../sandbox/image.js";
import { sweepDeadOwners } from "../sandbox/reaper.js";
import { adaptToEngineKind } from "../engines/kind.js";
import { engineSelection } from "./engine-options.js";

/** An AbortSignal that fires on the first Ctrl-C (or SIGTERM), so work stops cleanly. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const abort = (): void => controller.abort(Object.assign(new Error("interrupted"), { name: "AbortError" }));
  // The first signal stops the work and lets it write what finished; another one while that
  // happens ends the process at once, still with exit code 130 (never killed by the signal, so
  // a caller sees the interrupted command's exit code).
  let received = 0;
  const onSignal = (): void => {
    received += 1;
    if (received === 1) abort();
    else process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return controller.signal;
}

export interface ReadyEngine {
  docker: Dockerode;
  image: string;
}

/** Connects to the engine and makes sure the sandbox image exists (building it the first time). */
export async function readyEngine(signal: AbortSignal, quiet = false): Promise<ReadyEngine> {
  const { runtime } = engineSelection();
  const docker = connectDocker(undefined, runtime ? { runtime } : {});
  await assertDockerReachable(docker, signal);
  if (runtime) await assertRuntimeAvailable(docker, runtime);
  await adaptToEngineKind(docker);
  // Containers of dynabox processes that died (a kill -9, a crash) go first.
  const swept = await sweepDeadOwners(docker, { signal });
  if (swept.removedContainers > 0 && !quiet) {
    process.stderr.write(`dynabox: removed ${swept.removedContainers} container(s) left by dynabox processes that are gone\n`);
  }
  const result = await ensureSandboxImage(docker, {
    signal,
    onProgress: (line) => {
      if (!quiet) process.stderr.write(`[image] ${line}\n`);
    },
  });
  if (result.built && !quiet) process.stderr.write(`[image] built ${result.tag} in ${result.seconds} s\n`);
  recordImageUse(result.tag);
  return { docker, image: result.tag };
}

/** Where caches that outlive a run live: prepared tasks, cloned repositories. */
export function cacheDirectory(): string {
  if (process.env.DYNABOX_CACHE_DIR) return path.resolve(process.env.DYNABOX_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache");
  return path.join(base, "dynabox");
}

/** The bundled tasks, for commands run without paths. */
export function bundledTasksDirectory(): string {
  return path.join(projectRoot(), "tasks");
}

export async function gradingContext(
  signal: AbortSignal,
  options: { quiet?: boolean; runId?: string; environment?: EnvironmentSettings } = {},
): Promise<GradingContext> {
  const { docker, image } = await readyEngine(signal, options.quiet ?? false);
  return {
    docker,
    sandboxImage: image,
    cacheDirectory: cacheDirectory(),
    signal,
    ...(options.runId ? { runId: options.runId } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
  };
}
