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
export * from "./actions/index.js";
export { runAgent, DEFAULT_AGENT_LIMITS, type AgentInput, type AgentLimits, type AgentOutcome, type AgentLibrary } from "./agent/loop.js";
export { createModelClient, type ModelClient, type ModelClientOptions } from "./agent/model-client.js";
export { startScriptedOpenAIServer, loadScript, type ScriptedServer, type ScriptedStep } from "./testing/scripted-openai-server.js";
export { FAMILIES, type Family, type FamilyModule, type TaskBase, type Verdict, type ValidationResult } from "./tasks/types.js";
export { discoverTasks, FAMILY_MODULES, type DiscoveredTask } from "./tasks/registry.js";
export { withGraderSandbox, type GradingContext } from "./grading/context.js";
export { resqFamily, createResqFamily } from "./grading/resq.js";
export { sabFamily, createSabFamily } from "./grading/sab.js";
export { mlabFamily, createMlabFamily, submissionFromFolder, type MlabFamilyOptions, type MlabPrepareOptions } from "./grading/mlab.js";
export { findMlabLogRuns, mlabRunSubmission, type MlabLogRun } from "./grading/mlab-logs.js";
export { discoverMlabTasks, loadMlabTask } from "./tasks/mlab.js";
export { TaskFolder } from "./tasks/task-files.js";
export { ResultsStore } from "./runs/store.js";
export { runAgentTasks, type TaskRunSummary } from "./runs/agent-run.js";
export { validateTasks } from "./runs/validate.js";
export { evaluateItems, summarize, type EvalItem } from "./runs/evaluate.js";
