// Extraction runs inside the sandbox, with the kernel's own Python and its `ast` module, so the
// grammar is exactly the one the code ran under and no Python is needed on the host. The cell
// calls the extractor through `__import__` and emits the result as one event (events are not
// capped like a value's repr); the call returns None, so nothing lands in the user's namespace,
// not even `_`.

import { SandboxError } from "../errors.js";
import type { CellResult } from "../sandbox/protocol.js";
import type { ExecOptions } from "../sandbox/kernel-client.js";
import { normalHash } from "./normalize.js";
import { extractedListSchema, type ActionCandidate, type ActionOrigin, type ExtractedFunction } from "./types.js";

export const EXTRACTED_EVENT = "actions-extracted";

/** What extraction needs of a sandbox: one cell. */
export interface CellRunner {
  exec(code: string, options?: ExecOptions): Promise<CellResult>;
}

/** The cell that extracts `code`'s top-level functions (a plan; `extractActions` runs it). */
export function extractionCell(code: string): string {
  // A JSON string is a valid Python string literal (same escapes), and keeps any text intact.
  return `__import__("dynabox_extract").emit_extracted(${JSON.stringify(code)})`;
}

/** Turns the extractor's report into candidates (validated; hashes computed). */
export function toCandidates(payload: unknown, origin: ActionOrigin): ActionCandidate[] {
  const parsed = extractedListSchema.safeParse(payload);
  if (!parsed.success) {
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `the action extractor sent an unexpected report: ${parsed.error.message}`);
  }
  return parsed.data.map((found: ExtractedFunction) => ({
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
  }));
}

/**
 * The top-level functions (`def` and `async def`) of `code`, as the sandbox's Python parses them.
 * Code that does not parse gives []. Throws only when the extraction cell itself fails.
 */
export async function extractActions(
  sandbox: CellRunner,
  code: string,
  origin: ActionOrigin,
  options: { timeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<ActionCandidate[]> {
  const result = await sandbox.exec(extractionCell(code), {
    timeoutSeconds: options.timeoutSeconds ?? 30,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!result.ok) {
    const reason = result.error ? `${result.error.name}: ${result.error.message}` : "no result";
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `extracting actions failed in the sandbox (${reason})`);
  }
  const event = result.events.find((each) => each.name === EXTRACTED_EVENT);
  if (event === undefined) throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", "the action extractor sent no report");
  return toCandidates(event.payload, origin);
}
