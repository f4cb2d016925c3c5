// `dynabox bench`: performance figures measured in one run, each beside its baseline.

import type { Command } from "commander";
import { z } from "zod";
import { benchEnvironments } from "../../bench/environments-bench.js";
import { benchGrading } from "../../bench/grading-bench.js";
import { benchSandbox } from "../../bench/sandbox-bench.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { discoverTasks } from "../../tasks/registry.js";
import { bundledTasksDirectory, cacheDirectory, interruptSignal, readyEngine } from "../shared.js";

const flagsSchema = z.object({
  json: z.boolean().default(false),
  grading: z.boolean().default(false),
  environments: z.boolean().default(false),
  concurrency: z.coerce.number().int().min(1).optional(),
  steps: z.coerce.number().int().min(10).default(1000),
});

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("measure the sandbox: kernel step latency against docker exec, pool hand-over, cold start, idle memory")
    .option("--steps <n>", "trivial cells timed through the kernel", "1000")
    .option("--grading", "measure grading instead: the bundled tasks validated serially and concurrently")
    .option("--environments", "measure task environments instead: a requirements layer cold, its warm reuse, and the added time per task")
    .option("--concurrency <n>", "with --grading: the parallel pass's concurrency (default: the CPU count)")
    .option("--json", "print one JSON object")
    .action(async (rawFlags: unknown) => {
      const flags = flagsSchema.parse(rawFlags);
      const signal = interruptSignal();
      const { docker, image } = await readyEngine(signal, flags.json);
      const version = (await docker.version()) as { Version?: string };
      if (flags.environments) {
        const environments = await benchEnvironments(docker, image, { signal, onProgress: (line) => process.stderr.write(`[bench] ${line}\n`) });
        process.stdout.write(
          (flags.json
            ? JSON.stringify({ ...environments, image, docker_version: version.Version ?? "unknown" })
            : formatRows([
                ["requirements layer, cold", `${environments.requirements_layer_cold_s} s${environments.python_layer_built ? " (Python layer built too)" : ""}`],
                ["requirements layer, warm reuse p50 / max", `${environments.warm_reuse_p50_ms} / ${environments.warm_reuse_max_ms} ms (target < ${environments.warm_reuse_target_ms} ms)`],
                ["sandbox start, plain image p50", `${environments.sandbox_start_plain_p50_ms} ms`],
                ["sandbox start, environment image p50", `${environments.sandbox_start_environment_p50_ms} ms`],
                ["added time per task, shared environment", `${environments.added_per_task_ms} ms`],
              ])) + "\n",
        );
        return;
      }
      if (flags.grading) {
        const tasks = await discoverTasks([bundledTasksDirectory()]);
        const grading = await benchGrading(
          { docker, sandboxImage: image, cacheDirectory: cacheDirectory(), signal },
          tasks,
          flags.concurrency ?? defaultConcurrency(),
          (line) => process.stderr.write(`[bench] ${line}\n`),
        );
        process.stdout.write(
          (flags.json ? JSON.stringify({ ...grading, image, docker_version: version.Version ?? "unknown" }) : formatRows(Object.entries(grading))) + "\n",
        );
        return;
      }
      const result = await benchSandbox(docker, {
        image,
        steps: flags.steps,
        signal,
        onProgress: (line) => process.stderr.write(`[bench] ${line}\n`),
      });
      const report = { ...result, image, docker_version: version.Version ?? "unknown" };
      if (flags.json) {
        process.stdout.write(JSON.stringify(report) + "\n");
        return;
      }
      const rows: [string, string][] = [
        ["kernel step p50 / p99", `${result.step_p50_ms} / ${result.step_p99_ms} ms (${result.steps} cells)`],
        ["protocol round trip p50", `${result.protocol_round_trip_p50_ms} ms`],
        ["docker exec p50 (baseline)", `${result.docker_exec_p50_ms} ms (${result.docker_exec_over_step}x a kernel step)`],
        ["acquire from warm pool p50", `${result.acquire_warm_p50_ms} ms`],
        ["acquire cold p50", `${result.acquire_cold_p50_ms} ms`],
        ["idle sandbox memory", `${result.idle_sandbox_mem_mb} MB`],
      ];
      process.stdout.write(formatRows(rows) + "\n");
    });
}

function formatRows(rows: [string, unknown][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${String(value)}`).join("\n");
}
