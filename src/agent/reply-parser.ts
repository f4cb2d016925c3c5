// Turn a model's reply into {thought, code}. Structured-output replies are JSON; endpoints without
// structured output get a fenced Python block. A reply we can not use is a result with a
// corrective message for the model (it can fix its own formatting), never a throw.

import { z } from "zod";

export const thoughtCodeSchema = z.object({
  thought: z.string(),
  code: z.string(),
});
export type ThoughtCode = z.infer<typeof thoughtCodeSchema>;

/** The JSON schema sent as `response_format` (strict mode needs every key required, no extras). */
export const THOUGHT_CODE_JSON_SCHEMA = {
  type: "object",
  properties: {
    thought: { type: "string", description: "Your reasoning about what to do next." },
    code: { type: "string", description: "Python code to run in the kernel." },
  },
  required: ["thought", "code"],
  additionalProperties: false,
} as const;

export type ReplyFormat = "json" | "fenced";

export type ReplyParseFailureReason = "no_code" | "empty_code" | "unclosed_fence" | "invalid_json";

export type ReplyParseResult =
  | { ok: true; value: ThoughtCode; format: ReplyFormat }
  | { ok: false; reason: ReplyParseFailureReason; correctiveMessage: string };

const FORMAT_HINT =
  'Reply with a JSON object {"thought": "...", "code": "..."}, or with your reasoning followed by exactly one ```python fenced code block.';

const CORRECTIVE_MESSAGES: Record<ReplyParseFailureReason, string> = {
  no_code: `Your last reply contained no Python code to run, so nothing was executed. ${FORMAT_HINT}`,
  empty_code: `Your last reply had an empty code block, so nothing was executed. Put the Python to run next inside it. ${FORMAT_HINT}`,
  unclosed_fence: `Your last reply opened a code block with \`\`\` but never closed it (it may have been cut off), so nothing was executed. Send shorter code and close the block. ${FORMAT_HINT}`,
  invalid_json: `Your last reply looked like JSON but was not a valid {"thought": string, "code": string} object, so nothing was executed. ${FORMAT_HINT}`,
};

// An opening fence at the start of a line: ``` or ~~~ (3+), an optional info string, end of line.
const FENCE_OPEN_SOURCE = "^([ \\t]*)(`{3,}|~{3,})[ \\t]*([^\\n`]*?)[ \\t]*$";
const PYTHON_INFO = new Set(["python", "py", "python3", "ipython", "ipython3"]);

interface FencedBlock {
  info: string;
  body: string;
  start: number;
  closed: boolean;
}

/** Fenced blocks in order; a block runs to a closing fence of the same character and at least the same length. */
function findFencedBlocks(text: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const opening = new RegExp(FENCE_OPEN_SOURCE, "gm");
  let match: RegExpExecArray | null;
  while ((match = opening.exec(text)) !== null) {
    const fence = match[2] ?? "```";
    const info = (match[3] ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    const bodyStart = match.index + match[0].length + 1;
    const closing = new RegExp(`^[ \\t]*${fence[0] === "`" ? "`" : "~"}{${fence.length},}[ \\t]*$`, "m");
    const rest = text.slice(Math.min(bodyStart, text.length));
    const close = closing.exec(rest);
    if (!close) {
      blocks.push({ info, body: rest, start: match.index, closed: false });
      break;
    }
    blocks.push({ info, body: rest.slice(0, close.index).replace(/\n$/, ""), start: match.index, closed: true });
    opening.lastIndex = bodyStart + close.index + close[0].length;
  }
  return blocks;
}

type JsonAttempt = { kind: "ok"; value: ThoughtCode } | { kind: "invalid" } | { kind: "not_json" };

function tryThoughtCodeJson(candidate: string): JsonAttempt {
  const text = candidate.trim();
  if (!text.startsWith("{")) return { kind: "not_json" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid" };
  }
  const parsed = thoughtCodeSchema.safeParse(value);
  if (!parsed.success) return { kind: "invalid" };
  return { kind: "ok", value: { thought: parsed.data.thought.trim(), code: unwrapCodeFence(parsed.data.code) } };
}

// Models sometimes put a fenced block inside the JSON "code" string; run what is inside it.
function unwrapCodeFence(code: string): string {
  const blocks = findFencedBlocks(code.trim());
  const only = blocks[0];
  if (blocks.length === 1 && only && only.closed && only.start === 0 && (only.info === "" || PYTHON_INFO.has(only.info))) {
    return only.body;
  }
  return code;
}

function success(value: ThoughtCode, format: ReplyFormat): ReplyParseResult {
  if (value.code.trim() === "") return failure("empty_code");
  return { ok: true, value, format };
}

function failure(reason: ReplyParseFailureReason): ReplyParseResult {
  return { ok: false, reason, correctiveMessage: CORRECTIVE_MESSAGES[reason] };
}

/**
 * Order: the whole reply as JSON; a ```json block (or any fenced block holding a JSON object);
 * the JSON object between the first `{` and the last `}` (only when there are no fences); then the
 * first ```python / ```py block, else the first bare ``` block, with the text before it as the thought.
 */
export function parseReply(content: string): ReplyParseResult {
  const text = content.replace(/\r\n/g, "\n");
  let sawInvalidJson = false;

  const whole = tryThoughtCodeJson(text);
  if (whole.kind === "ok") return success(whole.value, "json");
  if (whole.kind === "invalid") sawInvalidJson = true;

  const blocks = findFencedBlocks(text);
  for (const block of blocks) {
    if (!block.closed || (block.info !== "json" && block.info !== "")) continue;
    const attempt = tryThoughtCodeJson(block.body);
    if (attempt.kind === "ok") return success(attempt.value, "json");
    if (attempt.kind === "invalid" && block.info === "json") sawInvalidJson = true;
  }

  const firstBrace = text.indexOf("{");
  const lastBrace = text.lastIndexOf("}");
  if (blocks.length === 0 && firstBrace !== -1 && lastBrace > firstBrace) {
    const embedded = tryThoughtCodeJson(text.slice(firstBrace, lastBrace + 1));
    if (embedded.kind === "ok") return success(embedded.value, "json");
  }

  // A Python-labelled block wins over an earlier bare one (which is often quoted output).
  const code = blocks.find((block) => PYTHON_INFO.has(block.info)) ?? blocks.find((block) => block.info === "");
  if (code) {
    if (!code.closed) return failure("unclosed_fence");
    return success({ thought: text.slice(0, code.start).trim(), code: code.body }, "fenced");
  }
  if (sawInvalidJson) return failure("invalid_json");
  return failure("no_code");
}
