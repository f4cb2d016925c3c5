// `dynabox bench`: performance figures measured in one run, each beside its baseline.

import type { Command } from "commander";
import { z } from "zod";
import { benchAgent } from "../../bench/agent-bench.js";
import { benchEnvironments } from "../../bench/environments-bench.js";
import { benchEngines } from "../../bench/engines-bench.js";
import { benchGrading } from "../../bench/grading-bench.js";
import { benchRuntimes } from "../../bench/runtime-bench.js";
import { parseEngineSpec } from "../../engines/spec.js";
import { UserError } from "../../errors.js";
import { engineSelection } from "../engine-options.js";
import { benchSandbox } from "../../bench/sandbox-bench.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { discoverTasks } from "../../families/registry.js";
import { bundledTasksDirectory, cacheDirectory, interruptSignal, readyEngine } from "../shared.js";

const flagsSchema = z.object({
  json: z.boolean().default(false),
  grading: z.boolean().default(false),
  agent: z.boolean().default(false),
  environments: z.boolean().default(false),
  runtimes: z.boolean().default(false),
  engines: z.boolean().default(false),
  concurrency: z.coerce.number().int().min(1).optional(),
  steps: z.coerce.number().int().min(10).default(1000),
});

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("measure the sandbox: kernel step latency against docker exec, pool hand-over, cold start, idle memory")
    .option("--steps <n>", "trivial cells timed through the kernel", "1000")
    .option("--grading", "measure grading instead: the bundled tasks validated serially and concurrently")
    .option("--agent", "measure the agent harness instead: cost per step except the model's answer, and action retrieval at 0, 1,000 and 10,000 actions (--steps per size, default 100)")
    .option("--environments", "measure task environments instead: a requirements layer cold, its warm reuse, and the added time per task")
    .option("--runtimes", "the sandbox figures under runc and under gVisor (runsc) side by side")
    .option("--engines", "the bundled grading over the default engine alone, then with every --engine too")
    .option("--concurrency <n>", "with --grading: the parallel pass's concurrency (default: the CPU count)")
    .option("--json", "print one JSON object")
    .action(async (rawFlags: unknown) => {
      const flags = flagsSchema.parse(rawFlags);
      const signal = interruptSignal();
      const { docker, image } = await readyEngine(signal, flags.json);
      const version = (await docker.version()) as { Version?: string };
      if (flags.agent) {
        const agent = await benchAgent(docker, {
          image,
          steps: rawStepsGiven(rawFlags) ? flags.steps : 100,
          signal,
          onProgress: (line) => process.stderr.write(`[bench] ${line}\n`),
        });
        const report = { agent, image, docker_version: version.Version ?? "unknown" };
        if (flags.json) {
          process.stdout.write(JSON.stringify(report) + "\n");
          return;
        }
        const header = ["actions", "retrieval p50 / p99", "index build", "step overhead p50 / p99", "prompt", "kernel", "extraction", "trajectory"];
        const rows = agent.sizes.map((size) => [
          String(size.actions),
          `${size.retrieval_p50_ms} / ${size.retrieval_p99_ms} ms`,
          `${size.index_build_ms} ms`,
          `${size.step_overhead_p50_ms} / ${size.step_overhead_p99_ms} ms`,
          `${size.prompt_p50_ms} ms`,
          `${size.kernel_p50_ms} ms`,
          `${size.extraction_p50_ms} ms`,
          `${size.trajectory_p50_ms} ms`,
        ]);
        const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
        const line = (row: string[]): string => row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join("  ");
        process.stdout.write(
          [line(header), ...rows.map(line), `(${agent.steps} steps per size; medians of the parts; targets: step overhead p50 < 5 ms, retrieval p50 < 5 ms at 10,000 actions)`].join("\n") + "\n",
        );
        return;
      }
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
      const progress = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
      if (flags.runtimes) {
        const result = await benchRuntimes(docker, { image, steps: flags.steps, signal, onProgress: progress });
        const report = { ...result, image, docker_version: version.Version ?? "unknown" };
        if (flags.json) process.stdout.write(JSON.stringify(report) + "\n");
        else {
          const rows = Object.entries(result.runtimes).map(([runtime, row]): [string, string] => [
            runtime,
            `step p50 ${row.step_p50_ms} ms, p99 ${row.step_p99_ms} ms; cold start p50 ${row.acquire_cold_p50_ms} ms; idle ${row.idle_sandbox_mem_mb} MB`,
          ]);
          for (const runtime of result.missing) rows.push([runtime, "not on this engine (dynabox doctor says how to add it)"]);
          process.stdout.write(formatRows(rows) + "\n");
        }
        return;
      }
      if (flags.engines) {
        const extra = engineSelection().engines ?? [];
        if (extra.length === 0) {
          throw new UserError("DYNABOX_USAGE", "--engines compares the default engine with more: add at least one --engine ADDRESS");
        }
        const local = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
        const specs = [parseEngineSpec(local), ...extra.map(parseEngineSpec)];
        const tasks = await discoverTasks([bundledTasksDirectory()]);
        const result = await benchEngines({ docker, sandboxImage: image, cacheDirectory: cacheDirectory(), signal }, tasks, specs, progress);
        process.stdout.write((flags.json ? JSON.stringify({ ...result, image }) : formatRows(Object.entries(result).map(([key, value]) => [key, JSON.stringify(value)]))) + "\n");
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

/** Whether --steps was given (its default, 1,000 kernel cells, suits the sandbox bench, not the agent's). */
function rawStepsGiven(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { steps?: unknown }).steps !== "1000";
}
