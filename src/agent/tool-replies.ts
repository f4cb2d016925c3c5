// Replies as tool calls: the model gets a `python` tool (its code runs in the kernel) and a
// `submit` tool through the Chat Completions tools API, which Qwen, Llama 3.x and GPT models are
// tuned to call. A reply's first call is the step; any further calls are answered "not run", as
// the API needs an answer for every call. A reply without tool calls is read as text, the way
// the JSON and fenced formats are, so a model that ignores the tools still works.

import { parseReply, type ReplyParseFailureReason, type ThoughtCode } from "./reply-parser.js";

/** How the agent asks for replies: `auto` tries tools, then JSON, then fenced blocks, as the endpoint allows. */
export const REPLY_FORMATS = ["json", "fenced", "tool", "auto"] as const;
export type ReplyFormatChoice = (typeof REPLY_FORMATS)[number];

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export const PYTHON_TOOL = {
  type: "function",
  function: {
    name: "python",
    description:
      "Run Python code in the task's persistent kernel (variables, imports and functions stay defined between calls). Returns what it printed, the value of its last expression and any error.",
    parameters: {
      type: "object",
      properties: {
        thought: { type: "string", description: "Your short reasoning about what to do next." },
        code: { type: "string", description: "The Python code to run." },
      },
      required: ["code"],
    },
  },
} as const;

export const SUBMIT_TOOL = {
  type: "function",
  function: {
    name: "submit",
    description: "End the task. For tasks graded on files, the workspace as it is now is what gets graded; give an answer only when the task asks for one.",
    parameters: {
      type: "object",
      properties: { answer: { type: "string", description: "The answer, when the task asks for one." } },
      required: [],
    },
  },
} as const;

export const AGENT_TOOLS = [PYTHON_TOOL, SUBMIT_TOOL];

export type ToolReplyResult =
  | { ok: true; value: ThoughtCode; format: "tool" | "json" | "fenced" }
  | { ok: false; reason: ReplyParseFailureReason | "unknown_tool"; correctiveMessage: string };

const TOOL_HINT = "Call the python tool with your code (or the submit tool to finish).";

/** A Python string literal holding `text` (JSON's escapes are all valid in Python). */
function pythonString(text: string): string {
  return JSON.stringify(text);
}

function parseArguments(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text === "" ? "{}" : text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tool calls written into the text, as Qwen and Hermes-style templates do when the server does not
 * parse them (`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`); none when there are none.
 */
export function toolCallsInText(content: string): ToolCall[] {
  const calls: ToolCall[] = [];
  const pattern = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(content)) !== null) {
    try {
      const value = JSON.parse(match[1] ?? "") as { name?: unknown; arguments?: unknown };
      if (typeof value.name !== "string") continue;
      const args = typeof value.arguments === "string" ? value.arguments : JSON.stringify(value.arguments ?? {});
      calls.push({ id: `text_call_${calls.length}`, type: "function", function: { name: value.name, arguments: args } });
    } catch {
      // Not JSON: not a call; the text is read as a reply below.
    }
  }
  return calls;
}

/**
 * The step a reply asks for: its first tool call, or else its text read as JSON or a fenced
 * block. `toolsOffered`: the request offered tools, so `<tool_call>` blocks in the text count too.
 */
export function parseToolReply(content: string, toolCalls: readonly ToolCall[], toolsOffered = false): ToolReplyResult {
  const call = toolCalls[0] ?? (toolsOffered ? toolCallsInText(content)[0] : undefined);
  if (call === undefined) return parseReply(content);
  const args = parseArguments(call.function.arguments);
  if (args === undefined) {
    return { ok: false, reason: "invalid_json", correctiveMessage: `The arguments of your ${call.function.name} call were not a JSON object, so nothing was executed. ${TOOL_HINT}` };
  }
  const thought = typeof args.thought === "string" ? args.thought.trim() : content.replace(/<tool_call>[\s\S]*?<\/tool_call>/g, "").trim();
  if (call.function.name === "python") {
    const code = typeof args.code === "string" ? args.code : "";
    if (code.trim() === "") {
      return { ok: false, reason: "empty_code", correctiveMessage: `Your python call had no code, so nothing was executed. ${TOOL_HINT}` };
    }
    return { ok: true, value: { thought, code }, format: "tool" };
  }
  if (call.function.name === "submit") {
    const answer = args.answer;
    const code = answer === undefined || answer === null ? "submit()" : `submit(${pythonString(typeof answer === "string" ? answer : JSON.stringify(answer))})`;
    return { ok: true, value: { thought, code }, format: "tool" };
  }
  return {
    ok: false,
    reason: "unknown_tool",
    correctiveMessage: `There is no tool named ${JSON.stringify(call.function.name)}; the tools are python and submit. ${TOOL_HINT}`,
  };
}

/** The tool messages answering a reply's calls: the first gets the observation, the rest say they did not run. */
export function toolAnswers(toolCalls: readonly ToolCall[], observation: string): { role: "tool"; tool_call_id: string; content: string }[] {
  return toolCalls.map((call, index) => ({
    role: "tool" as const,
    tool_call_id: call.id,
    content: index === 0 ? observation : "Not run: one tool call runs per step; call it again in your next reply if you still need it.",
  }));
}
