// The DynaSaur loop: each step the model writes a thought and Python code, the code runs in the
// task's sandbox kernel, and what happened goes back as the next message. Errors the model can
// fix are observations; only a lost sandbox, an abort or a model that keeps failing end a task
// early. Functions from steps that ran without error become action candidates.

import { DynaboxError, isAbortError } from "../errors.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import { chooseContextWindow } from "./context-window.js";
import { Conversation } from "./conversation.js";
import type { ChatMessage, ModelClient } from "./model-client.js";
import { completeWithinBudget, createContextBudget } from "./model-turn.js";
import { formatObservation, middleCut } from "./observation.js";
import { limitMessage, systemPrompt, taskPrompt, type OfferedAction } from "./prompts.js";
import { tokenCounterFor, type TokenCounter } from "./tokens.js";
import { parseToolReply, toolAnswers, type ReplyFormatChoice } from "./tool-replies.js";
import { TrajectoryWriter, TRAJECTORY_SCHEMA_VERSION } from "./trajectory.js";

export interface AgentLimits {
  maxSteps: number;
  wallSeconds: number;
  stepTimeoutSeconds: number;
  /** Prompt + completion tokens over the whole task; unlimited when absent. */
  maxTokens?: number;
  /** Dollars over the whole task; unlimited when absent. */
  maxCostUsd?: number;
}

export const DEFAULT_AGENT_LIMITS: AgentLimits = { maxSteps: 30, wallSeconds: 1800, stepTimeoutSeconds: 300 };

/**
 * What the loop needs of the action library; the runner adapts the real one. Nothing here reads
 * the agent's kernel state: the library sees the cells the host sent and the results it got.
 */
export interface AgentLibrary {
  /** Defines actions relevant to the task in a fresh kernel; returns those really defined (failures are reported, not thrown). */
  load(sandbox: Sandbox, query: string, limit: number): Promise<OfferedAction[]>;
  /** Defines them again after the kernel restarted. */
  reload(sandbox: Sandbox): Promise<void>;
  /** Takes note of a cell the agent ran and how it ended; returns the names of new candidates. */
  recordStep(code: string, step: number, result: { ok: boolean }): Promise<string[]>;
  /** Which library actions the task's cells used, with the number of cells. */
  usage(): Record<string, number>;
}

export type StopReason =
  | "submitted"
  | "max-steps"
  | "wall-time"
  | "tokens"
  | "cost"
  | "aborted"
  | "sandbox-lost"
  | "model-error";

export type AgentEvent =
  | { type: "step-start"; taskId: string; step: number }
  | {
      type: "step-end";
      taskId: string;
      step: number;
      ok: boolean | null;
      promptTokens: number;
      completionTokens: number;
      costUsd: number;
      totalCostUsd: number;
    }
  | { type: "limit-reached"; taskId: string; limit: string }
  /** A model call of this step failed and is tried again after `delayMs`. */
  | { type: "model-retry"; taskId: string; step: number; attempt: number; delayMs: number; status: number | undefined; message: string };

export interface AgentInput {
  taskId: string;
  family: string;
  /** The task's prompt (the family's `describe`). */
  description: string;
  sandbox: Sandbox;
  model: ModelClient;
  limits: AgentLimits;
  trajectoryFile: string;
  library?: AgentLibrary;
  /** Patterns of files the agent may not write (mlab's read_only_files). */
  readOnlyPatterns?: string[];
  retrieveLimit?: number;
  /** The model's context window in tokens (default: chooseContextWindow's table, else 8,192). */
  contextTokens?: number;
  /** Counts tokens for the budget (default: the model's tokenizer, else the estimate). */
  tokenCounter?: TokenCounter;
  /** The reply cap the client sends (`max_tokens`), so the budget leaves room for it. */
  maxOutputTokens?: number;
  /** How replies are asked for (default `json`: structured output, falling back to fenced text). */
  replyFormat?: ReplyFormatChoice;
  onEvent?: (event: AgentEvent) => void;
  signal?: AbortSignal;
}

export interface AgentOutcome {
  stopReason: StopReason;
  submitted: boolean;
  answer: unknown;
  steps: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  seconds: number;
  actionsOffered: string[];
  actionsCreated: string[];
  actionsUsed: string[];
  error: string | null;
  /** The HTTP status of the model error that ended the task (401/403 stop a whole run). */
  errorStatus?: number;
}

/** The cell that defines the initial actions and the task's read-only files in a fresh kernel. */
function initialActionsCode(readOnlyPatterns: readonly string[]): string {
  return [
    "import dynabox_actions as _dynabox_actions",
    `_dynabox_actions.configure(${JSON.stringify(readOnlyPatterns)})`,
    "from dynabox_actions import *",
    "del _dynabox_actions",
  ].join("\n");
}

/**
 * Sets up the kernel: initial actions, the task's read-only files, and retrieved library
 * actions. Returns the offered actions and a function that does the same again after the
 * kernel restarts (a timeout the code ignored, running out of memory).
 */
