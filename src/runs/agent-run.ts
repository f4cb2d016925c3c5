// `dynabox run`: for each task (and attempt) a sandbox, the agent, then the family's grader in a
// fresh container; the action library learns from tasks that passed. One row per finished
// attempt in the results store, so a rerun resumes where a crash or Ctrl-C left off.

import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ActionStore } from "../actions/store.js";
import { ActionExtractor } from "../actions/extractor.js";
import { TaskLibrary, type TaskSettlement } from "../actions/promote.js";
import type { Embedder } from "../actions/retrieve.js";
import { runAgent, type AgentLimits, type AgentOutcome } from "../agent/loop.js";
import type { ReplyFormatChoice } from "../agent/tool-replies.js";
import { ModelError, type ModelClient } from "../agent/model-client.js";
import { EnvironmentError, isAbortError, SandboxError } from "../errors.js";
import { contextForTask, type GradingContext } from "../grading/context.js";
import type { SandboxPool } from "../sandbox/pool.js";
import type { DiscoveredTask } from "../families/registry.js";
import type { Family, Verdict } from "../families/types.js";
import { failureReason } from "../report/reason.js";
import { keepSubmission } from "../report/submission-file.js";
import { keepVerdict } from "../report/trajectory-verdict.js";
import { runOnSomeEngine, type AgentEngines } from "./agent-engines.js";
import { mapConcurrent } from "./concurrency.js";
import type { RunEventListener } from "./events.js";
import { classifyFailure, isInfrastructureKind, waitForEngine, type ErrorKind } from "./infrastructure-errors.js";
import { FAMILY_SUMMARIES } from "../families/summaries.js";
import { resumeKey, taskFingerprint } from "./resume-key.js";
import type { ResultsStore } from "./store.js";

export interface AgentRunOptions {
  context: GradingContext & { runId: string };
  model: ModelClient;
  limits: AgentLimits;
  pool: SandboxPool;
  store: ResultsStore;
  runDirectory: string;
  /** Attempts per task; each is graded, and a task counts as passed when any attempt passed. */
  attempts: number;
  concurrency: number;
  library?: ActionStore;
  /**
   * For ablations: `on` (default) uses the library and adds to it; `frozen` uses it but adds
   * nothing and counts nothing, so every task sees the same library; `off` leaves it out.
   */
  libraryMode?: LibraryMode;
  /** The model's context window in tokens, for the context budget. */
  contextTokens?: number;
  replyFormat?: ReplyFormatChoice;
  /** Fuses embedding similarity with BM25 when retrieving actions. */
  embedder?: Embedder;
  force?: boolean;
  onEvent?: RunEventListener;
  /** More settings that can change an attempt (grader policies...): part of its resume key with the model and limits. */
  resumeSettings?: unknown;
  /** Times an attempt that ended on an infrastructure error is tried again within the run (default 2). */
  infrastructureRetries?: number;
  /** The pause before the first such retry; doubles per retry (default 5 s). */
  retryDelayMs?: number;
  /** How long to wait for an engine that stopped answering before failing the attempt (default 60 s). */
  engineWaitMs?: number;
  /** Several engines (--engine): each attempt runs on one with free capacity, `pool` is then unused. */
  engines?: AgentEngines;
}

export interface TaskRunSummary {
  id: string;
  family: Family;
  attempt: number;
  outcome: "passed" | "failed" | "error";
  score: number | null;
  steps: number;
  tokens: number;
  cost_usd: number;
  container_seconds: number;
  actions_created: string[];
  actions_used: string[];
  stop_reason: string | null;
  error: string | null;
  upstream: Record<string, unknown> | null;
  /** Warnings about the attempt's environment or grading (pins not honoured, another Python). */
  warnings?: string[];
  /** With outcome "error": whose fault (model, engine, sandbox-lost, grader-crash; input for a task that can not run as written). */
  error_kind?: ErrorKind;
  /** With outcome "error": why, in a sentence. */
  reason?: string;
  /** Times the attempt was started again within the run after an infrastructure error. */
  retries?: number;
  /** @internal Seconds the errored attempt took (for its event; not stored). */
  seconds_spent?: number;
}

const KIND = "run";

export const LIBRARY_MODES = ["on", "off", "frozen"] as const;
export type LibraryMode = (typeof LIBRARY_MODES)[number];

