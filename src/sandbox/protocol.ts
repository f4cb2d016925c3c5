// The messages the kernel supervisor (sandbox/kernel.py) sends the host, one JSON object per
// line. Parsed with zod at the boundary; the library's own types are camelCase.

import { z } from "zod";

export const PROTOCOL_VERSION = 1;

const cellErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  traceback: z.string(),
});

const eventSchema = z.object({ name: z.string(), payload: z.unknown() });

const readySchema = z.object({ type: z.literal("ready"), protocol: z.number(), python: z.string() });
const pongSchema = z.object({ type: z.literal("pong"), id: z.string().nullable() });
const restartedSchema = z.object({ type: z.literal("restarted"), id: z.string() });
const protocolErrorSchema = z.object({
  type: z.literal("protocol-error"),
  id: z.string().nullish(),
  error: z.string(),
});
const callSchema = z.object({
  type: z.literal("call"),
  id: z.string(),
  call_id: z.string(),
  name: z.string(),
  args: z.unknown(),
});

const outputFields = {
  stdout: z.string(),
  stderr: z.string(),
  stdout_bytes: z.number(),
  stderr_bytes: z.number(),
  timed_out: z.boolean(),
  oom: z.boolean(),
  wall_ms: z.number(),
  cpu_ms: z.number().nullable(),
  peak_mem_mb: z.number().nullable(),
};

const cellResultSchema = z.object({
  type: z.literal("result"),
  id: z.string(),
  ok: z.boolean(),
  value: z.string().nullable(),
  error: cellErrorSchema.nullable(),
  events: z.array(eventSchema),
  kernel_restarted: z.boolean(),
  ...outputFields,
});

const shellResultSchema = z.object({
  type: z.literal("shell-result"),
  id: z.string(),
  exit_code: z.number().nullable(),
  error: z.string().nullable(),
  ...outputFields,
});

export const kernelMessageSchema = z.discriminatedUnion("type", [
  readySchema,
  pongSchema,
  restartedSchema,
  protocolErrorSchema,
  callSchema,
  cellResultSchema,
  shellResultSchema,
]);

export type KernelMessage = z.infer<typeof kernelMessageSchema>;
export type CellResultMessage = z.infer<typeof cellResultSchema>;
export type ShellResultMessage = z.infer<typeof shellResultSchema>;
export type CellError = z.infer<typeof cellErrorSchema>;
export type KernelEvent = z.infer<typeof eventSchema>;

interface OutputAccounting {
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  timedOut: boolean;
  oom: boolean;
  wallMs: number;
  cpuMs: number | null;
  peakMemMb: number | null;
}

/** What one Python cell did. `ok` is false whenever it raised, timed out, was killed or ran out of memory. */
export interface CellResult extends OutputAccounting {
  ok: boolean;
  value: string | null;
  error: CellError | null;
  events: KernelEvent[];
  kernelRestarted: boolean;
}

/** What one shell command did. A command that ran is a result, whatever its exit code. */
export interface ShellResult extends OutputAccounting {
  exitCode: number | null;
  /** Set when the command could not be started at all. */
  startError: string | null;
}

function accounting(message: CellResultMessage | ShellResultMessage): OutputAccounting {
  return {
    stdout: message.stdout,
    stderr: message.stderr,
    stdoutBytes: message.stdout_bytes,
    stderrBytes: message.stderr_bytes,
    timedOut: message.timed_out,
    oom: message.oom,
    wallMs: message.wall_ms,
    cpuMs: message.cpu_ms,
    peakMemMb: message.peak_mem_mb,
  };
}

export function toCellResult(message: CellResultMessage): CellResult {
  return {
    ok: message.ok,
    value: message.value,
    error: message.error,
    events: message.events,
    kernelRestarted: message.kernel_restarted,
    ...accounting(message),
  };
}

export function toShellResult(message: ShellResultMessage): ShellResult {
  return { exitCode: message.exit_code, startError: message.error, ...accounting(message) };
}

/** The JSON shape `dynabox exec --json` prints, in the wire's snake_case. */
export function cellResultJson(result: CellResult): Record<string, unknown> {
  return {
    ok: result.ok,
    stdout: result.stdout,
    stderr: result.stderr,
    value: result.value,
    error: result.error,
    timed_out: result.timedOut,
    oom: result.oom,
    kernel_restarted: result.kernelRestarted,
    wall_ms: result.wallMs,
    cpu_ms: result.cpuMs,
    peak_mem_mb: result.peakMemMb,
    stdout_bytes: result.stdoutBytes,
    stderr_bytes: result.stderrBytes,
  };
}
