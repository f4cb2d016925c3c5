// One model call of the loop, sized to the context budget: plan the request to fit, send it, and
// when the server still answers "context length exceeded" (its template or tokenizer counts more
// than ours), lower the budget for the rest of the task and try once more before giving up.

import { promptBudget, type ContextPlan } from "./context-budget.js";
import type { Conversation } from "./conversation.js";
import { ModelError, THOUGHT_CODE_RESPONSE_FORMAT, type Completion, type CompletionRequest, type ModelClient } from "./model-client.js";
import { AGENT_TOOLS, type ReplyFormatChoice } from "./tool-replies.js";
import type { TokenCounter } from "./tokens.js";

/** The budget of one task; `budgetTokens` only ever goes down (after an overflow). */
export interface ContextBudget {
  windowTokens: number;
  budgetTokens: number;
  counter: TokenCounter;
}

export function createContextBudget(windowTokens: number, counter: TokenCounter, maxOutputTokens?: number): ContextBudget {
  return { windowTokens, budgetTokens: promptBudget(windowTokens, maxOutputTokens), counter };
}

export interface ModelTurn {
  completion: Completion;
  plan: ContextPlan;
  /** The budget was lowered and the request sent again after the server's overflow error. */
  overflowRetry: boolean;
}

/** The parts of a request besides messages that cost tokens, for the format the client will send. */
function requestExtras(model: ModelClient, format: ReplyFormatChoice): unknown[] {
  if (format === "tool" || (format === "auto" && model.toolsSupported)) return [AGENT_TOOLS];
  if ((format === "json" || format === "auto") && model.structuredOutputSupported) return [THOUGHT_CODE_RESPONSE_FORMAT];
  return [];
}

/** Thrown when even the system prompt and the task do not fit: no request could work. */
function tooSmall(plan: ContextPlan, budget: ContextBudget): ModelError {
  return new ModelError(
    `the system prompt and the task need ${plan.tokens} tokens, more than the ${plan.budgetTokens}-token prompt budget of a ${budget.windowTokens}-token context; raise --context-tokens (the model's window)`,
    { retryable: false, attempts: 0 },
  );
}

export async function completeWithinBudget(
  model: ModelClient,
  conversation: Conversation,
  budget: ContextBudget,
  format: ReplyFormatChoice,
  signal?: AbortSignal,
  onRetry?: CompletionRequest["onRetry"],
): Promise<ModelTurn> {
  const count = (text: string): number => budget.counter.count(text);
  let plan = conversation.plan(budget.budgetTokens, count, requestExtras(model, format));
  if (!plan.fits) throw tooSmall(plan, budget);
  let overflowRetry = false;
  for (;;) {
    try {
      const completion = await model.complete({ messages: plan.messages, replyFormat: format, ...(signal ? { signal } : {}), ...(onRetry ? { onRetry } : {}) });
      if (completion.usageReported) budget.counter.calibrate(plan.tokens, completion.usage.promptTokens);
      return { completion, plan, overflowRetry };
    } catch (error) {
      if (!(error instanceof ModelError) || !error.contextExceeded || overflowRetry) throw error;
      overflowRetry = true;
      // Below what was just refused, and below the window the server named, if it named one.
      const named = error.contextWindow === undefined ? Number.POSITIVE_INFINITY : promptBudget(error.contextWindow);
      budget.budgetTokens = Math.max(1, Math.floor(Math.min(named, plan.tokens * 0.75, budget.budgetTokens * 0.75)));
      plan = conversation.plan(budget.budgetTokens, count, requestExtras(model, format));
      if (!plan.fits) throw tooSmall(plan, budget);
    }
  }
}
