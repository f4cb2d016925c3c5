// The extraction sandbox: a container of its own, network off, that only ever parses the text of
// cells agents ran (`dynabox_extract.emit_extracted`) and never runs any of it. One serves a
// whole run; calls are queued, because a kernel runs one cell at a time. If it dies (a text
// that crashes the parser, an engine hiccup) the call fails and the next one starts a new one,
// so one hostile cell costs only its own step's candidates.

import type Dockerode from "dockerode";
import { SandboxError } from "../errors.js";
import type { ExecOptions } from "../sandbox/kernel-client.js";
import type { CellResult } from "../sandbox/protocol.js";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import type { CellRunner } from "./extract.js";

export class ActionExtractor implements CellRunner, AsyncDisposable {
  private sandbox: Sandbox | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  /** `start` makes a fresh sandbox from an image that holds `dynabox_extract` (the sandbox image). */
  constructor(private readonly start: (signal?: AbortSignal) => Promise<Sandbox>) {}

  /** An extractor whose sandboxes come from `image`, network off, labelled as the run's. */
  static forImage(docker: Dockerode, image: string, runId?: string): ActionExtractor {
    return new ActionExtractor((signal) =>
      startSandbox(docker, {
        image,
        network: false,
        role: "action-extractor",
        ...(runId ? { runId } : {}),
        ...(signal ? { signal } : {}),
      }),
    );
  }

  exec(code: string, options: ExecOptions = {}): Promise<CellResult> {
    const run = this.queue.then(async () => {
      const sandbox = await this.ready(options.signal);
      return sandbox.exec(code, options);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async ready(signal?: AbortSignal): Promise<Sandbox> {
    if (this.disposed) throw new SandboxError("DYNABOX_SANDBOX_DISPOSED", "the action extractor was disposed");
    if (this.sandbox?.isAlive) return this.sandbox;
    if (this.sandbox !== undefined) await this.sandbox.dispose().catch(() => {});
    this.sandbox = undefined;
    this.sandbox = await this.start(signal);
    return this.sandbox;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue;
    await this.sandbox?.dispose();
    this.sandbox = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