interface Attempt {
  discovered: DiscoveredTask;
  attempt: number;
}

export async function runAgentTasks(tasks: readonly DiscoveredTask[], options: AgentRunOptions): Promise<TaskRunSummary[]> {
  const attempts: Attempt[] = [];
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    for (const discovered of tasks) attempts.push({ discovered, attempt });
  }
  // Cells' text is analyzed for the library in a sandbox of its own, never in the agent's kernel.
  await using extractor = options.library ? ActionExtractor.forImage(options.context.docker, options.context.sandboxImage, options.context.runId) : undefined;
  return await mapConcurrent(attempts, options.concurrency, (attempt) => runWithRetries(attempt, options, extractor), options.context.signal);
}

/**
 * One attempt, started again after an infrastructure error up to `infrastructureRetries` times
 * with backoff (after waiting for the engine when the engine or a sandbox was the problem). What
 * still errors is stored as outcome "error" with its kind and reason, under no content key, so
 * no rerun takes it for finished; it is never graded, so no metric counts it.
 */
async function runWithRetries(attempt: Attempt, options: AgentRunOptions, extractor: ActionExtractor | undefined): Promise<TaskRunSummary> {
  const { task } = attempt.discovered;
  const { context, onEvent } = options;
  const maxRetries = Math.max(0, options.infrastructureRetries ?? 2);
  for (let retry = 0; ; retry++) {
    const summary = options.engines
      ? await runOnSomeEngine(
          options.engines,
          (engine, sandboxes) => runOne(attempt, { ...options, context: { ...context, docker: engine.docker }, pool: sandboxes }, extractor, retry),
          { id: task.id, family: task.family, attempt: attempt.attempt },
        )
      : await runOne(attempt, options, extractor, retry);
    if (summary.outcome !== "error") return { ...summary, ...(retry > 0 ? { retries: retry } : {}) };
    const kind = summary.error_kind ?? "grader-crash";
    let finalReason = summary.reason ?? summary.error ?? "unknown";
    let retryable = isInfrastructureKind(kind) && retry < maxRetries && summary.retries === undefined;
    // With several engines the pool has already asked the engine and placed the attempt elsewhere.
    if (retryable && !options.engines && (kind === "engine" || kind === "sandbox-lost")) {
      try {
        await waitForEngine(context.docker, {
          limitMs: options.engineWaitMs ?? 60_000,
          ...(context.signal ? { signal: context.signal } : {}),
          onWaiting: (message) => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message }),
        });
      } catch (error) {
        if (isAbortError(error) || context.signal?.aborted) throw error;
        retryable = false;
        finalReason = `${finalReason}; ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    if (!retryable) {
      const final: TaskRunSummary = stripInternal({ ...summary, reason: finalReason, retries: summary.retries ?? retry });
      options.store.put(
        KIND,
        { taskId: task.id, family: task.family, passed: false, score: null, upstream: {}, seconds: 0 },
        // No content key: an error is never a finished result, so the next run tries it again.
        { item: `attempt-${attempt.attempt}`, detail: final, contentKey: "" },
      );
      onEvent?.({ type: "task-end", family: task.family, taskId: task.id, outcome: "error", score: null, seconds: summary.seconds_spent ?? 0, summary: `${kind} error: ${finalReason}` });
      return final;
    }
    const delayMs = (options.retryDelayMs ?? 5_000) * 2 ** retry;
    onEvent?.({ type: "task-retry", family: task.family, taskId: task.id, retry: retry + 1, of: maxRetries, delayMs, kind, reason: finalReason });
    await sleep(delayMs, undefined, context.signal ? { signal: context.signal } : undefined);
  }
}

function stripInternal(summary: TaskRunSummary): TaskRunSummary {
  const { seconds_spent: _spent, ...rest } = summary;
  return rest;
}

async function runOne({ discovered, attempt }: Attempt, options: AgentRunOptions, extractor: ActionExtractor | undefined, retry: number): Promise<TaskRunSummary> {
  const { task, module } = discovered;
  const { context, store, onEvent } = options;
  const item = `attempt-${attempt}`;
  // Resumed only when the same task content ran with the same model and settings (resume-key.ts).
  const contentKey = resumeKey({
    kind: KIND,
    family: task.family,
    task: await taskFingerprint(task),
    settings: { item, model: options.model.model, limits: options.limits, more: options.resumeSettings ?? null },
  });
  const stored = options.force ? undefined : store.getCurrent({ kind: KIND, family: task.family, taskId: task.id, item }, contentKey);
  if (stored !== undefined && retry === 0) {
    onEvent?.({ type: "task-skip", family: task.family, taskId: task.id, reason: `${item} finished before; --force to redo` });
    return stored.detail as TaskRunSummary;
  }
  if (retry === 0) onEvent?.({ type: "task-start", family: task.family, taskId: task.id });
  const progress = (message: string): void => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message });
  const warnings: string[] = [];
  // The task's GPUs (contextForTask): its agent sandbox and every grader container get the same.
  const taskContext: GradingContext = contextForTask({
    ...context,
    onProgress: progress,
    onWarning: (message) => {
      if (!warnings.includes(message)) warnings.push(message);
      onEvent?.({ type: "task-warning", family: task.family, taskId: task.id, message });
    },
  }, task);
  const libraryMode = options.libraryMode ?? "on";
  const library =
    options.library && extractor && libraryMode !== "off"
      ? new TaskLibrary(options.library, {
          runId: context.runId,
          taskId: `${task.family}/${task.id}`,
          extractor,
          onWarning: progress,
          ...(options.embedder ? { embedder: options.embedder } : {}),
          ...(context.signal ? { signal: context.signal } : {}),
        })
      : undefined;
  const started = performance.now();
  const trajectoryFile = path.join(options.runDirectory, "trajectories", task.family, task.id, `${item}.jsonl`);
  let outcome: AgentOutcome | undefined;
  let containerSeconds = 0;
  try {
    progress("starting its sandbox");
    const image = module.agentImage ? await module.agentImage(taskContext, task) : context.sandboxImage;
    const sandbox = await options.pool.acquire({
      image,
      runId: context.runId,
      role: "agent",
      ...(taskContext.taskDevices && taskContext.taskDevices.length > 0 ? { deviceRequests: taskContext.taskDevices } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const sandboxStarted = performance.now();
    let submission: unknown;
    try {
      await module.setUpWorkspace(taskContext, task, sandbox);
      if (library) sandbox.setHostCall("search_actions", library.searchHandler());
      // With the library off, a search finds nothing (as in an empty library) rather than failing.
      else if (libraryMode === "off") sandbox.setHostCall("search_actions", async () => []);
      outcome = await runAgent({
        taskId: task.id,
        family: task.family,
        description: module.describe(task),
        sandbox,
        model: options.model,
        limits: options.limits,
        trajectoryFile,
        ...(library ? { library } : {}),
        ...(options.contextTokens !== undefined ? { contextTokens: options.contextTokens } : {}),
        ...(options.replyFormat !== undefined ? { replyFormat: options.replyFormat } : {}),
        ...(module.readOnlyPatterns ? { readOnlyPatterns: module.readOnlyPatterns(task) } : {}),
        ...(onEvent ? { onEvent } : {}),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (outcome.stopReason === "aborted") context.signal?.throwIfAborted();
      // The model or the sandbox failed, not the agent: nothing to grade; an infrastructure error.
      if (outcome.stopReason === "model-error") {
        if (outcome.errorStatus === 401 || outcome.errorStatus === 403) {
          throw new EnvironmentError("DYNABOX_MODEL", `the model endpoint refused the key (HTTP ${outcome.errorStatus}); check --api-key / OPENAI_API_KEY. The run stopped; ${outcome.error ?? ""}`, {
            details: { status: outcome.errorStatus },
          });
        }
        throw new ModelError(outcome.error ?? "the model call failed", { retryable: true, attempts: 1 });
      }
      if (outcome.stopReason === "sandbox-lost") throw new SandboxError("DYNABOX_SANDBOX_LOST", outcome.error ?? "the agent's sandbox was lost", { retryable: true });
      progress("collecting the submission");
      // Nothing the agent started may change the workspace while it is collected.
      await sandbox.stopUserProcesses();
      submission = await module.collectSubmission(taskContext, task, sandbox);
      const notKept = await keepSubmission(options.runDirectory, task.family, task.id, item, submission, task);
      if (notKept) progress(notKept);
    } finally {
      containerSeconds += (performance.now() - sandboxStarted) / 1000;
      await sandbox.dispose();
    }
    progress("grading");
    // The agent's work is done and paid for: an infrastructure error of the grading is retried
    // on the same submission, never by running the agent again.
    const verdict: Verdict = await gradeWithRetries(() => module.grade(taskContext, task, submission), options, progress);
    let settlement: TaskSettlement | undefined;
    // Frozen: the task's candidates are dropped and no use is counted, so the library stays as it was.
    if (libraryMode === "frozen") library?.abandon();
    // A verdict flagged for review promotes nothing (TaskLibrary.finish).
    else settlement = library?.finish({ passed: verdict.passed, ...(verdict.reviewFlags ? { reviewFlags: verdict.reviewFlags } : {}) });
    const summary: TaskRunSummary = {
      id: task.id,
      family: task.family,
      attempt,
      outcome: verdict.passed ? "passed" : "failed",
      score: verdict.score,
      steps: outcome.steps,
      tokens: outcome.promptTokens + outcome.completionTokens,
      cost_usd: outcome.costUsd,
      container_seconds: round(containerSeconds),
      actions_created: settlement?.promotion ? [...new Set(outcome.actionsCreated)] : [],
      actions_used: outcome.actionsUsed,
      stop_reason: outcome.stopReason,
      error: outcome.error,
      upstream: verdict.upstream,
      warnings,
    };
    store.put(KIND, verdict, { item, detail: summary, contentKey });
    const reason = failureReason({ family: task.family, outcome: summary.outcome, upstream: verdict.upstream, stopReason: summary.stop_reason, error: summary.error });
    const notRecorded = await keepVerdict(trajectoryFile, { outcome: summary.outcome, reason, score: verdict.score, passed: verdict.passed, upstream: verdict.upstream });
    if (notRecorded) progress(notRecorded);
    onEvent?.({
      type: "task-end",
      family: task.family,
      taskId: task.id,
      outcome: summary.outcome,
      score: summary.score,
      seconds: (performance.now() - started) / 1000,
      summary: (reason ? `${reason}; ` : "") + `${summary.steps} step(s), ${summary.tokens} tokens, $${summary.cost_usd.toFixed(4)}, stopped: ${summary.stop_reason}` +
        (summary.actions_created.length ? `, new actions: ${summary.actions_created.join(", ")}` : "") +
        (summary.actions_used.length ? `, reused: ${summary.actions_used.join(", ")}` : "") +
        (settlement?.flagged ? ", flagged for review: no action promoted" : ""),
    });
    return summary;
  } catch (error) {
    if (isAbortError(error) || context.signal?.aborted) throw error;
    // A refused key fails every task alike: the run stops (exit 3) rather than erroring each one.
    if (error instanceof EnvironmentError && error.code === "DYNABOX_MODEL") {
      library?.abandon();
      throw error;
    }
    // runWithRetries decides: another try, or a stored error (never graded, never counted).
    library?.abandon();
    const failure = classifyFailure(error instanceof GradingFailed ? error.failure : error);
    const message = failure.reason;
    // The trajectory (when the agent got as far as writing one) says how the attempt ended.
    await keepVerdict(trajectoryFile, { outcome: "error", reason: failureReason({ family: task.family, outcome: "error", upstream: null, stopReason: outcome?.stopReason ?? null, error: message }), score: null, passed: false, upstream: null });
    return {
      id: task.id,
      family: task.family,
      attempt,
      outcome: "error",
      score: null,
      steps: outcome?.steps ?? 0,
      tokens: outcome ? outcome.promptTokens + outcome.completionTokens : 0,
      cost_usd: outcome?.costUsd ?? 0,
      container_seconds: round(containerSeconds),
      actions_created: [],
      actions_used: outcome?.actionsUsed ?? [],
      stop_reason: outcome?.stopReason ?? null,
      error: message,
      upstream: null,
      warnings,
      error_kind: failure.kind,
      reason: message,
      seconds_spent: (performance.now() - started) / 1000,
      // Grading was retried already: running the agent again would not help it.
      ...(error instanceof GradingFailed ? { retries: Math.max(0, options.infrastructureRetries ?? 2) } : {}),
      // A runtime the engine lacks (gVisor, the NVIDIA toolkit for --gpus) does not appear by retrying.
      ...(failure.code === "DYNABOX_RUNTIME_MISSING" ? { retries: 0 } : {}),
    };
  }
}

/** Thrown when grading kept failing: the attempt is an error at once, without running the agent again. */
class GradingFailed extends Error {
  constructor(readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

async function gradeWithRetries(grade: () => Promise<Verdict>, options: AgentRunOptions, progress: (message: string) => void): Promise<Verdict> {
  const { context } = options;
  const maxRetries = Math.max(0, options.infrastructureRetries ?? 2);
  for (let retry = 0; ; retry++) {
    try {
      return await grade();
    } catch (error) {
      if (isAbortError(error) || context.signal?.aborted) throw error;
      const failure = classifyFailure(error);
      if (!isInfrastructureKind(failure.kind) || retry >= maxRetries) throw new GradingFailed(error);
      progress(`grading failed (${failure.kind}: ${failure.reason}); grading again`);
      if (failure.kind === "engine" || failure.kind === "sandbox-lost") {
        try {
          await waitForEngine(context.docker, { limitMs: options.engineWaitMs ?? 60_000, ...(context.signal ? { signal: context.signal } : {}), onWaiting: progress });
        } catch (waitError) {
          if (isAbortError(waitError) || context.signal?.aborted) throw waitError;
          throw new GradingFailed(error);
        }
      }
      await sleep((options.retryDelayMs ?? 5_000) * 2 ** retry, undefined, context.signal ? { signal: context.signal } : undefined);
    }
  }
}

/** Per family: the upstream headline metric over tasks (a task passes when any attempt passed). */
export function familyTables(summaries: readonly TaskRunSummary[]): Record<string, unknown>[] {
  const families = [...new Set(summaries.map((summary) => summary.family))].sort();
  return families.map((family) => {
    const ofFamily = summaries.filter((summary) => summary.family === family);
    // Infrastructure errors are no results: they leave the metrics (and their denominators) alone.
    const withResult = ofFamily.filter((summary) => summary.outcome !== "error");
    const attempts = Math.max(1, ...ofFamily.map((summary) => summary.attempt));
    const familySummary = FAMILY_SUMMARIES[family];
    if (familySummary.attemptsTable !== undefined) {
      return {
        ...familySummary.attemptsTable(withResult),
        // Tasks with no result: every attempt ended in an error.
        errors: new Set(ofFamily.map((summary) => summary.id)).size - new Set(ofFamily.filter((summary) => summary.outcome !== "error").map((summary) => summary.id)).size,
        tokens: ofFamily.reduce((sum, summary) => sum + summary.tokens, 0),
        cost_usd: round(ofFamily.reduce((sum, summary) => sum + summary.cost_usd, 0), 6),
      };
    }
    const byTask = new Map<string, TaskRunSummary>();
    for (const summary of withResult) {
      const best = byTask.get(summary.id);
      if (best === undefined || rank(summary) > rank(best)) byTask.set(summary.id, summary);
    }
    const verdicts: Verdict[] = [...byTask.values()].map((summary) => ({
      taskId: summary.id,
      family,
      passed: summary.outcome === "passed",
      score: summary.score,
      upstream: summary.upstream ?? {},
      seconds: 0,
    }));
    const summary = familySummary.summarize(verdicts, byTask.size);
    const table = familySummary.labelForAttempts?.(summary, attempts) ?? summary;
    return {
      ...table,
      attempts,
      errors: new Set(ofFamily.map((summary) => summary.id)).size - byTask.size,
      warnings: ofFamily.reduce((sum, summary) => sum + (summary.warnings?.length ?? 0), 0),
      tokens: ofFamily.reduce((sum, summary) => sum + summary.tokens, 0),
      cost_usd: round(ofFamily.reduce((sum, summary) => sum + summary.cost_usd, 0), 6),
    };
  });
}

/** The best attempt: passed, then valid (sab), then cheaper, as ScienceAgentBench picks. */
function rank(summary: TaskRunSummary): number {
  const passed = summary.outcome === "passed" ? 2 : 0;
  const valid = Number(summary.upstream?.valid_program ?? 0);
  return passed * 10 + valid - summary.cost_usd / 1e6;
}

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
