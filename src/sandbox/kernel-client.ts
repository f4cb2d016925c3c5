// The host's side of the kernel protocol, over the container's attached stdio stream.
// Requests are JSON lines on stdin; answers come back as JSON lines on stdout frames.

import type { Duplex } from "node:stream";
import { SandboxError } from "../errors.js";
import {
  kernelMessageSchema,
  toCellResult,
  toShellResult,
  type CellResult,
  type KernelMessage,
  type ShellResult,
} from "./protocol.js";
import { BoundedText, FrameDecoder, LineSplitter, STREAM_STDOUT } from "./stream-demux.js";

/** A host-side capability that sandbox code can call with `dynabox.host_call(name, args)`. */
export type HostCallHandler = (args: unknown, signal: AbortSignal) => Promise<unknown> | unknown;

export interface ExecOptions {
  /** Seconds before the cell is interrupted (and, if it ignores that, the kernel restarted). */
  timeoutSeconds?: number;
  /** Bytes of stdout and of stderr kept (half head, half tail); the totals are always counted. */
  outputLimitBytes?: number;
  signal?: AbortSignal;
}

export interface ShellOptions extends ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
}

interface Pending {
  resolve: (message: KernelMessage) => void;
  reject: (error: unknown) => void;
  expected: KernelMessage["type"];
  timer: NodeJS.Timeout | undefined;
}

/** How long past its own timeout the host waits for the supervisor before declaring it lost. */
const HOST_GRACE_MS = 15_000;

/** The supervisor's default output cap per stream (sandbox/kernel.py). */
const DEFAULT_OUTPUT_LIMIT_BYTES = 64 * 1024;

/**
 * Room in one protocol line for everything but stdout and stderr. The supervisor caps what it
 * forwards (sandbox/worker_messages.py: events 1 MiB, host-call arguments 64 KiB, value and
 * error texts), so an honest line stays well below this.
 */
export const LINE_BASE_BYTES = 8 * 1024 * 1024;

/** Most bytes of a host call's arguments as JSON; the supervisor refuses larger calls first. */
export const HOST_CALL_ARGS_LIMIT = 64 * 1024;
const HOST_CALL_NAME_LIMIT = 128;

/**
 * The longest protocol line accepted while requests with these output caps are waiting: each
 * stream's head and tail may grow sixfold as ASCII JSON (`\ufffd` for an invalid byte).
 */
export function maxLineBytes(outputLimits: Iterable<number>): number {
  let largest = DEFAULT_OUTPUT_LIMIT_BYTES;
  for (const limit of outputLimits) largest = Math.max(largest, limit);
  return LINE_BASE_BYTES + 2 * 6 * largest;
}

export class KernelClient {
  private readonly pending = new Map<string, Pending>();
  private readonly handlers = new Map<string, HostCallHandler>();
  private readonly diagnostics = new BoundedText(64 * 1024);
  private readonly callControllers = new Set<AbortController>();
  /** Output caps requested on this session; a protocol line may be as long as the largest allows. */
  private readonly outputLimits = new Set<number>();
  private nextId = 0;
  private closedError: SandboxError | undefined;
  private readyResolve!: () => void;
  private readyReject!: (error: unknown) => void;
  readonly ready: Promise<void>;
  /** Lines from the kernel that were not valid protocol messages (should stay 0). */
  invalidMessages = 0;

