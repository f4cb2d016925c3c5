// `dynabox run`: for each task (and attempt) a sandbox, the agent, then the family's grader in a
// fresh container; the action library learns from tasks that passed. One row per finished
// attempt in the results store, so a rerun resumes where a crash or Ctrl-C left off.

import path from "node:path";
import type { ActionStore } from "../actions/store.js";
import { ActionExtractor } from "../actions/extractor.js";
import { TaskLibrary } from "../actions/promote.js";
import type { Embedder } from "../actions/retrieve.js";
import { runAgent, type AgentLimits, type AgentOutcome } from "../agent/loop.js";
import type { ModelClient } from "../agent/model-client.js";
import { isAbortError } from "../errors.js";
import type { GradingContext } from "../grading/context.js";
import type { SandboxPool } from "../sandbox/pool.js";
import type { DiscoveredTask } from "../tasks/registry.js";
import type { Family, Verdict } from "../tasks/types.js";
import { failureReason } from "../report/reason.js";
import { keepSubmission } from "../report/submission-file.js";
import { keepVerdict } from "../report/trajectory-verdict.js";
import { mapConcurrent } from "./concurrency.js";
import { summarize } from "./evaluate.js";
import type { RunEventListener } from "./events.js";
import { sabRunTable } from "./sab-attempts.js";
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
  /** Fuses embedding similarity with BM25 when retrieving actions. */
  embedder?: Embedder;
  force?: boolean;
  onEvent?: RunEventListener;
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
}

const KIND = "run";

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
  return await mapConcurrent(attempts, options.concurrency, (attempt) => runOne(attempt, options, extractor), options.context.signal);
}

async function runOne({ discovered, attempt }: Attempt, options: AgentRunOptions, extractor: ActionExtractor | undefined): Promise<TaskRunSummary> {
  const { task, module } = discovered;
  const { context, store, onEvent } = options;
  const item = `attempt-${attempt}`;
  const stored = options.force ? undefined : store.get({ kind: KIND, family: task.family, taskId: task.id, item });
  if (stored !== undefined) {
    onEvent?.({ type: "task-skip", family: task.family, taskId: task.id, reason: `${item} finished before; --force to redo` });
    return stored.detail as TaskRunSummary;
  }
  onEvent?.({ type: "task-start", family: task.family, taskId: task.id });
  const progress = (message: string): void => onEvent?.({ type: "task-progress", family: task.family, taskId: task.id, message });
  const taskContext: GradingContext = { ...context, onProgress: progress };
  const library =
    options.library && extractor
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
    const sandbox = await options.pool.acquire({ image, runId: context.runId, role: "agent", ...(context.signal ? { signal: context.signal } : {}) });
    const sandboxStarted = performance.now();
    let submission: unknown;
    try {
      await module.setUpWorkspace(taskContext, task, sandbox);
      if (library) sandbox.setHostCall("search_actions", library.searchHandler());
      outcome = await runAgent({
        taskId: task.id,
        family: task.family,
        description: module.describe(task),
        sandbox,
        model: options.model,
        limits: options.limits,
        trajectoryFile,
        ...(library ? { library } : {}),
        ...(module.readOnlyPatterns ? { readOnlyPatterns: module.readOnlyPatterns(task) } : {}),
        ...(onEvent ? { onEvent } : {}),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (outcome.stopReason === "aborted") context.signal?.throwIfAborted();
      progress("collecting the submission");
      submission = await module.collectSubmission(taskContext, task, sandbox);
      const notKept = await keepSubmission(options.runDirectory, task.family, task.id, item, submission, task);
      if (notKept) progress(notKept);
    } finally {
      containerSeconds += (performance.now() - sandboxStarted) / 1000;
      await sandbox.dispose();
    }
    progress("grading");
    const verdict: Verdict = await module.grade(taskContext, task, submission);
    // A verdict flagged for review promotes nothing (TaskLibrary.finish).
    const settlement = library?.finish({ passed: verdict.passed, ...(verdict.reviewFlags ? { reviewFlags: verdict.reviewFlags } : {}) });
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
    };
    store.put(KIND, verdict, { item, detail: summary });
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
    // Not stored: an error is not a final result, so the next run tries the task again.
    library?.abandon();
    const message = error instanceof Error ? error.message : String(error);
    // The trajectory (when the agent got as far as writing one) says how the attempt ended.
    await keepVerdict(trajectoryFile, { outcome: "error", reason: failureReason({ family: task.family, outcome: "error", upstream: null, stopReason: outcome?.stopReason ?? null, error: message }), score: null, passed: false, upstream: null });
    onEvent?.({ type: "task-end", family: task.family, taskId: task.id, outcome: "error", score: null, seconds: (performance.now() - started) / 1000, summary: message });
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
    };
  }
}

/** Per family: the upstream headline metric over tasks (a task passes when any attempt passed). */
export function familyTables(summaries: readonly TaskRunSummary[]): Record<string, unknown>[] {
  const families = [...new Set(summaries.map((summary) => summary.family))].sort();
  return families.map((family) => {
    const ofFamily = summaries.filter((summary) => summary.family === family);
    if (family === "sab") {
      return {
        ...sabRunTable(ofFamily),
        // Tasks with no result: every attempt ended in an error.
        errors: new Set(ofFamily.map((summary) => summary.id)).size - new Set(ofFamily.filter((summary) => summary.outcome !== "error").map((summary) => summary.id)).size,
        tokens: ofFamily.reduce((sum, summary) => sum + summary.tokens, 0),
        cost_usd: round(ofFamily.reduce((sum, summary) => sum + summary.cost_usd, 0), 6),
      };
    }
    const byTask = new Map<string, TaskRunSummary>();
    for (const summary of ofFamily) {
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
    return {
      ...summarize(family, verdicts, byTask.size),
      errors: [...byTask.values()].filter((summary) => summary.outcome === "error").length,
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
