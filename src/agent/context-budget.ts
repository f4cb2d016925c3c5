// The context budget: which form of the conversation to send so the request fits the model's
// window. A pure function of the history and a token counter, so it is tested without a model.
//
// The system prompt and the task always go whole (without them the model can not work), and so
// do messages after the last step (a limit notice). Steps degrade oldest first, in passes, until
// the request fits:
//   1. the observations of steps older than the newest few are cut to their head and tail;
//   2. those observations become one line each (and long replies are cut to head and tail);
//   3. the oldest steps are folded into a note, appended to the task message, saying what each
//      did (its first line of code, whether it ran);
//   4. only then the newest steps degrade the same way, the very last step last (it holds the
//      observation the model is about to act on).
// The plan records which steps were shortened, cut to one line or folded, for the trajectory.

import { middleCut } from "./observation.js";
import { messageTokens, REPLY_PRIMING_TOKENS } from "./tokens.js";

export interface PlanToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface PlanMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  tool_calls?: PlanToolCall[];
  tool_call_id?: string;
}

/** One step of the history: the model's reply and what came back, plus what the fold note says of it. */
export interface HistoryStep {
  step: number;
  /** The assistant message(s), then the observation message(s) (user or tool). */
  messages: PlanMessage[];
  /** The code the step ran; null when the reply had none. */
  code: string | null;
  /** Whether the code ran without an error; null when nothing ran. */
  ok: boolean | null;
}

export interface ContextPlanInput {
  /** The system prompt and the task, sent whole; the fold note is appended to the last one. */
  head: PlanMessage[];
  steps: readonly HistoryStep[];
  /** Messages after the last step (a limit notice), sent whole. */
  tail: PlanMessage[];
  /** The most tokens the request may hold (the window less what the reply needs). */
  budgetTokens: number;
  count: (text: string) => number;
  /** Request parts that cost tokens besides messages (tool definitions, a response schema). */
  extras?: readonly unknown[];
  /** Newest steps kept whole while older ones can still give way (default 3). */
  keepWhole?: number;
  /** Characters an observation keeps when cut to head and tail (default 1,600). */
  shortenCharacters?: number;
}

export type StepForm = "whole" | "shortened" | "one-line" | "folded";

export interface ContextPlan {
  messages: PlanMessage[];
  /** Tokens of the planned request, as `count` measures them. */
  tokens: number;
  budgetTokens: number;
  /** False when even the most folded form is over the budget (the head alone may be). */
  fits: boolean;
  shortened: number[];
  oneLine: number[];
  folded: number[];
  /** The note the folded steps became; null when none were folded. */
  note: string | null;
}

const LEVELS: readonly StepForm[] = ["whole", "shortened", "one-line", "folded"];
/** Folded steps listed one per line in the note; earlier ones are counted in one summary line. */
const NOTE_LISTED_STEPS = 30;

function firstLine(text: string, limit: number): string {
  const line = text.split("\n").find((candidate) => candidate.trim() !== "")?.trim() ?? "";
  return line.length > limit ? `${line.slice(0, limit - 3)}...` : line;
}

function oneLineObservation(text: string, step: number): string {
  const lines = text.split("\n").length;
  const line = firstLine(text.replace(/^Observation:\s*/, ""), 160);
  return `Observation of step ${step} (cut to one line to fit the context; ${lines} lines, ${text.length} characters): ${line}`;
}

function shortenToolArguments(argumentsText: string, characters: number): string {
  try {
    const parsed = JSON.parse(argumentsText) as Record<string, unknown>;
    const shortened = Object.fromEntries(
      Object.entries(parsed).map(([key, value]) => [key, typeof value === "string" ? middleCut(value, characters) : value]),
    );
    return JSON.stringify(shortened);
  } catch {
    return JSON.stringify({ code: middleCut(argumentsText, characters) });
  }
}

// A step's shortened forms, made once: a long task plans its request every step, and the same
// old steps are cut the same way each time (steps do not change once added).
const formCache = new WeakMap<HistoryStep, Map<string, PlanMessage[]>>();

/** A step's messages in a given form (not `folded`, which drops them). */
export function stepMessages(step: HistoryStep, form: StepForm, shortenCharacters: number): PlanMessage[] {
  if (form === "whole" || form === "folded") return form === "whole" ? step.messages : [];
  let forms = formCache.get(step);
  if (forms === undefined) {
    forms = new Map();
    formCache.set(step, forms);
  }
  const key = `${form}:${shortenCharacters}`;
  let messages = forms.get(key);
  if (messages === undefined) {
    messages = shortenStep(step, form, shortenCharacters);
    forms.set(key, messages);
  }
  return messages;
}

function shortenStep(step: HistoryStep, form: "shortened" | "one-line", shortenCharacters: number): PlanMessage[] {
  return step.messages.map((message) => {
    if (message.role === "assistant") {
      if (form !== "one-line") return message;
      const shortened: PlanMessage = { ...message, content: middleCut(message.content, shortenCharacters) };
      if (message.tool_calls !== undefined) {
        shortened.tool_calls = message.tool_calls.map((call) => ({
          ...call,
          function: { ...call.function, arguments: shortenToolArguments(call.function.arguments, shortenCharacters) },
        }));
      }
      return shortened;
    }
    const shortened = middleCut(message.content, shortenCharacters);
    if (form === "shortened") return { ...message, content: shortened };
    const line = oneLineObservation(message.content, step.step);
    // A short observation is already shorter than its one-line description.
    return { ...message, content: line.length < shortened.length ? line : shortened };
  });
}