  constructor(
    private readonly stream: Duplex,
    private readonly onLost: (reason: string) => void = () => {},
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    // Nobody may be awaiting `ready` yet when the stream fails; the error is kept for them.
    this.ready.catch(() => {});
    const lines = new LineSplitter(
      (line) => this.onLine(line),
      () => maxLineBytes(this.outputLimits),
      (bytes) => this.breach(`the kernel sent a protocol line of over ${bytes} bytes, past dynabox's cap`),
    );
    const frames = new FrameDecoder((kind, payload) => {
      if (kind === STREAM_STDOUT) lines.push(payload);
      else this.diagnostics.push(payload);
    });
    stream.on("data", (chunk: Buffer) => {
      // Nothing a sandbox sends may throw out of this listener: that would end the process.
      try {
        frames.push(chunk);
      } catch (error) {
        this.breach(`reading the kernel's stream failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    stream.on("end", () => this.close("the kernel's output stream ended"));
    stream.on("close", () => this.close("the kernel's stream closed"));
    stream.on("error", (error) => this.close(`the kernel's stream failed: ${error.message}`));
  }

  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** What the container wrote to its stderr before the supervisor took it over. */
  get stderrText(): string {
    return this.diagnostics.text();
  }

  setHostCall(name: string, handler: HostCallHandler | undefined): void {
    if (handler === undefined) this.handlers.delete(name);
    else this.handlers.set(name, handler);
  }

  async exec(code: string, options: ExecOptions = {}): Promise<CellResult> {
    const message = await this.request(
      { type: "exec", code, timeout: options.timeoutSeconds, output_limit: options.outputLimitBytes },
      "result",
      options,
    );
    if (message.type !== "result") throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", "unexpected reply to exec");
    return toCellResult(message);
  }

  async shell(command: string, options: ShellOptions = {}): Promise<ShellResult> {
    const message = await this.request(
      {
        type: "shell",
        command,
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutSeconds,
        output_limit: options.outputLimitBytes,
      },
      "shell-result",
      options,
    );
    if (message.type !== "shell-result") throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", "unexpected reply to shell");
    return toShellResult(message);
  }

  async restart(signal?: AbortSignal): Promise<void> {
    await this.request({ type: "restart" }, "restarted", { timeoutSeconds: 30, signal });
  }

  /** One protocol round trip with no Python involved: the floor of any request's latency. */
  async ping(): Promise<void> {
    await this.request({ type: "ping" }, "pong", { timeoutSeconds: 30 });
  }

  private request(
    body: Record<string, unknown>,
    expected: KernelMessage["type"],
    options: ExecOptions,
  ): Promise<KernelMessage> {
    if (this.closedError) return Promise.reject(this.closedError);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = String(++this.nextId);
    // Kept after the request settles: an aborted request's answer may still arrive, as long.
    if (options.outputLimitBytes !== undefined) this.outputLimits.add(options.outputLimitBytes);
    return new Promise<KernelMessage>((resolve, reject) => {
      const entry: Pending = { resolve, reject, expected, timer: undefined };
      if (options.timeoutSeconds !== undefined) {
        entry.timer = setTimeout(() => {
          this.onLost(`the kernel did not answer within ${options.timeoutSeconds}s plus a grace period`);
        }, options.timeoutSeconds * 1000 + HOST_GRACE_MS);
      }
      const onAbort = (): void => {
        // The kernel stops the cell as if its deadline had passed; the late answer is dropped.
        this.write({ type: "interrupt", id });
        this.settle(id);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      entry.resolve = (message) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(message);
      };
      entry.reject = (error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      this.pending.set(id, entry);
      this.write({ ...body, id });
    });
  }

  private settle(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (entry === undefined) return undefined;
    this.pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    return entry;
  }

  private write(message: Record<string, unknown>): void {
    if (this.closedError) return;
    this.stream.write(JSON.stringify(message) + "\n");
  }

  private onLine(line: string): void {
    if (line.trim() === "") return;
    let parsed: KernelMessage;
    try {
      parsed = kernelMessageSchema.parse(JSON.parse(line));
    } catch {
      this.invalidMessages += 1;
      return;
    }
    switch (parsed.type) {
      case "ready":
        this.readyResolve();
        return;
      case "call":
        this.answerCall(parsed.call_id, parsed.name, parsed.args).catch((error: unknown) => {
          this.breach(`answering a host call failed: ${error instanceof Error ? error.message : String(error)}`);
        });
        return;
      case "protocol-error":
        if (parsed.id) {
          this.settle(parsed.id)?.reject(new SandboxError("DYNABOX_KERNEL_PROTOCOL", parsed.error));
        }
        return;
      default: {
        const id = parsed.id;
        if (id === null) return;
        const entry = this.settle(id);
        if (entry === undefined) return;
        if (entry.expected === parsed.type) entry.resolve(parsed);
        else entry.reject(new SandboxError("DYNABOX_KERNEL_PROTOCOL", `expected ${entry.expected}, got ${parsed.type}`));
      }
    }
  }

  private async answerCall(callId: string, name: string, args: unknown): Promise<void> {
    const handler = this.handlers.get(name);
    if (handler === undefined) {
      this.write({ type: "call-result", call_id: callId, ok: false, error: `no host call named ${JSON.stringify(name.slice(0, HOST_CALL_NAME_LIMIT))}` });
      return;
    }
    // The supervisor refuses these already; checked again so that no handler ever works on more.
    const argsBytes = JSON.stringify(args ?? null).length;
    if (name.length > HOST_CALL_NAME_LIMIT || argsBytes > HOST_CALL_ARGS_LIMIT) {
      this.write({
        type: "call-result",
        call_id: callId,
        ok: false,
        error: `the arguments are ${argsBytes} bytes as JSON, over the limit of ${HOST_CALL_ARGS_LIMIT}`,
      });
      return;
    }
    const controller = new AbortController();
    this.callControllers.add(controller);
    try {
      const value = await handler(args, controller.signal);
      this.write({ type: "call-result", call_id: callId, ok: true, value: value ?? null });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.write({ type: "call-result", call_id: callId, ok: false, error: text });
    } finally {
      this.callControllers.delete(controller);
    }
  }

  /** The sandbox broke the protocol: it alone ends (lost), never the process. */
  private breach(reason: string): void {
    this.close(reason);
    this.onLost(reason);
  }

  /** Ends the session: every waiting request fails with the reason. */
  close(reason: string): void {
    if (this.closedError) return;
    const detail = this.stderrText.trim();
    this.closedError = new SandboxError(
      "DYNABOX_SANDBOX_LOST",
      `sandbox lost: ${reason}${detail ? `\n${detail}` : ""}`,
    );
    this.readyReject(this.closedError);
    for (const controller of this.callControllers) controller.abort(this.closedError);
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.closedError);
    this.stream.destroy();
  }
}
