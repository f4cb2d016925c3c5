// Turns a cell's result into the observation the model reads next: what it printed, the value,
// the error, and the cost, cut in the middle past a character budget.

import type { CellResult } from "../sandbox/protocol.js";

export const OBSERVATION_CHARACTERS = 12_000;

export function formatObservation(result: CellResult, budget = OBSERVATION_CHARACTERS): string {
  const parts: string[] = [];
  if (result.stdout !== "") parts.push(`[stdout]\n${result.stdout.replace(/\n$/, "")}`);
  if (result.stderr !== "") parts.push(`[stderr]\n${result.stderr.replace(/\n$/, "")}`);
  if (result.value !== null) parts.push(`[value]\n${result.value}`);
  if (result.error !== null) {
    parts.push(`[error]\n${(result.error.traceback || `${result.error.name}: ${result.error.message}`).replace(/\n$/, "")}`);
  }
  if (result.timedOut) parts.push("[note] the step ran past its time limit and was stopped");
  if (result.oom) parts.push("[note] the step ran out of memory");
  if (result.kernelRestarted) parts.push("[note] the kernel was restarted: variables, imports and functions defined earlier are gone; workspace files are kept");
  if (parts.length === 0) parts.push("(no output)");
  return middleCut(parts.join("\n"), budget);
}

export function middleCut(text: string, budget: number): string {
  if (text.length <= budget) return text;
  const half = Math.floor(budget / 2);
  return `${text.slice(0, half)}\n[... ${text.length - 2 * half} characters omitted ...]\n${text.slice(-half)}`;
}
