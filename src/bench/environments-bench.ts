// `dynabox bench --environments`: what task environments cost, side by side in one run.
//   - a requirements layer built cold (pip from a PEP 503 index on loopback, wheels made here);
//   - the same layer reused warm (the lookup a task pays when its set is already built; target < 50 ms);
//   - the added time per task of a shared environment: warm lookup + starting a sandbox from the
//     environment image instead of the plain sandbox image.
// The index and its wheels are made by the bench, so it runs air-gapped; the packages layer it
// builds is removed at the end (the shared Python layer stays, as it would in use).

import { randomUUID } from "node:crypto";
import type Dockerode from "dockerode";
import type { GradingContext } from "../grading/context.js";
import { ensureTaskImage } from "../grading/environment.js";
import { startSandbox } from "../sandbox/sandbox.js";
import { startPackageIndex } from "../testing/package-index.js";
import { buildWheel } from "../testing/wheels.js";
import { median, quantile, round } from "./statistics.js";

export interface EnvironmentsBenchResult {
  requirements_layer_cold_s: number;
  python_layer_built: boolean;
  warm_reuse_p50_ms: number;
  warm_reuse_max_ms: number;
  warm_reuse_target_ms: number;
  warm_reuse_within_target: boolean;
  sandbox_start_plain_p50_ms: number;
  sandbox_start_environment_p50_ms: number;
  added_per_task_ms: number;
  lookups: number;
  starts: number;
}

export async function benchEnvironments(
  docker: Dockerode,
  sandboxImage: string,
  options: { signal?: AbortSignal; onProgress?: (line: string) => void; lookups?: number; starts?: number } = {},
): Promise<EnvironmentsBenchResult> {
  const progress = options.onProgress ?? (() => {});
  const nonce = randomUUID().slice(0, 8);
  const wheel = buildWheel({
    name: "dynabox-bench",
    version: "1.0",
    files: { "dynabox_bench/__init__.py": `NONCE = ${JSON.stringify(nonce)}\n` },
  });
  const index = await startPackageIndex({ "dynabox-bench": [wheel] });
  const lines: string[] = [];
  const context: GradingContext = {
    docker,
    sandboxImage,
    cacheDirectory: "/nonexistent",
    environment: { pipIndexUrl: index.url },
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (line) => {
      lines.push(line);
      progress(line);
    },
  };
  const spec = { pythonRequirements: "dynabox-bench==1.0\n" };
  let tag: string | undefined;
  try {
    progress(`building a requirements layer cold from ${index.url}`);
    const coldStarted = performance.now();
    tag = await ensureTaskImage(context, spec);
    const cold = (performance.now() - coldStarted) / 1000;

    const lookups = options.lookups ?? 50;
    const warm: number[] = [];
    for (let i = 0; i < lookups; i += 1) {
      const started = performance.now();
      await ensureTaskImage({ ...context, onProgress: () => {} }, spec);
      warm.push(performance.now() - started);
    }

    const starts = options.starts ?? 5;
    const startTimes = async (image: string): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < starts; i += 1) {
        const started = performance.now();
        const sandbox = await startSandbox(docker, { image, role: "bench", ...(options.signal ? { signal: options.signal } : {}) });
        times.push(performance.now() - started);
        await sandbox.dispose();
      }
      return times;
    };
    progress(`starting ${starts} sandboxes from each image`);
    const plain = median(await startTimes(sandboxImage));
    const environment = median(await startTimes(tag));
    const warmP50 = median(warm);
    return {
      requirements_layer_cold_s: round(cold, 1),
      python_layer_built: lines.some((line) => line.startsWith("built python layer")),
      warm_reuse_p50_ms: round(warmP50, 2),
      warm_reuse_max_ms: round(quantile(warm, 1), 2),
      warm_reuse_target_ms: 50,
      warm_reuse_within_target: warmP50 < 50,
      sandbox_start_plain_p50_ms: round(plain, 1),
      sandbox_start_environment_p50_ms: round(environment, 1),
      added_per_task_ms: round(warmP50 + Math.max(0, environment - plain), 1),
      lookups,
      starts,
    };
  } finally {
    await index.close();
    if (tag !== undefined && tag !== sandboxImage) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
}
