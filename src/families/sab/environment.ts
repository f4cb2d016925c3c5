// The packages a ScienceAgentBench program needs beyond the base image, installed as upstream's
// harness does (src/environments/sab-packages.ts), into a task environment layer built once per
// requirements set and reused. What can not be installed is returned as notes for the verdict's log.

import { UserError } from "../../errors.js";
import { SAB_IMPORTS_SCRIPT, sabRequirementsFor } from "../../environments/sab-packages.js";
import { parseRequirements } from "../../environments/requirements.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { reportWarning, type GradingContext } from "../../grading/context.js";
import { ensureTaskImage } from "../../grading/environment.js";

/** A folder of the workspace used for the scan and removed after it (the archive API can not write /tmp). */
const SCAN_FOLDER = ".dynabox-import-scan";

/**
 * The program's imports the sandbox's image can not satisfy, read in a network-off grader
 * container before anything else is put there; the scan's files are removed afterwards.
 */
export async function missingImports(sandbox: Sandbox, source: string, workspace: string): Promise<string[]> {
  await sandbox.putFiles(
    [
      { path: `${SCAN_FOLDER}/imports.py`, content: SAB_IMPORTS_SCRIPT },
      { path: `${SCAN_FOLDER}/program.py`, content: source },
    ],
    workspace,
  );
  const run = await sandbox.shell(`python3 -I ${SCAN_FOLDER}/imports.py ${SCAN_FOLDER}/program.py; status=$?; rm -rf ${SCAN_FOLDER}; exit $status`, {
    cwd: workspace,
    timeoutSeconds: 60,
  });
  try {
    const parsed = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as { missing?: unknown };
    return Array.isArray(parsed.missing) ? parsed.missing.filter((each): each is string => typeof each === "string") : [];
  } catch {
    // A program that does not parse fails when it runs; the imports do not matter then.
    return [];
  }
}

export interface SabEnvironment {
  image: string;
  /** What could not be installed, for the verdict's log. */
  notes: string[];
}

/** Builds (once) or reuses the layer for the missing modules; what can not be had is noted, never fatal. */
export async function sabEnvironmentFor(context: GradingContext, taskId: string, missing: readonly string[]): Promise<SabEnvironment> {
  const { requirements, notInstallable } = sabRequirementsFor(missing);
  const notes = notInstallable.map((what) => `not installed: ${what}`);
  const parsed = parseRequirements(requirements);
  // Upstream's wheel page for dgl (deepchem) stays with whatever lines remain.
  const pages = parsed.findLinks.map((url) => `--find-links ${url}`);
  let lines = parsed.requirements;
  for (let attempt = 0; lines.length > 0 && attempt < 2; attempt += 1) {
    const text = [...pages, ...lines.map((line) => line.line)].join("\n") + "\n";
    try {
      const image = await ensureTaskImage(context, { pythonRequirements: text, binaryOnly: true });
      return { image, notes: record(context, taskId, notes) };
    } catch (error) {
      if (!UserError.isInstance(error) || error.code !== "DYNABOX_TASK_INVALID") throw error;
      const unmet = (error.details.unmet as { requirement: string }[] | undefined) ?? [];
      const unmetNames = new Set(unmet.map((each) => each.requirement.toLowerCase().replace(/[-_.]+/g, "-").split(/[<>=!~;[ ]/)[0]));
      const remaining = lines.filter((line) => !unmetNames.has(line.name));
      if (unmet.length === 0 || remaining.length === lines.length) {
        notes.push(`not installed: ${lines.map((line) => line.line).join(", ")} (${error.message})`);
        return { image: context.sandboxImage, notes: record(context, taskId, notes) };
      }
      notes.push(`not installed: ${lines.filter((line) => unmetNames.has(line.name)).map((line) => line.line).join(", ")} (the package index has no wheel of it: a program's imports are installed from wheels only)`);
      lines = remaining;
    }
  }
  return { image: context.sandboxImage, notes: record(context, taskId, notes) };
}

function record(context: GradingContext, taskId: string, notes: string[]): string[] {
  for (const note of notes) reportWarning(context, `sab ${taskId}: ${note}`);
  return notes;
}