function describeStep(step: HistoryStep): string {
  if (step.code === null) return `- step ${step.step}: the reply had no code to run`;
  const lines = step.code.split("\n").filter((line) => line.trim() !== "").length;
  const more = lines > 1 ? ` (+${lines - 1} more lines)` : "";
  const result = step.ok === true ? "ran" : step.ok === false ? "failed" : "did not run";
  return `- step ${step.step} ${result}: ${firstLine(step.code, 100)}${more}`;
}

/** The note folded steps become: one line per step, the oldest counted in one line when there are many. */
export function foldNote(folded: readonly HistoryStep[]): string | null {
  if (folded.length === 0) return null;
  const listed = folded.slice(-NOTE_LISTED_STEPS);
  const counted = folded.slice(0, folded.length - listed.length);
  const lines = [`[Steps ${folded[0]?.step}-${folded[folded.length - 1]?.step} were folded to fit the context window. What they did:]`];
  if (counted.length > 0) {
    const failed = counted.filter((step) => step.ok === false).length;
    lines.push(`- steps ${counted[0]?.step}-${counted[counted.length - 1]?.step}: ${counted.length - failed} ran or had no code, ${failed} failed`);
  }
  lines.push(...listed.map(describeStep));
  lines.push("(Variables, functions and files they made still exist in the kernel and the workspace.)");
  return lines.join("\n");
}

function withNote(head: readonly PlanMessage[], note: string | null): PlanMessage[] {
  if (note === null || head.length === 0) return [...head];
  const last = head[head.length - 1] as PlanMessage;
  return [...head.slice(0, -1), { ...last, content: `${last.content}\n\n${note}` }];
}

/** Chooses the form of every step so the request fits `budgetTokens`, degrading the oldest first. */
export function planContext(input: ContextPlanInput): ContextPlan {
  const { steps, count } = input;
  const keepWhole = Math.max(1, input.keepWhole ?? 3);
  const shortenCharacters = input.shortenCharacters ?? 1_600;
  const fixedTokens =
    REPLY_PRIMING_TOKENS +
    input.tail.reduce((sum, message) => sum + messageTokens(message, count), 0) +
    (input.extras ?? []).reduce<number>((sum, extra) => sum + (extra === undefined ? 0 : count(JSON.stringify(extra))), 0);
  const levels = steps.map(() => 0);
  // Token costs per step and form, computed once each, on demand.
  const costs = steps.map(() => new Map<number, number>());
  const stepCost = (index: number, level: number): number => {
    const cached = costs[index]?.get(level);
    if (cached !== undefined) return cached;
    const tokens = stepMessages(steps[index] as HistoryStep, LEVELS[level] as StepForm, shortenCharacters).reduce(
      (sum, message) => sum + messageTokens(message, count),
      0,
    );
    costs[index]?.set(level, tokens);
    return tokens;
  };
  const foldedSteps = (): HistoryStep[] => steps.filter((_, index) => levels[index] === 3);
  const headCost = (): number => withNote(input.head, foldNote(foldedSteps())).reduce((sum, message) => sum + messageTokens(message, count), 0);
  // Kept up to date move by move: the steps' sum changes by one step's difference, and the head
  // (with the note) only when a step is folded.
  let stepsTokens = levels.reduce((sum, level, index) => sum + stepCost(index, level), 0);
  let headTokens = headCost();
  const total = (): number => fixedTokens + headTokens + stepsTokens;

  // The order in which steps give way: older steps through every form, then the newest ones.
  const older = steps.length > keepWhole ? steps.length - keepWhole : 0;
  const moves: [index: number, level: number][] = [];
  for (const level of [1, 2, 3]) for (let index = 0; index < older; index++) moves.push([index, level]);
  for (let index = older; index < steps.length - 1; index++) for (const level of [1, 2, 3]) moves.push([index, level]);
  if (steps.length > 0) moves.push([steps.length - 1, 1], [steps.length - 1, 2]);

  let tokens = total();
  for (const [index, level] of moves) {
    if (tokens <= input.budgetTokens) break;
    const previous = levels[index] ?? 0;
    if (previous >= level) continue;
    levels[index] = level;
    stepsTokens += stepCost(index, level) - stepCost(index, previous);
    if (level === 3) headTokens = headCost();
    tokens = total();
  }

  const note = foldNote(foldedSteps());
  const messages = [
    ...withNote(input.head, note),
    ...steps.flatMap((step, index) => stepMessages(step, LEVELS[levels[index] ?? 0] as StepForm, shortenCharacters)),
    ...input.tail,
  ];
  const numbersAt = (level: number): number[] => steps.filter((_, index) => levels[index] === level).map((step) => step.step);
  return {
    messages,
    tokens,
    budgetTokens: input.budgetTokens,
    fits: tokens <= input.budgetTokens,
    shortened: numbersAt(1),
    oneLine: numbersAt(2),
    folded: numbersAt(3),
    note,
  };
}

/**
 * The prompt budget for a window: what is left after room for the reply (the `max_tokens` asked
 * for, else a quarter of the window up to 4,096 tokens) and a margin of 2 % for templates we do
 * not model exactly.
 */
export function promptBudget(contextTokens: number, maxOutputTokens?: number): number {
  const reply = maxOutputTokens ?? Math.min(4_096, Math.floor(contextTokens / 4));
  return Math.max(0, Math.floor(contextTokens * 0.98) - reply);
}
