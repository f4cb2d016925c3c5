// What `dynabox exec` prints for a cell, as text for a terminal. Everything in a cell result was
// made in the sandbox (output, value, error, file names), so every piece is escaped: sandbox
// code can not move the cursor, retitle the window or fake dynabox's own lines.

import type { CellResult } from "../sandbox/protocol.js";
import { printableLine, printableText } from "./terminal-text.js";

export function cellSummary(result: CellResult): string {
  const state = result.ok
    ? "ok"
    : result.timedOut
      ? "timed out"
      : result.oom
        ? "out of memory"
        : `failed (${printableLine(result.error?.name ?? "error")})`;
  const parts = [`${state} in ${result.wallMs.toFixed(1)} ms`];
  if (result.cpuMs !== null) parts.push(`cpu ${result.cpuMs.toFixed(1)} ms`);
  if (result.peakMemMb !== null) parts.push(`peak ${result.peakMemMb} MB`);
  if (result.kernelRestarted) parts.push("kernel restarted");
  return `dynabox: ${parts.join(", ")}`;
}

/** The cell's output for stdout, and its errors and dynabox's summary for stderr. */
export function renderCellResult(result: CellResult): { stdout: string; stderr: string } {
  let stdout = printableText(result.stdout);
  if (result.value !== null) stdout += printableText(result.value) + "\n";
  let stderr = printableText(result.stderr);
  if (result.error !== null) {
    stderr += printableText(result.error.traceback || `${result.error.name}: ${result.error.message}\n`);
  }
  stderr += cellSummary(result) + "\n";
  return { stdout, stderr };
}

/** One line for a workspace entry that copy-out left behind. */
export function renderNotCopied(entry: { path: string; reason: string }): string {
  return `dynabox: not copied out: ${printableLine(entry.path)} (${printableLine(entry.reason)})\n`;
}
