// The bundled grading over one engine and over several, through the same engine pool, with
// what placing each task cost dynabox (choosing an engine and the health check after it).

import type { GradingContext } from "../grading/context.js";
import { EnginePool } from "../engines/pool.js";
import type { EngineSpec } from "../engines/spec.js";
import { mapConcurrent } from "../runs/concurrency.js";
import { validateTasks } from "../runs/validate.js";
import type { DiscoveredTask } from "../families/registry.js";
import { median, round } from "./statistics.js";

export interface EnginesBenchPass {
  engines: number;
  concurrency: number;
  seconds: number;
  seconds_per_task: number;
  placement_p50_ms: number;
  tasks_per_engine: Record<string, number>;
  all_valid: boolean;
}

export interface EnginesBenchResult {
  tasks: number;
  one_engine: EnginesBenchPass;
  all_engines: EnginesBenchPass;
  speedup: number;
}

async function pass(context: GradingContext, tasks: readonly DiscoveredTask[], pool: EnginePool): Promise<EnginesBenchPass> {
  const started = performance.now();
  const reports = await mapConcurrent(
    tasks,
    pool.capacity,
    (task) => pool.run((engine) => validateTasks([task], { context: { ...context, docker: engine.docker }, concurrency: 1 })),
    context.signal,
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    engines: pool.engines.length,
    concurrency: pool.capacity,
    seconds: round(seconds, 2),
    seconds_per_task: round(seconds / tasks.length, 2),
    placement_p50_ms: round(median(pool.placementMs), 2),
    tasks_per_engine: Object.fromEntries(pool.engines.map((engine) => [engine.name, engine.finished])),
    all_valid: reports.flat().every((report) => report.valid),
  };
}

/** `specs[0]` alone, then every spec; a warm-up pass on all engines fills each one's caches first. */
export async function benchEngines(
  context: GradingContext,
  tasks: readonly DiscoveredTask[],
  specs: readonly EngineSpec[],
  onProgress: (line: string) => void = () => {},
): Promise<EnginesBenchResult> {
  const open = (chosen: readonly EngineSpec[]) =>
    EnginePool.open(chosen, context.docker, context.sandboxImage, context.signal ? { signal: context.signal } : {});
  onProgress(`warm-up: the bundled tasks once on each of ${specs.length} engine(s)`);
  for (const spec of specs) await pass(context, tasks, await open([spec]));
  onProgress("one engine");
  const one = await pass(context, tasks, await open(specs.slice(0, 1)));
  onProgress(`${specs.length} engines`);
  const all = await pass(context, tasks, await open(specs));
  return { tasks: tasks.length, one_engine: one, all_engines: all, speedup: round(one.seconds / all.seconds, 2) };
}
