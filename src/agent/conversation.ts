// The agent's conversation kept as steps, so each request can be planned to fit the context
// budget (context-budget.ts) while the trajectory still records every message as it was made.

import { planContext, type ContextPlan, type HistoryStep } from "./context-budget.js";
import type { ChatMessage } from "./model-client.js";

export class Conversation {
  private readonly steps: HistoryStep[] = [];
  /** Messages after the last step (a limit notice): they open the next step. */
  private pending: ChatMessage[] = [];
  /** Every message in order, whole, and how many of them earlier requests covered. */
  private readonly all: ChatMessage[] = [];
  private recordedUpTo = 0;

  constructor(private readonly head: ChatMessage[]) {
    this.all.push(...head);
  }

  /** A user message that is not an observation (a limit notice); sent whole. */
  addNotice(content: string): void {
    const message: ChatMessage = { role: "user", content };
    this.pending.push(message);
    this.all.push(message);
  }

  /** A finished step: the model's reply and what went back. */
  addStep(step: number, reply: ChatMessage, observations: ChatMessage[], code: string | null, ok: boolean | null): void {
    this.steps.push({ step, messages: [...this.pending, reply, ...observations], code, ok });
    this.pending = [];
    this.all.push(reply, ...observations);
  }

  /** The request's messages, planned to fit `budgetTokens`. */
  plan(budgetTokens: number, count: (text: string) => number, extras: readonly unknown[]): ContextPlan {
    return planContext({ head: this.head, steps: this.steps, tail: this.pending, budgetTokens, count, extras });
  }

  /** The messages added since the last call (whole, as made), for the trajectory. */
  takeNewMessages(): ChatMessage[] {
    const fresh = this.all.slice(this.recordedUpTo);
    this.recordedUpTo = this.all.length;
    return fresh;
  }
}
