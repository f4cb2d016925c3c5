// Several engines behind one run: each with its own concurrency, tasks placed on the engine with
// the most free capacity, the sandbox image carried to engines that lack it, and an engine that
// stops answering taken out of the pool, its tasks retried on the others as infrastructure failures.

import type Dockerode from "dockerode";
import { EnvironmentError, isAbortError } from "../errors.js";
import { assertDockerReachable, assertRuntimeAvailable, connectDocker, imageExists } from "../sandbox/docker.js";
import { sweepDeadOwners } from "../sandbox/reaper.js";
import { ensureImageOn } from "./image-transfer.js";
import { pullFromRegistry, pushToRegistry } from "./registry-transfer.js";
import { adaptToEngineKind, type EngineKind } from "./kind.js";
import type { EngineSpec } from "./spec.js";

export interface PoolEngine {
  name: string;
  docker: Dockerode;
  kind: EngineKind;
  concurrency: number;
  running: number;
  down: boolean;
  /** Tasks finished here (for placement figures and the summary). */
  finished: number;
}

export type EngineEvent =
  | {
      type: "engine-ready";
      engine: string;
      kind: EngineKind;
      concurrency: number;
      imageCopiedSeconds: number | null;
      /** How the image got there when it was copied; with a registry that failed, save-load and why. */
      imageMethod?: "registry" | "save-load";
      imageNote?: string;
    }
  | { type: "engine-down"; engine: string; reason: string }
  | { type: "engine-retry"; engine: string; attempt: number; reason: string };

export interface EnginePoolOptions {
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** How often one task may be placed again after its engine went down. */
  maxAttempts?: number;
  /** How long an engine may take to answer the health check after a task. */
  healthTimeoutMs?: number;
  /** After a sandbox was lost or refused, how long to wait before asking the engine again. */
  recheckDelayMs?: number;
  /**
   * HOST:PORT of a registry (--image-registry): the image is pushed there once from `source` and
   * pulled by each engine that lacks it, instead of save/load. An engine whose pull fails gets
   * the image by save/load after all, and its ready event says why.
   */
  imageRegistry?: string;
}

/** Errors an engine going away causes: a sandbox lost or not started, the engine unreachable. */
function isEngineSymptom(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (
    code === "DYNABOX_SANDBOX_LOST" ||
    code === "DYNABOX_SANDBOX_START_FAILED" ||
    code === "DYNABOX_DOCKER_UNAVAILABLE" ||
    code === "ECONNREFUSED" ||
    code === "ENOENT" ||
    code === "ECONNRESET" ||
    code === "EPIPE"
  );
}

/**
 * Makes sure the engine has the image: through the registry when one is named (pushed once,
 * then pulled), else, or when that fails, by save/load from `source`. seconds: null when the
 * engine had the image already.
 */
async function bringImage(
  source: Dockerode,
  target: Dockerode,
  image: string,
  spec: EngineSpec,
  options: EnginePoolOptions,
  pushed: { done?: Promise<unknown> },
): Promise<{ seconds: number | null; method?: "registry" | "save-load"; note?: string }> {
  if (await imageExists(target, image)) return { seconds: null };
  const signal = options.signal ? { signal: options.signal } : {};
  let note: string | undefined;
  if (options.imageRegistry !== undefined) {
    try {
      const started = performance.now();
      pushed.done ??= pushToRegistry(source, image, options.imageRegistry);
      await pushed.done;
      await pullFromRegistry(target, image, spec.registry ?? options.imageRegistry, spec.name);
      return { seconds: (performance.now() - started) / 1000, method: "registry" };
    } catch (error) {
      options.signal?.throwIfAborted();
      note = `the registry did not work (${error instanceof Error ? error.message : String(error)}), so the image was copied by save/load`;
    }
  }
  const copied = await ensureImageOn(source, target, image, { targetName: spec.name, ...signal });
  return { seconds: copied.copied ? copied.seconds : null, method: "save-load", ...(note ? { note } : {}) };
}

export class EnginePool {
  private waiting: (() => void)[] = [];
  /** Per placed task, the time dynabox itself spent placing it: waiting for a slot is not counted, choosing and the health check are. */
  readonly placementMs: number[] = [];

  private constructor(
    readonly engines: PoolEngine[],
    readonly image: string,
    private readonly options: EnginePoolOptions,
  ) {}

