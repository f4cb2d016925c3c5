// Measures the sandbox on the real path, with its baseline in the same run: a trivial cell
// through the kernel protocol versus the same Python through `docker exec` on the Docker API.

import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { SandboxPool } from "../sandbox/pool.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../sandbox/sandbox.js";
import { median, quantile, round } from "./statistics.js";

export interface SandboxBenchOptions {
  image: string;
  /** Trivial cells through the kernel (at least 500 for a stable p99). */
  steps?: number;
  dockerExecRuns?: number;
  warmAcquires?: number;
  coldAcquires?: number;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface SandboxBenchResult {
  step_p50_ms: number;
  step_p99_ms: number;
  steps: number;
  protocol_round_trip_p50_ms: number;
  docker_exec_p50_ms: number;
  docker_exec_runs: number;
  docker_exec_over_step: number;
  acquire_warm_p50_ms: number;
  acquire_warm_runs: number;
  acquire_cold_p50_ms: number;
  acquire_cold_runs: number;
  idle_sandbox_mem_mb: number;
}

const now = (): number => performance.now();

async function timeEach(runs: number, action: () => Promise<unknown>, signal?: AbortSignal): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < runs; index++) {
    signal?.throwIfAborted();
    const start = now();
    await action();
    samples.push(now() - start);
  }
  return samples;
}

/** Runs Python with `docker exec` through the API and waits for it to finish: the baseline. */
async function dockerExecPython(container: Dockerode.Container, code: string): Promise<void> {
  const exec = await container.exec({ Cmd: ["python3", "-c", code], AttachStdout: true, AttachStderr: true });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
  await new Promise<void>((resolve, reject) => {
    stream.on("data", () => {});
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const inspected = await exec.inspect();
  if (inspected.ExitCode !== 0) throw new Error(`docker exec baseline failed with exit code ${inspected.ExitCode}`);
}

export async function benchSandbox(docker: Dockerode, options: SandboxBenchOptions): Promise<SandboxBenchResult> {
  const steps = options.steps ?? 1000;
  const dockerExecRuns = options.dockerExecRuns ?? 50;
  const warmAcquires = options.warmAcquires ?? 20;
  const coldAcquires = options.coldAcquires ?? 10;
  const progress = options.onProgress ?? (() => {});
  const signal = options.signal;
  const sandboxOptions: SandboxOptions = { image: options.image, role: "bench" };

  const sandboxes: Sandbox[] = [];
  const pool = new SandboxPool(docker, { size: 1 });
  try {
    const sandbox = await startSandbox(docker, sandboxOptions);
    sandboxes.push(sandbox);
    await sandbox.exec("x = 0");

    progress(`kernel: ${steps} trivial cells`);
    for (let index = 0; index < 50; index++) await sandbox.exec("x += 1"); // warm-up
    const stepSamples = await timeEach(steps, () => sandbox.exec("x += 1"), signal);
    const check = await sandbox.exec("x");
    if (check.value !== String(50 + steps)) throw new Error(`the kernel lost steps: x = ${check.value}`);
    const pingSamples = await timeEach(200, () => sandbox.kernel.ping(), signal);

    progress(`docker exec baseline: ${dockerExecRuns} runs in the same container`);
    await dockerExecPython(sandbox.container, "x = 0\nx += 1");
    const execSamples = await timeEach(dockerExecRuns, () => dockerExecPython(sandbox.container, "x = 0\nx += 1"), signal);

    progress("idle sandbox memory");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const memorySamples: number[] = [];
    for (let index = 0; index < 3; index++) memorySamples.push(await sandbox.memoryUsageMb());

    progress(`cold acquire: ${coldAcquires} create + start + first reply`);
    const coldSamples = await timeEach(
      coldAcquires,
      async () => {
        const fresh = await startSandbox(docker, sandboxOptions);
        sandboxes.push(fresh);
        await fresh.exec("None");
      },
      signal,
    );
    await Promise.all(sandboxes.splice(1).map((each) => each.dispose()));

    progress(`warm acquire: ${warmAcquires} hand-overs from the pool`);
    const warmSamples: number[] = [];
    for (let index = 0; index < warmAcquires; index++) {
      signal?.throwIfAborted();
      await pool.warm(sandboxOptions, 1);
      const start = now();
      const handed = await pool.acquire(sandboxOptions);
      warmSamples.push(now() - start);
      await handed.dispose();
    }

    const step = median(stepSamples);
    const dockerExec = median(execSamples);
    return {
      step_p50_ms: round(step),
      step_p99_ms: round(quantile(stepSamples, 0.99)),
      steps,
      protocol_round_trip_p50_ms: round(median(pingSamples)),
      docker_exec_p50_ms: round(dockerExec),
      docker_exec_runs: dockerExecRuns,
      docker_exec_over_step: round(dockerExec / step, 1),
      acquire_warm_p50_ms: round(median(warmSamples)),
      acquire_warm_runs: warmAcquires,
      acquire_cold_p50_ms: round(median(coldSamples)),
      acquire_cold_runs: coldAcquires,
      idle_sandbox_mem_mb: round(median(memorySamples), 1),
    };
  } finally {
    await pool.dispose();
    await Promise.allSettled(sandboxes.map((each) => each.dispose()));
  }
}
