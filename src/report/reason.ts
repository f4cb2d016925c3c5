// Why a task did not pass, in a few words: for the terminal line of a finished task, `show`,
// summary.json, the trajectory's end line and the report. Pure: reads only what it is given.

import { FAMILY_SUMMARIES } from "../families/summaries.js";
import { FAMILIES, type Family } from "../families/types.js";

export interface ReasonInput {
  family: string;
  outcome: string;
  upstream: Record<string, unknown> | null;
  stopReason: string | null;
  error: string | null;
  errorKind?: string | null;
  /** "validate": the upstream line holds the checks of a task's proof of validity. */
  kind?: string;
}

const STOPS: Record<string, string> = {
  "max-steps": "ran out of steps before submitting",
  "wall-time": "ran out of time before submitting",
  tokens: "ran out of tokens before submitting",
  cost: "ran out of budget before submitting",
  "model-error": "the model endpoint failed",
  "sandbox-lost": "the sandbox was lost",
  aborted: "interrupted",
};

/** A one-line reason, or null when the task passed. */
export function failureReason(input: ReasonInput): string | null {
  if (input.outcome === "passed") return null;
  const upstream = input.upstream ?? {};
  if (input.outcome === "error") {
    const kind = input.errorKind ? `${input.errorKind} error` : "infrastructure error";
    return clip(`${kind}: ${input.error ?? str(upstream.error) ?? "no result"}`);
  }
  if (input.outcome === "not-judged") return "figure task not judged (no --judge-model)";
  if (input.kind === "validate") return clip(`not valid: ${validationReason(upstream)}`);
  const graded = graderReason(input.family, upstream);
  // An agent that never submitted explains a failure better than what the grader saw.
  const stop = input.stopReason && input.stopReason !== "submitted" ? STOPS[input.stopReason] ?? `stopped: ${input.stopReason}` : null;
  return clip([stop, graded].filter((part): part is string => part !== null).join("; ") || "failed");
}

/** The family's own words on its grader's line (src/families/<family>/summary.ts); the line's error for anything else. */
function graderReason(family: string, upstream: Record<string, unknown>): string | null {
  if (isFamily(family)) return FAMILY_SUMMARIES[family].failureLine(upstream);
  const error = str(upstream.error);
  return error ? firstLine(error) : null;
}

/** The first problem a proof of validity names, or its checks in short. */
function validationReason(checks: Record<string, unknown>): string {
  const problems = Array.isArray(checks.problems) ? checks.problems.filter((entry): entry is string => typeof entry === "string") : [];
  if (problems.length > 0) return firstLine(problems[0]!);
  const error = str(checks.error);
  if (error) return firstLine(error);
  return JSON.stringify(checks);
}

const str = (value: unknown): string | null => (typeof value === "string" && value.trim() !== "" ? value : null);

function firstLine(text: string): string {
  return text.trim().split("\n")[0]!.trim();
}

function clip(text: string, limit = 160): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= limit ? line : `${line.slice(0, limit - 1)}…`;
}

/** Whether a name read from a run folder is a family dynabox knows. */
export function isFamily(name: string): name is Family {
  return (FAMILIES as readonly string[]).includes(name);
}