async function prepareKernel(input: AgentInput): Promise<{ offered: OfferedAction[]; redefine: () => Promise<void> }> {
  const setupCode = initialActionsCode(input.readOnlyPatterns ?? []);
  // Library actions first, initial actions after: whatever the library's cell did (even kill
  // the kernel), the initial actions are defined last and always there.
  const offered = input.library !== undefined ? await input.library.load(input.sandbox, input.description, input.retrieveLimit ?? 5) : [];
  const setup = await input.sandbox.exec(setupCode, { timeoutSeconds: 30 });
  if (!setup.ok) throw new DynaboxError("DYNABOX_INTERNAL", `could not set up the agent's actions: ${setup.error?.message}`);
  const redefine = async (): Promise<void> => {
    await input.library?.reload(input.sandbox);
    await input.sandbox.exec(setupCode, { timeoutSeconds: 30 });
  };
  return { offered, redefine };
}

export async function runAgent(input: AgentInput): Promise<AgentOutcome> {
  const started = performance.now();
  const { limits, sandbox, model, signal } = input;
  const trajectory = new TrajectoryWriter(input.trajectoryFile);
  trajectory.write({
    type: "header",
    schema_version: TRAJECTORY_SCHEMA_VERSION,
    task: input.taskId,
    family: input.family,
    model: model.model,
    started_at: new Date().toISOString(),
    limits: { ...limits },
  });
  const outcome: AgentOutcome = {
    stopReason: "max-steps",
    submitted: false,
    answer: null,
    steps: 0,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    seconds: 0,
    actionsOffered: [],
    actionsCreated: [],
    actionsUsed: [],
    error: null,
  };

  const { offered, redefine } = await prepareKernel(input);
  outcome.actionsOffered = offered.map((action) => action.name);
  const conversation = new Conversation([
    { role: "system", content: systemPrompt(limits) },
    { role: "user", content: taskPrompt(input.description, offered) },
  ]);
  const replyFormat = input.replyFormat ?? "json";
  const budget = createContextBudget(
    input.contextTokens ?? chooseContextWindow(model.model, undefined, undefined).tokens,
    input.tokenCounter ?? tokenCounterFor(model.model),
    input.maxOutputTokens,
  );
  let finalStep = false;
  const toldLimits = new Set<string>();

  const reachedLimit = (): string | undefined => {
    if (outcome.steps >= limits.maxSteps - 1 && !toldLimits.has("step")) return "step";
    if ((performance.now() - started) / 1000 >= limits.wallSeconds) return "wall-time";
    if (limits.maxTokens !== undefined && outcome.promptTokens + outcome.completionTokens >= limits.maxTokens) return "token";
    if (limits.maxCostUsd !== undefined && outcome.costUsd >= limits.maxCostUsd) return "cost";
    return undefined;
  };
  const stopReasonFor = (limit: string): StopReason =>
    limit === "step" ? "max-steps" : limit === "wall-time" ? "wall-time" : limit === "token" ? "tokens" : "cost";

  try {
    while (outcome.steps < limits.maxSteps) {
      signal?.throwIfAborted();
      const limit = reachedLimit();
      if (limit !== undefined) {
        if (finalStep || toldLimits.has(limit)) {
          outcome.stopReason = stopReasonFor(limit);
          break;
        }
        // Told once, with one last step to submit; then stopped.
        toldLimits.add(limit);
        finalStep = true;
        conversation.addNotice(limitMessage(limit === "step" ? "step" : limit));
        input.onEvent?.({ type: "limit-reached", taskId: input.taskId, limit });
      }
      const step = outcome.steps + 1;
      input.onEvent?.({ type: "step-start", taskId: input.taskId, step });
      const newMessages = conversation.takeNewMessages();
      let turn;
      // The wall time bounds model calls too: a hung endpoint can not hold a task past it. The
      // last step after the wall-time notice gets one step's time to answer.
      const remainingMs = limits.wallSeconds * 1000 - (performance.now() - started);
      const deadline = AbortSignal.timeout(Math.max(1, Math.round(finalStep ? Math.max(remainingMs, limits.stepTimeoutSeconds * 1000) : remainingMs)));
      const callSignal = signal ? AbortSignal.any([signal, deadline]) : deadline;
      const onRetry = (retry: { attempt: number; delayMs: number; status: number | undefined; message: string }): void => {
        trajectory.write({ type: "model-retry", step, attempt: retry.attempt, delay_ms: Math.round(retry.delayMs), status: retry.status ?? null, message: retry.message });
        input.onEvent?.({ type: "model-retry", taskId: input.taskId, step, ...retry });
      };
      try {
        turn = await completeWithinBudget(model, conversation, budget, replyFormat, callSignal, onRetry);
      } catch (error) {
        if (deadline.aborted && !signal?.aborted) {
          outcome.stopReason = "model-error";
          outcome.error = `the model endpoint did not answer within the task's wall time (${limits.wallSeconds} s)`;
          break;
        }
        if (isAbortError(error)) throw error;
        outcome.stopReason = "model-error";
        outcome.error = error instanceof Error ? error.message : String(error);
        const status = DynaboxError.isInstance(error) ? error.details.status : undefined;
        if (typeof status === "number") outcome.errorStatus = status;
        break;
      }
      const { completion, plan } = turn;
      outcome.steps = step;
      outcome.promptTokens += completion.usage.promptTokens;
      outcome.completionTokens += completion.usage.completionTokens;
      outcome.costUsd += completion.costUsd;
      const parsed = parseToolReply(completion.content, completion.toolCalls, completion.sentFormat === "tool");
      const reply: ChatMessage = { role: "assistant", content: completion.content };
      if (completion.toolCalls.length > 0) reply.tool_calls = completion.toolCalls;

      let observation: string;
      let ok: boolean | null = null;
      let execMs: number | null = null;
      let resources: { cpu_ms: number | null; peak_mem_mb: number | null; output_bytes: number; timed_out: boolean; oom: boolean } | undefined;
      let submitted = false;
      if (!parsed.ok) {
        observation = parsed.correctiveMessage;
      } else {
        const result = await sandbox.exec(parsed.value.code, {
          timeoutSeconds: limits.stepTimeoutSeconds,
          ...(signal ? { signal } : {}),
        });
        ok = result.ok;
        execMs = result.wallMs;
        resources = { cpu_ms: result.cpuMs, peak_mem_mb: result.peakMemMb, output_bytes: result.stdoutBytes + result.stderrBytes, timed_out: result.timedOut, oom: result.oom };
        observation = formatObservation(result);
        if (result.kernelRestarted) {
          await redefine();
          observation += "\n[note] the initial actions and the library's functions were defined again";
        }
        const submission = result.events.find((event) => event.name === "submit");
        if (submission !== undefined) {
          submitted = true;
          outcome.answer = (submission.payload as { answer?: unknown } | null)?.answer ?? null;
        }
        if (input.library !== undefined) {
          const names = await input.library.recordStep(parsed.value.code, step, result);
          for (const name of names) if (!outcome.actionsCreated.includes(name)) outcome.actionsCreated.push(name);
        }
      }
      const observationMessages: ChatMessage[] =
        completion.toolCalls.length > 0 ? toolAnswers(completion.toolCalls, `Observation:\n${observation}`) : [{ role: "user", content: `Observation:\n${observation}` }];
      conversation.addStep(step, reply, observationMessages, parsed.ok ? parsed.value.code : null, ok);
      trajectory.write({
        type: "step",
        step,
        new_messages: newMessages,
        reply: completion.content,
        ...(completion.toolCalls.length > 0 ? { tool_calls: completion.toolCalls } : {}),
        reply_format: completion.sentFormat,
        context: {
          window_tokens: budget.windowTokens,
          budget_tokens: plan.budgetTokens,
          request_tokens: plan.tokens,
          encoding: budget.counter.encoding,
          shortened: plan.shortened,
          one_line: plan.oneLine,
          folded: plan.folded,
          note: plan.note,
          overflow_retry: turn.overflowRetry,
        },
        thought: parsed.ok ? parsed.value.thought : null,
        code: parsed.ok ? parsed.value.code : null,
        parse_error: parsed.ok ? null : parsed.reason,
        observation: middleCut(observation, 50_000),
        ok,
        model_ms: completion.latencyMs,
        exec_ms: execMs,
        prompt_tokens: completion.usage.promptTokens,
        completion_tokens: completion.usage.completionTokens,
        cost_usd: completion.costUsd,
        attempts: completion.attempts,
        ...(resources ? { resources } : {}),
      });
      input.onEvent?.({
        type: "step-end",
        taskId: input.taskId,
        step,
        ok,
        promptTokens: completion.usage.promptTokens,
        completionTokens: completion.usage.completionTokens,
        costUsd: completion.costUsd,
        totalCostUsd: outcome.costUsd,
      });
      if (submitted) {
        outcome.submitted = true;
        outcome.stopReason = "submitted";
        break;
      }
      if (finalStep) {
        outcome.stopReason = stopReasonFor([...toldLimits].pop() ?? "step");
        break;
      }
    }
  } catch (error) {
    if (isAbortError(error)) outcome.stopReason = "aborted";
    else if (DynaboxError.isInstance(error) && error.code === "DYNABOX_SANDBOX_LOST") outcome.stopReason = "sandbox-lost";
    else throw error;
    outcome.error = error instanceof Error ? error.message : String(error);
  }
  if (input.library !== undefined) outcome.actionsUsed = Object.keys(input.library.usage());
  outcome.seconds = (performance.now() - started) / 1000;
  trajectory.write({
    type: "end",
    stop_reason: outcome.stopReason,
    steps: outcome.steps,
    prompt_tokens: outcome.promptTokens,
    completion_tokens: outcome.completionTokens,
    cost_usd: outcome.costUsd,
    seconds: outcome.seconds,
  });
  return outcome;
}
