// What graders need, and the one way they get a container: fresh, network off (unless a caller
// opts in for benchmark code), disposed after.

import type Dockerode from "dockerode";
import { gpuNeed, parseGpus, parseGpuScope, planGpus, type DeviceRequest } from "../environments/gpus.js";
import type { EnvironmentSettings } from "../environments/settings.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../sandbox/sandbox.js";

export interface GradingContext {
  docker: Dockerode;
  /** The sandbox image; task environments are layered on it. */
  sandboxImage: string;
  /** A folder for caches that outlive one grading (prepared mlab tasks, cloned RES-Q repositories). */
  cacheDirectory: string;
  /** Groups the containers of one run. */
  runId?: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /**
   * Told each warning about the item being graded (pins not honoured, another Python, assumed
   * settings): runners keep them in the result row and count them. Use reportWarning().
   */
  onWarning?: (warning: string) => void;
  /**
   * Limits the user set for every grading container (`eval --memory/--cpus/--workspace-size`);
   * they win over a family's own limits.
   */
  graderLimits?: SandboxOptions["limits"];
  /**
   * Where task environments get Python packages (index, wheelhouse, Debian substitutes) and how
   * builds report; PIP_INDEX_URL and friends from the process environment when absent.
   */
  environment?: EnvironmentSettings;
  /**
   * The GPUs (Docker DeviceRequests) of the task being graded, set by contextForTask: every grader
   * container of the task gets them, and so does the agent's sandbox.
   */
  taskDevices?: DeviceRequest[];
}

/**
 * The context for one task: its GPU need (task.gpu, or every task with --gpus-for all) against the
 * user's --gpus becomes `taskDevices`; a task that needs a GPU while --gpus is not given gets the
 * warning (through onWarning: set that first). Runners call this once per task they grade or run.
 */
export function contextForTask<T extends GradingContext>(
  context: T,
  task: { id: string; gpu?: boolean | number | undefined },
): T & { taskDevices: DeviceRequest[] } {
  const need = gpuNeed(task.gpu, parseGpuScope(context.environment?.gpusFor));
  const plan = planGpus(task.id, need, parseGpus(context.environment?.gpus));
  if (plan.warning !== undefined) reportWarning(context, plan.warning);
  return { ...context, taskDevices: plan.deviceRequests };
}

/** Reports a warning to onWarning, or as a "warning: ..." progress line when there is none. */
export function reportWarning(context: Pick<GradingContext, "onWarning" | "onProgress">, warning: string): void {
  if (context.onWarning) context.onWarning(warning);
  else context.onProgress?.(`warning: ${warning}`);
}

export interface GraderSandboxOptions {
  /** A task environment image; the sandbox image when absent. */
  image?: string;
  limits?: SandboxOptions["limits"];
  env?: Record<string, string>;
  /**
   * A network (Docker's bridge) for benchmark code the user explicitly lets out, such as an
   * MLAgentBench prepare.py that downloads its data; never for a submission or an agent's code.
   */
  network?: boolean;
  /**
   * The task declares a GPU (true, or how many): it gets the user's --gpus (context.environment.gpus).
   * Absent: the context's taskDevices (contextForTask).
   */
  gpu?: boolean | number;
}

function graderDevices(context: GradingContext, options: GraderSandboxOptions): { deviceRequests?: DeviceRequest[] } {
  const devices =
    options.gpu !== undefined ? planGpus("the task", options.gpu, parseGpus(context.environment?.gpus)).deviceRequests : (context.taskDevices ?? []);
  return devices.length > 0 ? { deviceRequests: devices } : {};
}

/**
 * Runs `body` with a fresh grader container (never the agent's), network off, and removes the
 * container afterwards whatever happens.
 */
export async function withGraderSandbox<T>(
  context: GradingContext,
  options: GraderSandboxOptions,
  body: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  const sandbox = await startSandbox(context.docker, {
    image: options.image ?? context.sandboxImage,
    network: options.network === true,
    role: "grader",
    ...(options.limits || context.graderLimits ? { limits: { ...options.limits, ...context.graderLimits } } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...graderDevices(context, options),
    ...(context.runId ? { runId: context.runId } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  });
  // Ctrl-C removes the container at once, so a long test or program stops within seconds
  // whatever the grader is waiting for (its pending call then fails, and the caller sees the abort).
  const onAbort = (): void => void sandbox.dispose().catch(() => undefined);
  context.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await body(sandbox);
  } finally {
    context.signal?.removeEventListener("abort", onAbort);
    await sandbox.dispose();
  }
}
