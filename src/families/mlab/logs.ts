// Upstream MLAgentBench run logs. `python -m MLAgentBench.eval --log-folder L --task T` walks L
// for every `trace.json` and scores `<its folder>/traces/step_final_files` with the task's
// get_score (MLAgentBench/eval.py); a run without that folder keeps final_score -1. A run's log
// is `<run>/env_log/trace.json` with `<run>/env_log/traces/step_<n>_files` beside it
// (MLAgentBench/environment.py save()). dynabox finds the same runs and grades each one.

import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../../errors.js";
import { submissionFromFolder, type MlabSubmission } from "./grader.js";

export interface MlabLogRun {
  /** The folder holding trace.json, relative to the log folder (with `/`); "." for the folder itself. */
  run: string;
  /** Absolute path of `traces/step_final_files`, or null when the run has none. */
  finalFiles: string | null;
  /** Upstream's submitted_final_answer: a step whose action is "Final Answer"; null when trace.json can not be read. */
  submittedFinalAnswer: boolean | null;
  /**
   * Why upstream would leave the run out, or null: MLAgentBench/eval.py `run_eval` does
   * `json.load` of trace.json under a bare `except: continue`, so a run whose trace.json is not
   * JSON (a run killed while writing it) gets no result at all.
   */
  skippedByUpstream: string | null;
}

/** Folders never holding runs; walked past to keep a large log tree cheap. */
const SKIPPED_FOLDERS = new Set(["traces", "node_modules", ".git"]);

async function isDirectory(target: string): Promise<boolean> {
  return stat(target).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

function submittedFinalAnswer(text: string): boolean | null {
  try {
    const trace = JSON.parse(text) as { steps?: Array<{ action?: { name?: unknown } }> };
    if (!Array.isArray(trace.steps)) return null;
    return trace.steps.some((step) => step?.action?.name === "Final Answer");
  } catch {
    return null;
  }
}

function traceProblem(text: string | null, where: string): string | null {
  const why = text === null ? "can not be read" : isJson(text) ? null : "is not valid JSON (the run may have been stopped while writing it)";
  if (why === null) return null;
  return `${where} ${why}; upstream's MLAgentBench.eval skips such a run (no result), so it is not graded. Fix the file to grade the run`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Every run under an upstream log folder, sorted by path. Links are not followed. */
export async function findMlabLogRuns(logFolder: string): Promise<MlabLogRun[]> {
  const root = path.resolve(logFolder);
  if (!(await isDirectory(root))) {
    throw new UserError("DYNABOX_INVALID_INPUT", `the log folder ${root} does not exist or is not a folder: give --logs an upstream MLAgentBench log folder`);
  }
  const runs: MlabLogRun[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    if (entries.some((entry) => entry.isFile() && entry.name === "trace.json")) {
      const finalFiles = path.join(folder, "traces", "step_final_files");
      const run = path.relative(root, folder).split(path.sep).join("/") || ".";
      const trace = await readFile(path.join(folder, "trace.json"), "utf8").catch(() => null);
      runs.push({
        run,
        finalFiles: (await isDirectory(finalFiles)) ? finalFiles : null,
        submittedFinalAnswer: submittedFinalAnswer(trace ?? ""),
        skippedByUpstream: traceProblem(trace, `${run}/trace.json`),
      });
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory() && !SKIPPED_FOLDERS.has(entry.name)) await walk(path.join(folder, entry.name));
    }
  };
  await walk(root);
  return runs.sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
}

/** The submission of one run: its final snapshot, or an invalid one when the run has none (upstream: -1). */
export async function mlabRunSubmission(run: MlabLogRun): Promise<MlabSubmission> {
  if (run.finalFiles === null) {
    return {
      archive: Buffer.alloc(0),
      problem: "the run has no traces/step_final_files (it ended before a final snapshot); upstream scores it -1",
    };
  }
  return submissionFromFolder(run.finalFiles);
}

/** Whether a folder looks like an upstream log folder rather than a workspace (for a hint). */
export async function looksLikeMlabLogFolder(folder: string): Promise<boolean> {
  for (const candidate of ["trace.json", "env_log/trace.json"]) {
    if (await stat(path.join(folder, candidate)).then(() => true, () => false)) return true;
  }
  return false;
}
