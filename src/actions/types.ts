// The action library's data: what the sandbox's extractor reports about a function, a
// candidate made from it, and an action as the store keeps it. Types come from the schemas.

import { z } from "zod";

/** One top-level function as `sandbox/lib/dynabox_extract.py` reports it (snake_case, from Python). */
export const extractedFunctionSchema = z.object({
  name: z.string().min(1),
  is_async: z.boolean(),
  signature: z.string(),
  docstring: z.string().nullable(),
  source: z.string().min(1),
  imports: z.array(z.string()),
  dependencies: z.array(z.string()),
  free_names: z.array(z.string()),
  normal_form: z.string().min(1),
  line: z.number().int(),
});

export type ExtractedFunction = z.infer<typeof extractedFunctionSchema>;

export const extractedListSchema = z.array(extractedFunctionSchema);

/** What the extraction sandbox reports about one cell (`dynabox_extract.analyze`). */
export const cellAnalysisSchema = z.object({
  functions: z.array(extractedFunctionSchema),
  /** Functions that break the library's rule, with the reason; never candidates. */
  rejected: z.array(z.object({ name: z.string(), reason: z.string() })),
  /** Global names the cell refers to, anywhere in it. */
  references: z.array(z.string()),
  /** Names the cell binds at top level (definitions, assignments, imports). */
  bindings: z.array(z.string()),
});

/** Where a candidate came from: the task (and step) whose code defined it. */
export interface ActionOrigin {
  taskId: string;
  step: number;
}

/** A function a successful step defined; it joins the library only if its task passes. */
export interface ActionCandidate {
  name: string;
  isAsync: boolean;
  /** `name(args) -> return`, as written (annotations and defaults kept). */
  signature: string;
  /** The full docstring, indentation cleaned; "" when there is none. */
  docstring: string;
  /** The function's exact text, decorators and comments included. */
  source: string;
  /** The snippet's import statements the function uses, aliases kept (`import pandas as pd`). */
  imports: string[];
  /** Other functions of the same snippet it refers to (by name). */
  dependencies: string[];
  /** Global names nothing in the snippet provides (not builtins, imports or functions there). */
  freeNames: string[];
  /** sha256 of the normal form: the AST without docstring, comments and layout, plus its imports. */
  normalHash: string;
  origin: ActionOrigin;
}

export const ACTION_STATUSES = ["candidate", "promoted", "retired"] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

/** An action as the store keeps it. Candidates have no version until they are promoted. */
export interface StoredAction extends Omit<ActionCandidate, "origin"> {
  id: number;
  version: number | null;
  status: ActionStatus;
  runId: string;
  taskId: string;
  step: number;
  createdAt: string;
  promotedAt: string | null;
  /** Tasks that called it; of those, how many passed grading and how many failed. */
  uses: number;
  successes: number;
  failures: number;
}

/** A promoted action has a version. */
export type LibraryAction = StoredAction & { version: number };

/** A library action a task used, as the host observed it (the cells it sent and their results). */
export interface ActionUsage {
  name: string;
  version: number;
  /** Cells that referred to it. */
  cells: number;
  /** Of those, the cells that ended in an error. */
  failedCells: number;
}

/** The retirement rule, in one place: failures >= 3 and failures > 2 x successes. */
export function shouldRetire(counts: { successes: number; failures: number }): boolean {
  return counts.failures >= 3 && counts.failures > 2 * counts.successes;
}
