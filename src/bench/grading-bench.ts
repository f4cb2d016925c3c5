// Grading throughput: the bundled suite validated at concurrency 1 and at the default
// concurrency in one run. A warm-up pass first fills the caches (prepared tasks, measured
// baselines, cloned repositories, task images), so both timed passes do the same work.

import type { GradingContext } from "../grading/context.js";
import { validateTasks } from "../runs/validate.js";
import type { DiscoveredTask } from "../families/registry.js";
import { round } from "./statistics.js";

export interface GradingBenchResult {
  tasks: number;
  grading_serial_s: number;
  grading_parallel_s: number;
  concurrency_parallel: number;
  seconds_per_task_serial: number;
  seconds_per_task_parallel: number;
  parallel_speedup: number;
  all_valid: boolean;
}

export async function benchGrading(
  context: GradingContext,
  tasks: readonly DiscoveredTask[],
  concurrency: number,
  onProgress: (line: string) => void = () => {},
): Promise<GradingBenchResult> {
  onProgress(`warm-up: validating ${tasks.length} task(s) once to fill the caches`);
  await validateTasks(tasks, { context, concurrency });
  onProgress("serial: concurrency 1");
  let started = performance.now();
  const serial = await validateTasks(tasks, { context, concurrency: 1 });
  const serialSeconds = (performance.now() - started) / 1000;
  onProgress(`parallel: concurrency ${concurrency}`);
  started = performance.now();
  const parallel = await validateTasks(tasks, { context, concurrency });
  const parallelSeconds = (performance.now() - started) / 1000;
  return {
    tasks: tasks.length,
    grading_serial_s: round(serialSeconds, 2),
    grading_parallel_s: round(parallelSeconds, 2),
    concurrency_parallel: concurrency,
    seconds_per_task_serial: round(serialSeconds / tasks.length, 2),
    seconds_per_task_parallel: round(parallelSeconds / tasks.length, 2),
    parallel_speedup: round(serialSeconds / parallelSeconds, 2),
    all_valid: [...serial, ...parallel].every((report) => report.valid),
  };
}
