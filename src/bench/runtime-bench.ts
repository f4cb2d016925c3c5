// The sandbox figures (kernel step, cold start, idle memory) under each OCI runtime the engine
// has, side by side: runc against gVisor's runsc.

import type Dockerode from "dockerode";
import { connectDocker, engineRuntimes } from "../sandbox/docker.js";
import { benchSandbox, type SandboxBenchResult } from "./sandbox-bench.js";

export interface RuntimeBenchRow {
  step_p50_ms: number;
  step_p99_ms: number;
  acquire_cold_p50_ms: number;
  idle_sandbox_mem_mb: number;
  docker_exec_p50_ms: number;
}

export interface RuntimeBenchResult {
  /** Runtimes measured, by name; those the engine lacks are listed in `missing`. */
  runtimes: Record<string, RuntimeBenchRow>;
  missing: string[];
}

export async function benchRuntimes(
  docker: Dockerode,
  options: { image: string; steps: number; runtimes?: string[]; connection?: Dockerode.DockerOptions; signal?: AbortSignal; onProgress?: (line: string) => void },
): Promise<RuntimeBenchResult> {
  const wanted = options.runtimes ?? ["runc", "runsc"];
  const available = await engineRuntimes(docker);
  const result: RuntimeBenchResult = { runtimes: {}, missing: wanted.filter((runtime) => !available.includes(runtime)) };
  for (const runtime of wanted.filter((each) => available.includes(each))) {
    options.onProgress?.(`runtime ${runtime}`);
    const client = connectDocker(options.connection, { runtime });
    const figures: SandboxBenchResult = await benchSandbox(client, {
      image: options.image,
      steps: options.steps,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    result.runtimes[runtime] = {
      step_p50_ms: figures.step_p50_ms,
      step_p99_ms: figures.step_p99_ms,
      acquire_cold_p50_ms: figures.acquire_cold_p50_ms,
      idle_sandbox_mem_mb: figures.idle_sandbox_mem_mb,
      docker_exec_p50_ms: figures.docker_exec_p50_ms,
    };
  }
  return result;
}
