// The results file upstream's scripts/submit.py writes (RES-Q 39399b1):
//   json.dump([o.model_dump() for o in results], f, indent=4)
// Python's json with its defaults: indent 4, ", " / ": " separators, ensure_ascii (every character
// from U+007F on written as a lowercase \uXXXX escape, astral ones as surrogate pairs), no final
// newline. Written beside results.jsonl so that scripts made for upstream's file read dynabox's.

import type { ResqResultLine } from "./grader.js";

/** JSON text byte for byte as Python's json.dump(value, indent=4) writes it (for strings, booleans, lists, objects). */
export function pythonJsonText(value: unknown): string {
  const text = JSON.stringify(value, null, 4) ?? "null";
  // JSON.stringify leaves DEL and non-ASCII characters as they are; ensure_ascii escapes each UTF-16 unit.
  return text.replace(/[\u007f-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** upstream's results.json: the graded lines in submission order, upstream's keys in upstream's order. */
export function resqResultsFileText(lines: readonly ResqResultLine[]): string {
  return pythonJsonText(
    lines.map((line) => ({ id: line.id, success: line.success, message: line.message, test_suite_feedback: line.test_suite_feedback })),
  );
}
