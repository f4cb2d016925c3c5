// Review flags on the terminal: which verdicts a person should look at before trusting them, and
// why. The flags hold text from the patch and the sandbox, so every line is escaped.

import type { Verdict } from "../families/types.js";
import { printableLine } from "./terminal-text.js";

/** One line per flag: `review: <family>/<task>: <flag>`; nothing when no verdict is flagged. */
export function reviewFlagLines(verdicts: readonly Verdict[]): string[] {
  return verdicts.flatMap((verdict) =>
    (verdict.reviewFlags ?? []).map((flag) => `review: ${printableLine(`${verdict.family}/${verdict.taskId}`)}: ${printableLine(flag)}`),
  );
}
