// `dynabox bench`: performance figures measured in one run, each beside its baseline.

import type { Command } from "commander";
import { z } from "zod";
import { benchEngines } from "../../bench/engines-bench.js";
import { benchGrading } from "../../bench/grading-bench.js";
import { benchRuntimes } from "../../bench/runtime-bench.js";
import { parseEngineSpec } from "../../engines/spec.js";
import { UserError } from "../../errors.js";
import { engineSelection } from "../engine-options.js";
import { benchSandbox } from "../../bench/sandbox-bench.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { discoverTasks } from "../../tasks/registry.js";
import { bundledTasksDirectory, cacheDirectory, interruptSignal, readyEngine } from "../shared.js";

const flagsSchema = z.object({
  json: z.boolean().default(false),
  grading: z.boolean().default(false),
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
    .option("--runtimes", "the sandbox figures under runc and under gVisor (runsc) side by side")
    .option("--engines", "the bundled grading over the default engine alone, then with every --engine too")
    .option("--concurrency <n>", "with --grading: the parallel pass's concurrency (default: the CPU count)")
    .option("--json", "print one JSON object")
    .action(async (rawFlags: unknown) => {
      const flags = flagsSchema.parse(rawFlags);
      const signal = interruptSignal();
      const { docker, image } = await readyEngine(signal, flags.json);
      const version = (await docker.version()) as { Version?: string };
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
