// A warm pool: started sandboxes with a live kernel, kept ready per configuration, so that
// acquiring one is a hand-over rather than a container start. A sandbox handed out is never
// taken back: disposing it removes the container.

import type Dockerode from "dockerode";
import { SandboxError } from "../errors.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "./sandbox.js";

export interface PoolOptions {
  /** Ready sandboxes kept per configuration. */
  size?: number;
}

type StartOptions = Omit<SandboxOptions, "signal">;

interface Slot {
  options: StartOptions;
  idle: Sandbox[];
  starting: Set<Promise<Sandbox | undefined>>;
}

/** Sandboxes are interchangeable when everything they were created with is the same. */
export function poolKey(options: StartOptions): string {
  const { image, limits, network, env, runtime, runId, role, deviceRequests } = options;
  // The GPUs too: a sandbox started without them must never be handed to a task that needs them, nor the reverse.
  return JSON.stringify([image, limits ?? {}, network ?? false, env ?? {}, runtime ?? "", runId ?? "", role ?? "", deviceRequests ?? []]);
}

export class SandboxPool implements AsyncDisposable {
  private readonly slots = new Map<string, Slot>();
  private readonly size: number;
  private closed = false;
  /** Errors of background starts, kept so that a broken image surfaces on the next acquire. */
  private lastStartError: unknown;

  constructor(
    private readonly docker: Dockerode,
    options: PoolOptions = {},
  ) {
    this.size = Math.max(0, options.size ?? 2);
  }

  /** A started sandbox: a ready one from the pool when there is one, else a new one. */
  async acquire(options: SandboxOptions): Promise<Sandbox> {
    if (this.closed) throw new SandboxError("DYNABOX_SANDBOX_DISPOSED", "the sandbox pool was disposed");
    const { signal, ...startOptions } = options;
    const slot = this.slot(startOptions);
    let sandbox: Sandbox | undefined;
    while ((sandbox = slot.idle.shift()) !== undefined) {
      if (sandbox.isAlive) break;
      sandbox.dispose().catch(() => {}); // a dead one; its removal failing must not end the process
    }
    this.refill(slot);
    if (sandbox !== undefined) return sandbox;
    return startSandbox(this.docker, { ...startOptions, ...(signal ? { signal } : {}) });
  }

  /** Starts sandboxes for this configuration until `count` are ready, and waits for them. */
  async warm(options: StartOptions, count = this.size): Promise<void> {
    const slot = this.slot(options);
    this.refill(slot, count);
    while (slot.idle.length < count && slot.starting.size > 0) {
      await Promise.race(slot.starting);
    }
    if (slot.idle.length < count && this.lastStartError !== undefined) throw this.lastStartError;
  }

  get idleCount(): number {
    let count = 0;
    for (const slot of this.slots.values()) count += slot.idle.length;
    return count;
  }

  private slot(options: StartOptions): Slot {
    const key = poolKey(options);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { options, idle: [], starting: new Set() };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private refill(slot: Slot, target = this.size): void {
    while (!this.closed && slot.idle.length + slot.starting.size < target) {
      const starting: Promise<Sandbox | undefined> = startSandbox(this.docker, { ...slot.options, role: slot.options.role ?? "pool" })
        .then(async (sandbox) => {
          if (this.closed) {
            await sandbox.dispose();
            return undefined;
          }
          slot.idle.push(sandbox);
          return sandbox;
        })
        .catch((error: unknown) => {
          this.lastStartError = error;
          return undefined;
        })
        .finally(() => slot.starting.delete(starting));
      slot.starting.add(starting);
      // A failing image would otherwise restart forever: stop after the first failure.
      if (this.lastStartError !== undefined) break;
    }
  }

  async dispose(): Promise<void> {
    this.closed = true;
    const pending: Promise<unknown>[] = [];
    for (const slot of this.slots.values()) {
      pending.push(...slot.starting);
      pending.push(...slot.idle.splice(0).map((sandbox) => sandbox.dispose()));
    }
    await Promise.allSettled(pending);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
