// Extraction runs in a sandbox of its own (`ActionExtractor`), never in the agent's kernel: it
// gets only the text of a cell the agent ran and parses it with the image's Python (`ast`,
// `symtable`) without running it, so nothing the agent did in its kernel (replacing the
// extractor, forging events) has a say in what becomes a candidate. The same report lists the
// global names the cell refers to and binds, from which the host counts which library actions
// the agent used. Every function is checked against the library's rule there
// (`sandbox/lib/dynabox_rule.py`), and its name and imports once more here.

import { z } from "zod";
import { SandboxError } from "../errors.js";
import type { CellResult } from "../sandbox/protocol.js";
import type { ExecOptions } from "../sandbox/kernel-client.js";
import { normalHash } from "./normalize.js";
import { actionFieldsProblem } from "./rule.js";
import { cellAnalysisSchema, type ActionCandidate, type ActionOrigin, type ExtractedFunction } from "./types.js";

export const EXTRACTED_EVENT = "actions-extracted";

/** What extraction needs of a sandbox: one cell. */
export interface CellRunner {
  exec(code: string, options?: ExecOptions): Promise<CellResult>;
}

/** What the extraction sandbox found in one cell. */
export interface CellAnalysis {
  /** Functions that meet the library's rule. */
  candidates: ActionCandidate[];
  /** Functions that do not, with the reason. */
  rejected: { name: string; reason: string }[];
  /** Global names the cell refers to (nested code included). */
  references: string[];
  /** Names the cell binds at top level. */
  bindings: string[];
}

/** The cell that analyzes `code` in the extraction sandbox (a plan; `analyzeCell` runs it). */
export function extractionCell(code: string): string {
  // A JSON string is a valid Python string literal (same escapes), and keeps any text intact.
  return `__import__("dynabox_extract").emit_extracted(${JSON.stringify(code)})`;
}

/** Turns the extractor's report into an analysis (validated; hashes computed; the host's checks applied). */
export function toAnalysis(payload: unknown, origin: ActionOrigin): CellAnalysis {
  const parsed = cellAnalysisSchema.safeParse(payload);
  if (!parsed.success) {
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `the action extractor sent an unexpected report: ${parsed.error.message}`);
  }
  const rejected = [...parsed.data.rejected];
  const candidates: ActionCandidate[] = [];
  for (const found of parsed.data.functions) {
    const candidate = toCandidate(found, origin);
    const problem = actionFieldsProblem(candidate);
    if (problem === undefined) candidates.push(candidate);
    else rejected.push({ name: found.name, reason: problem });
  }
  return { candidates, rejected, references: parsed.data.references, bindings: parsed.data.bindings };
}

function toCandidate(found: ExtractedFunction, origin: ActionOrigin): ActionCandidate {
  return {
    name: found.name,
    isAsync: found.is_async,
    signature: found.signature,
    docstring: found.docstring ?? "",
    source: found.source,
    imports: found.imports,
    dependencies: found.dependencies,
    freeNames: found.free_names,
    normalHash: normalHash(found.normal_form),
    origin: { taskId: origin.taskId, step: origin.step },
  };
}

/**
 * Analyzes a cell's text in `extractor` (the extraction sandbox, never the agent's). Code that
 * does not parse gives an empty analysis. Throws only when the extraction cell itself fails.
 */
export async function analyzeCell(
  extractor: CellRunner,
  code: string,
  origin: ActionOrigin,
  options: { timeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<CellAnalysis> {
  const result = await extractor.exec(extractionCell(code), {
    timeoutSeconds: options.timeoutSeconds ?? 30,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!result.ok) {
    const reason = result.error ? `${result.error.name}: ${result.error.message}` : "no result";
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `extracting actions failed in the extraction sandbox (${reason})`);
  }
  const event = result.events.find((each) => each.name === EXTRACTED_EVENT);
  if (event === undefined) throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", "the action extractor sent no report");
  return toAnalysis(event.payload, origin);
}

/** The candidates of a cell: its top-level functions that meet the library's rule. */
export async function extractActions(
  extractor: CellRunner,
  code: string,
  origin: ActionOrigin,
  options: { timeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<ActionCandidate[]> {
  return (await analyzeCell(extractor, code, origin, options)).candidates;
}

export const CHECKED_EVENT = "actions-checked";

/**
 * Checks actions against the whole rule (their sources too) in `runner`, a sandbox that runs
 * nothing else (the extraction sandbox): for each, the reason it breaks the rule, or undefined.
 * For actions that come from outside the extraction sandbox (an imported library, for example);
 * the host's own checks (`actionFieldsProblem`) come first and need no sandbox.
 */
export async function checkActions(
  runner: CellRunner,
  actions: readonly { name: string; source: string; imports: readonly string[] }[],
  options: { timeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<(string | undefined)[]> {
  if (actions.length === 0) return [];
  const entries = actions.map(({ name, source, imports }) => ({ name, source, imports }));
  const result = await runner.exec(`__import__("dynabox_extract").emit_checked(__import__("json").loads(${JSON.stringify(JSON.stringify(entries))}))`, {
    timeoutSeconds: options.timeoutSeconds ?? 60,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const parsed = z.array(z.string().nullable()).length(actions.length).safeParse(result.events.find((each) => each.name === CHECKED_EVENT)?.payload);
  if (!result.ok || !parsed.success) {
    const reason = result.error ? `${result.error.name}: ${result.error.message}` : "no report";
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `checking actions failed in the extraction sandbox (${reason})`);
  }
  return parsed.data.map((problem) => problem ?? undefined);
}
