// The library API: what the CLI, the agent and the graders are built from.

export * from "./errors.js";
export { connectDocker, assertDockerReachable } from "./sandbox/docker.js";
export { ensureSandboxImage, sandboxImageTag } from "./sandbox/image.js";
export { sweepDeadOwners, cleanAll } from "./sandbox/reaper.js";
export { startSandbox, Sandbox, type SandboxOptions } from "./sandbox/sandbox.js";
export { SandboxPool, type PoolOptions } from "./sandbox/pool.js";
export { DEFAULT_LIMITS, buildCreateOptions, type SandboxLimits, type SandboxProfile } from "./sandbox/profile.js";
export type { CellResult, ShellResult, CellError, KernelEvent } from "./sandbox/protocol.js";
export type { ExecOptions, ShellOptions, HostCallHandler } from "./sandbox/kernel-client.js";
export type { FileEntry, UnpackLimits, UnpackReport } from "./sandbox/archive.js";
