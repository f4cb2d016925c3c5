// What graders need, and the one way they get a container: fresh, network off (unless a caller
// opts in for benchmark code), disposed after.

import type Dockerode from "dockerode";
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
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(context.runId ? { runId: context.runId } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  });
  try {
    return await body(sandbox);
  } finally {
    await sandbox.dispose();
  }
}
