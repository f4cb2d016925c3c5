// Where dynabox may write on the host, decided in one place for every path flag and output folder
// (--run-dir, --library, --copy-out, the copy-out destination), with one wording.

import { UserError } from "../errors.js";

/** Kernel and device file systems: they hold no ordinary files, and writing there hangs, fails oddly, or worse. */
const SYSTEM_TREES = ["/proc", "/sys", "/dev"];

/** The system tree that holds any of these absolute paths, or undefined. */
export function systemTreeOf(paths: readonly string[]): string | undefined {
  return SYSTEM_TREES.find((tree) => paths.some((candidate) => candidate === tree || candidate.startsWith(`${tree}/`)));
}

/**
 * Refuses (exit code 2) an output path under /proc, /sys or /dev. `what` names it as the user knows
 * it ("--run-dir", "copy-out folder"); `paths` are the absolute forms to check (as given, links
 * resolved).
 */
export function assertOutsideSystemTrees(what: string, value: string, paths: readonly string[], kind: "folder" | "file"): void {
  const tree = systemTreeOf(paths);
  if (tree !== undefined) {
    throw new UserError("DYNABOX_USAGE", `${what}: ${value} is under ${tree}, which holds no ordinary files; give a ${kind} on a normal disk`);
  }
}

/** The refusal of an existing path that is not a folder where a folder is asked for (exit code 2). */
export function notAFolderError(what: string, value: string): UserError {
  return new UserError("DYNABOX_USAGE", `${what}: ${value} is not a folder; give a folder (it is made when missing)`);
}