  /**
   * Connects to every engine, checks it (reachable, runtime present), sweeps dead owners'
   * containers there, and brings `image` from `source` to each engine that lacks it (through
   * options.imageRegistry when given, else save/load).
   */
  static async open(specs: readonly EngineSpec[], source: Dockerode, image: string, options: EnginePoolOptions = {}): Promise<EnginePool> {
    const engines: PoolEngine[] = [];
    // The registry push happens once, for the first engine that lacks the image.
    const pushed: { done?: Promise<unknown> } = {};
    for (const spec of specs) {
      const docker = connectDocker(spec.connection, spec.runtime ? { runtime: spec.runtime } : {});
      await assertDockerReachable(docker, options.signal).catch((error: unknown) => {
        throw new EnvironmentError("DYNABOX_DOCKER_UNAVAILABLE", `engine ${spec.name}: ${(error as Error).message}`, { cause: error, retryable: true });
      });
      if (spec.runtime) await assertRuntimeAvailable(docker, spec.runtime, spec.name);
      const kind = await adaptToEngineKind(docker, `engine ${spec.name}`);
      await sweepDeadOwners(docker, options.signal ? { signal: options.signal } : {});
      const transfer = await bringImage(source, docker, image, spec, options, pushed);
      const concurrency = spec.concurrency ?? Math.max(1, ((await docker.info()) as { NCPU?: number }).NCPU ?? 1);
      engines.push({ name: spec.name, docker, kind, concurrency, running: 0, down: false, finished: 0 });
      options.onEvent?.({
        type: "engine-ready",
        engine: spec.name,
        kind,
        concurrency,
        imageCopiedSeconds: transfer.seconds,
        ...(transfer.method ? { imageMethod: transfer.method } : {}),
        ...(transfer.note ? { imageNote: transfer.note } : {}),
      });
    }
    return new EnginePool(engines, image, options);
  }

  /** Tasks at once over every engine that is up. */
  get capacity(): number {
    return this.engines.filter((engine) => !engine.down).reduce((sum, engine) => sum + engine.concurrency, 0);
  }

  /**
   * Runs `work` on an engine with free capacity. When the work fails, or even finishes, on an
   * engine that then does not answer, the engine leaves the pool and the work runs again on
   * another (a verdict made while an engine died is not trusted). Other errors pass through.
   */
  async run<T>(work: (engine: PoolEngine) => Promise<T>): Promise<T> {
    const attempts = this.options.maxAttempts ?? 3;
    let lastReason = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let placing = performance.now();
      const engine = await this.acquire(() => (placing = performance.now()));
      let placementMs = performance.now() - placing;
      let outcome: { value: T } | { error: unknown };
      try {
        outcome = { value: await work(engine) };
      } catch (error) {
        outcome = { error };
      }
      this.release(engine);
      if ("error" in outcome && (isAbortError(outcome.error) || this.options.signal?.aborted)) throw outcome.error;
      // A sandbox lost or refused as its engine shuts down comes a moment before the engine stops
      // answering, so after such an error the engine is asked again a little later.
      const checking = performance.now();
      const healthy = (await this.answers(engine)) && !("error" in outcome && isEngineSymptom(outcome.error) && !(await this.answersLater(engine)));
      placementMs += performance.now() - checking;
      this.placementMs.push(placementMs);
      if (healthy) {
        if ("error" in outcome) throw outcome.error;
        engine.finished++;
        return outcome.value;
      }
      lastReason = "error" in outcome ? (outcome.error instanceof Error ? outcome.error.message : String(outcome.error)) : "the engine stopped answering as the task ended";
      this.markDown(engine, lastReason);
      this.options.onEvent?.({ type: "engine-retry", engine: engine.name, attempt, reason: lastReason });
    }
    throw new EnvironmentError("DYNABOX_DOCKER_UNAVAILABLE", `the task failed on ${attempts} engines that stopped answering (last: ${lastReason})`, { retryable: true });
  }

  private async answers(engine: PoolEngine): Promise<boolean> {
    if (engine.down) return false;
    try {
      await assertDockerReachable(engine.docker, undefined, this.options.healthTimeoutMs ?? 5_000);
      return true;
    } catch {
      return false;
    }
  }

  private async answersLater(engine: PoolEngine): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, this.options.recheckDelayMs ?? 2_000));
    return this.answers(engine);
  }

  private markDown(engine: PoolEngine, reason: string): void {
    if (engine.down) return;
    engine.down = true;
    this.options.onEvent?.({ type: "engine-down", engine: engine.name, reason });
    this.wake();
  }

  /** The up engine with the most free slots (ties: the first listed); waits while all are full. */
  private async acquire(onWoken: () => void = () => {}): Promise<PoolEngine> {
    for (;;) {
      this.options.signal?.throwIfAborted();
      const up = this.engines.filter((engine) => !engine.down);
      if (up.length === 0) throw new EnvironmentError("DYNABOX_DOCKER_UNAVAILABLE", "every engine of the run stopped answering; check them with: dynabox doctor", { retryable: true });
      let best: PoolEngine | undefined;
      for (const engine of up) {
        const free = engine.concurrency - engine.running;
        if (free > 0 && (best === undefined || free / engine.concurrency > (best.concurrency - best.running) / best.concurrency)) best = engine;
      }
      if (best !== undefined) {
        best.running++;
        return best;
      }
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.options.signal?.addEventListener("abort", () => resolve(), { once: true });
      });
      onWoken();
    }
  }

  private release(engine: PoolEngine): void {
    engine.running--;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
