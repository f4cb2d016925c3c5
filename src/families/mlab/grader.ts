// MLAgentBench grading: prepare each task once into a cache, measure the baseline once, and
// grade a workspace in a fresh network-off container where only the task's eval.py runs.
// Nothing from the submission is executed or importable while it is scored.

import { randomBytes } from "node:crypto";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { packDirectory, safeRelativePath } from "../../sandbox/archive.js";
import { WORKSPACE } from "../../sandbox/profile.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { discoverMlabTasks, MLAB_SOLUTION_MISSING, type MlabDirection, type MlabTask } from "./task.js";
import { putTaskDirectory, TaskFolder } from "../task-files.js";
import type { FamilyModule, ValidationResult, Verdict } from "../types.js";
import { withGraderSandbox, type GradingContext } from "../../grading/context.js";
import { lastLines, runContainerStep, stopwatch } from "../../grading/container-step.js";
import {
  CACHE_SCHEMA_VERSION,
  MLAB_MAX_ENTRIES,
  mlabTaskImage,
  prepareMlabTask,
  readStarter,
  writeStarter,
  type MlabPrepareOptions,
  type PreparedMlabTask,
  type StarterRecord,
} from "./cache.js";
import { MLAB_DRIVER_PY, MLAB_RESULT_MARKER, type MlabDriverConfig } from "./driver.js";
import { mlabSummary } from "./summary.js";

export { mlabTaskImage, prepareMlabTask, type MlabPrepareOptions, type PreparedMlabTask } from "./cache.js";

/** A workspace as a tar archive of its contents (what `Sandbox.snapshot()` returns). */
export interface MlabSubmission {
  archive: Buffer;
  /** Why there is nothing to grade (an upstream run without traces/step_final_files): invalid, nothing runs. */
  problem?: string;
  /** Workspace entries the snapshot left out (links, FIFOs, devices), named in an error. */
  leftOut?: string[];
}

/** Makes a submission from a host folder (its contents become the workspace). */
export async function submissionFromFolder(folder: string): Promise<MlabSubmission> {
  return { archive: await packDirectory(path.resolve(folder)) };
}

// ---------------------------------------------------------------- the success rule (pure)

/** Upstream: success is a relative improvement over the baseline above 10 %. */
export const MLAB_SUCCESS_THRESHOLD = 0.1;

/** Relative improvement, positive when better: (score - baseline) / baseline, negated when lower is better. */
export function mlabImprovement(score: number, baseline: number, direction: MlabDirection): number {
  const relative = (score - baseline) / baseline;
  return direction === "lower" ? -relative : relative;
}

/** The upstream-shaped result line. */
export interface MlabResultLine {
  task: string;
  /** The score, or -1 when invalid. */
  score: number;
  baseline: number;
  improvement: number | null;
  success: boolean;
  error: string | null;
}

/** Scores that raise, are not finite or are <= 0 are invalid (score -1), as upstream. */
export function mlabResultLine(
  task: string,
  outcome: { score: number | null; error: string | null },
  baseline: number,
  direction: MlabDirection,
): MlabResultLine {
  const { score } = outcome;
  let error = outcome.error;
  if (error === null && (score === null || !Number.isFinite(score))) error = "no score";
  if (error === null && score !== null && score <= 0) error = `get_score returned ${score}; a score <= 0 counts as invalid`;
  if (error !== null || score === null) return { task, score: -1, baseline, improvement: null, success: false, error };
  const improvement = mlabImprovement(score, baseline, direction);
  return { task, score, baseline, improvement, success: improvement > MLAB_SUCCESS_THRESHOLD, error: null };
}

// ---------------------------------------------------------------- running and scoring in a container

interface ScoreOutcome {
  score: number | null;
  error: string | null;
  /** Links or special files removed from the submission before scoring. */
  removed: string[];
  /** Read-only files missing from the submission, restored from the prepared task. */
  restored?: string[];
  /** scripts/eval.py itself could not be loaded (an import it needs is missing): nothing can be graded. */
  loadFailed?: boolean;
}

const driverResultSchema = z.object({
  score: z.number().nullable(),
  score_text: z.string().nullable(),
  error: z.string().nullable(),
  traceback: z.string().nullable(),
  read_only_changed: z.array(z.string()),
  removed: z.array(z.string()),
  restored: z.array(z.string()),
  load_failed: z.boolean(),
});

function signalOption(context: GradingContext): { signal?: AbortSignal } {
  return context.signal ? { signal: context.signal } : {};
}

/** Runs `python3 -u train.py` in a sandbox folder; returns an error text or null. */
async function runTrain(context: GradingContext, sandbox: Sandbox, folder: string, timeoutSeconds: number): Promise<string | null> {
  const { run } = await runContainerStep(sandbox, { command: "python3 -u train.py", cwd: folder, timeoutSeconds, ...signalOption(context) });
  if (run.timedOut) return `train.py did not finish within ${timeoutSeconds} s`;
  if (run.oom) return "train.py ran out of memory";
  if (run.exitCode !== 0) return `train.py exited with ${run.exitCode}: ${lastLines(run.stderr, 5)}`;
  return null;
}

/** Puts a part of the prepared task (env, scripts) into a sandbox folder, as regular files only. */
async function putPrepared(sandbox: Sandbox, prepared: PreparedMlabTask, part: "env" | "scripts", destination: string, signal?: AbortSignal): Promise<void> {
  await putTaskDirectory(sandbox, await TaskFolder.open(prepared.directory), part, destination, signal ? { signal } : {});
}

/**
 * Copies the grader into a fresh folder with an unguessable name, laid out as upstream's
 * benchmark: the prepared scripts/ with the pristine prepared env/ beside it (eval.py files
 * import `../env` modules), and the driver. The agent's files never stand in for env/.
 */
async function installGrader(sandbox: Sandbox, prepared: PreparedMlabTask): Promise<string> {
  const base = `${WORKSPACE}/.dynabox-grader-${randomBytes(8).toString("hex")}`;
  await sandbox.shell(`mkdir -p ${base}/scripts ${base}/env ${base}/driver`);
  await putPrepared(sandbox, prepared, "scripts", `${base}/scripts`);
  await putPrepared(sandbox, prepared, "env", `${base}/env`);
  await sandbox.putFiles([{ path: "driver.py", content: MLAB_DRIVER_PY }], `${base}/driver`);
  return base;
}

/** Scores folders of the sandbox with one run of the driver (imports are paid once). */
async function scoreFolders(
  context: GradingContext,
  sandbox: Sandbox,
  grader: string,
  prepared: PreparedMlabTask,
  folders: string[],
  timeoutSeconds: number,
): Promise<ScoreOutcome[]> {
  const config: MlabDriverConfig = { submissions: folders, scripts: `${grader}/scripts`, env: `${grader}/env`, read_only: prepared.readOnlyFiles };
  const configName = `config-${randomBytes(4).toString("hex")}.json`;
  const { run, marked: line } = await runContainerStep(sandbox, {
    files: [{ path: configName, content: JSON.stringify(config) }],
    filesInto: `${grader}/driver`,
    command: `python3 -I -B ${grader}/driver/driver.py ${grader}/driver/${configName}`,
    cwd: `${grader}/scripts`,
    timeoutSeconds,
    marker: MLAB_RESULT_MARKER,
    ...signalOption(context),
  });
  const failed = (error: string): ScoreOutcome[] => folders.map(() => ({ score: null, error, removed: [] }));
  if (run.timedOut) return failed(`get_score did not finish within ${timeoutSeconds} s`);
  if (line === null) {
    const why = run.oom ? "ran out of memory" : `exited with ${run.exitCode} without a result`;
    return failed(`the grader ${why}: ${lastLines(run.stderr, 5)}`);
  }
  let results: z.infer<typeof driverResultSchema>[];
  try {
    results = z.array(driverResultSchema).length(folders.length).parse(JSON.parse(line));
  } catch (error) {
    return failed(`the grader's result could not be read: ${(error as Error).message}`);
  }
  return results.map((result) => {
    let error = result.error;
    if (error !== null && result.removed.length > 0) {
      error += ` (links or special files leading out of the submission were removed: ${result.removed.join(", ")})`;
    }
    return { score: result.score, error, removed: result.removed, restored: result.restored, loadFailed: result.load_failed };
  });
}

async function scoreFolder(
  context: GradingContext,
  sandbox: Sandbox,
  grader: string,
  prepared: PreparedMlabTask,
  folder: string,
  timeoutSeconds: number,
): Promise<ScoreOutcome> {
  const [outcome] = await scoreFolders(context, sandbox, grader, prepared, [folder], timeoutSeconds);
  return outcome!;
}

/**
 * Why a submission archive can not be restored as it is, or null. Snapshots never hold such
 * entries; a hand-made archive might (`../x`, `/x`, a hard link out, a device).
 */
export async function submissionArchiveProblem(archive: Buffer): Promise<string | null> {
  const problems: string[] = [];
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    body.on("end", next);
    body.resume();
    const name = header.name;
    if (safeRelativePath(name) === null || name.startsWith("/")) problems.push(`${name}: the path leaves the workspace`);
    else if (header.type === "link" && (safeRelativePath(header.linkname ?? "") === null || (header.linkname ?? "").startsWith("/"))) {
      problems.push(`${name}: a hard link to ${header.linkname} leaves the workspace`);
    } else if (!["file", "contiguous-file", "directory", "symlink", "link", "pax-header", "pax-global-header"].includes(header.type ?? "file")) {
      problems.push(`${name}: ${header.type} entries are not allowed`);
    }
  });
  try {
    await pipeline(Readable.from([archive]), extract);
  } catch (error) {
    return `the workspace archive is not a valid tar file: ${(error as Error).message}`;
  }
  return problems.length > 0 ? `the workspace archive has entries that can not be restored: ${problems.slice(0, 5).join("; ")}` : null;
}

/** Puts a tar of a workspace into a new folder of the sandbox (re-packed: no link reaches the engine). */
async function restoreArchive(sandbox: Sandbox, archive: Buffer, folder: string): Promise<void> {
  await sandbox.shell(`mkdir -p ${folder}`);
  await sandbox.restoreSnapshot(archive, folder, MLAB_MAX_ENTRIES);
}

// ---------------------------------------------------------------- the baseline

const measuring = new Map<string, Promise<StarterRecord>>();


function unmeasurableBaseline(task: MlabTask, error: string | null): UserError {
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `mlab task ${task.id}: the unmodified starter env/train.py gives no valid score (${error ?? "no score"}), so there is no ` +
      'baseline: fix env/train.py, or set "baseline" in scripts/task.json',
    { details: { folder: task.directory, file: "scripts/task.json", field: "baseline" } },
  );
}

/** Runs the starter train.py and scores it, in one fresh container. */
async function measureStarter(context: GradingContext, task: MlabTask, prepared: PreparedMlabTask): Promise<ScoreOutcome & { trainSeconds: number }> {
  const image = await mlabTaskImage(context, task);
  context.onProgress?.(`mlab ${task.id}: measuring the baseline (starter train.py)`);
  return withGraderSandbox(context, { image }, async (sandbox) => {
    const folder = `${WORKSPACE}/starter`;
    await sandbox.shell(`mkdir -p ${folder}`);
    await putPrepared(sandbox, prepared, "env", folder);
    const trainElapsed = stopwatch();
    const trainError = await runTrain(context, sandbox, folder, task.timeoutSeconds);
    const trainSeconds = trainElapsed();
    if (trainError !== null) return { score: null, error: trainError, removed: [], trainSeconds };
    const grader = await installGrader(sandbox, prepared);
    return { ...(await scoreFolder(context, sandbox, grader, prepared, folder, task.timeoutSeconds)), trainSeconds };
  });
}

function isValidScore(outcome: { score: number | null; error: string | null }): outcome is { score: number; error: null } {
  return outcome.error === null && outcome.score !== null && Number.isFinite(outcome.score) && outcome.score > 0;
}

/**
 * The task's baseline: task.json's number, else the starter's score, measured once (a fresh
 * container runs the unmodified train.py and scores it) and kept in the cache.
 */
export async function mlabBaseline(
  context: GradingContext,
  task: MlabTask,
  options: MlabFamilyOptions = {},
): Promise<{ baseline: number; source: "task.json" | "measured" }> {
  if (task.baseline !== null) return { baseline: task.baseline, source: "task.json" };
  const prepared = await prepareMlabTask(context, task, options.prepare);
  let pending = measuring.get(prepared.directory);
  if (!pending) {
    pending = (async () => {
      const cached = await readStarter(prepared);
      if (cached) return cached;
      const outcome = await measureStarter(context, task, prepared);
      if (!isValidScore(outcome)) throw unmeasurableBaseline(task, outcome.error);
      const record: StarterRecord = {
        schemaVersion: CACHE_SCHEMA_VERSION,
        score: outcome.score,
        trainSeconds: outcome.trainSeconds,
        measuredAt: new Date().toISOString(),
      };
      await writeStarter(prepared, record);
      return record;
    })();
    measuring.set(prepared.directory, pending);
    const forget = (): void => void measuring.delete(prepared.directory);
    pending.then(forget, forget);
  }
  return { baseline: (await pending).score, source: "measured" };
}

// ---------------------------------------------------------------- grading

/**
 * Grades a workspace. It is restored into a fresh network-off container; the task's scripts/
 * are copied in only afterwards, into a folder of their own; the driver checks the read-only
 * files and calls get_score(<submission folder>). train.py is not re-run: as upstream, the
 * files the agent left (submission.csv) are graded.
 */
export async function gradeMlab(context: GradingContext, task: MlabTask, submission: MlabSubmission, options: MlabFamilyOptions = {}): Promise<Verdict> {
  const elapsed = stopwatch();
  const prepared = await prepareMlabTask(context, task, options.prepare);
  const { baseline } = await mlabBaseline(context, task, options);
  const archiveProblem = submission.problem ?? (await submissionArchiveProblem(submission.archive));
  const outcome = archiveProblem !== null ? { score: null, error: archiveProblem } : await withGraderSandbox(context, { image: await mlabTaskImage(context, task) }, async (sandbox) => {
    const folder = `${WORKSPACE}/submission`;
    await restoreArchive(sandbox, submission.archive, folder);
    const grader = await installGrader(sandbox, prepared);
    return scoreFolder(context, sandbox, grader, prepared, folder, task.timeoutSeconds);
  });
  const leftOut = submission.leftOut ?? [];
  if (outcome.error !== null && leftOut.length > 0) {
    const names = leftOut.slice(0, 10).join(", ") + (leftOut.length > 10 ? `, and ${leftOut.length - 10} more` : "");
    outcome.error += ` (links and special files are not part of a submission and were left out: ${names})`;
  }
  const line = mlabResultLine(task.id, outcome, baseline, task.direction);
  return {
    taskId: task.id,
    family: "mlab",
    passed: line.success,
    score: line.error === null ? line.score : null,
    upstream: { ...line },
    seconds: elapsed(),
  };
}

// ---------------------------------------------------------------- validation

/** What went wrong with a scored folder, for messages. */
function scored(outcome: ScoreOutcome): string {
  return outcome.error ?? (outcome.score !== null ? `score ${outcome.score}` : "no score");
}

/**
 * The proof of validity: the starter scores (and, without a fixed baseline, is the baseline;
 * a cached earlier measurement must agree), the untouched starter is not a success, and the
 * reference solution (solution/ over env/, train.py run) succeeds. Both runs share one fresh
 * container: only the task's own code runs there.
 */
export async function validateMlab(context: GradingContext, task: MlabTask, options: MlabFamilyOptions = {}): Promise<ValidationResult> {
  const started = performance.now();
  const problems: string[] = [];
  const prepared = await prepareMlabTask(context, task, options.prepare);
  const cachedStarter = task.baseline === null ? await readStarter(prepared) : undefined;
  const image = await mlabTaskImage(context, task);
  context.onProgress?.(`mlab ${task.id}: validating (starter and reference)`);
  const steps: Record<string, number> = {};
  let stepStarted = performance.now();
  const step = (name: string): void => {
    const now = performance.now();
    steps[name] = Math.round(now - stepStarted) / 1000;
    stepStarted = now;
  };
  const { starter, reference } = await withGraderSandbox(context, { image }, async (sandbox) => {
    step("start_container");
    const starterFolder = `${WORKSPACE}/starter`;
    const referenceFolder = `${WORKSPACE}/reference`;
    await sandbox.shell(`mkdir -p ${starterFolder} ${referenceFolder}`);
    const trainErrors = new Map<string, string | null>();
    if (task.hasStarter) {
      await putPrepared(sandbox, prepared, "env", starterFolder);
      trainErrors.set(starterFolder, await runTrain(context, sandbox, starterFolder, task.timeoutSeconds));
      step("starter_train");
    }
    if (task.hasSolution) {
      await putPrepared(sandbox, prepared, "env", referenceFolder);
      await putTaskDirectory(sandbox, await TaskFolder.open(task.directory), "solution", referenceFolder);
      trainErrors.set(referenceFolder, await runTrain(context, sandbox, referenceFolder, task.timeoutSeconds));
      step("reference_train");
    }
    const grader = await installGrader(sandbox, prepared);
    // Every folder is scored, also after a failed train.py: that run shows whether eval.py can
    // be loaded at all here (an import the environment lacks makes the task ungradable).
    const toScore = [...trainErrors.keys()];
    const scored = new Map<string, ScoreOutcome>();
    if (toScore.length > 0) {
      const outcomes = await scoreFolders(context, sandbox, grader, prepared, toScore, task.timeoutSeconds);
      toScore.forEach((folder, index) => scored.set(folder, outcomes[index]!));
      step("score");
    }
    const outcome = (folder: string): (ScoreOutcome & { scoreError: string | null }) | null => {
      if (!trainErrors.has(folder)) return null;
      const trainError = trainErrors.get(folder) ?? null;
      const score = scored.get(folder)!;
      // A failed train.py is the error even when get_score found an old file to score.
      return trainError !== null ? { ...score, score: null, error: trainError, scoreError: score.error } : { ...score, scoreError: score.error };
    };
    return { starter: outcome(starterFolder), reference: outcome(referenceFolder) };
  });
  step("stop_container");

  const loadFailure = [starter, reference].find((each) => each?.loadFailed === true);
  if (loadFailure) {
    const why = loadFailure.scoreError ?? scored(loadFailure);
    problems.push(
      `scripts/eval.py can not be loaded in the task's environment (${why}), so no submission can be graded: make what it imports ` +
        'available (scripts/task.json "environment") or remove the import',
    );
  }

  const validationWarnings: string[] = [];
  let baseline = task.baseline;
  if (baseline === null) {
    if (starter && isValidScore(starter)) {
      baseline = task.timingMetric && cachedStarter ? cachedStarter.score : starter.score;
      if (cachedStarter && cachedStarter.score !== starter.score) {
        const message = `the starter is not deterministic: it scored ${starter.score} now and ${cachedStarter.score} before`;
        // A time differs on every run; upstream fixes vectorization's baseline for that reason.
        if (task.timingMetric) validationWarnings.push(`${message} (the score is a time; the first measurement is kept as the baseline)`);
        else problems.push(message);
      }
      if (!cachedStarter) {
        await writeStarter(prepared, {
          schemaVersion: CACHE_SCHEMA_VERSION,
          score: starter.score,
          trainSeconds: 0,
          measuredAt: new Date().toISOString(),
        });
      }
    } else if (!loadFailure) problems.push(unmeasurableBaseline(task, starter?.error ?? null).message);
  }

  const checks: Record<string, unknown> = {
    baseline,
    baseline_source: task.baseline !== null ? task.settingsSource : "measured",
    direction: task.direction,
    starter_score: starter && isValidScore(starter) ? starter.score : null,
    starter_error: starter?.error ?? null,
  };
  if (cachedStarter) checks.cached_starter_score = cachedStarter.score;
  if (baseline !== null && starter && isValidScore(starter)) {
    const line = mlabResultLine(task.id, starter, baseline, task.direction);
    checks.starter_improvement = line.improvement;
    if (line.success) {
      if (task.timingMetric) {
        // A time depends on the machine: upstream's fixed baseline was measured on theirs.
        validationWarnings.push(
          `the unmodified starter beats upstream's fixed baseline ${baseline} on this machine (${starter.score}); the score is a time, so this machine is faster than upstream's`,
        );
      } else problems.push("the unmodified starter already counts as a success: the baseline is too weak");
    }
  }
  if (reference === null) {
    checks.reference_score = null;
    checks.reference_improvement = null;
  } else {
    checks.reference_score = isValidScore(reference) ? reference.score : null;
    checks.reference_error = reference.error;
    if (baseline !== null) {
      const line = mlabResultLine(task.id, reference, baseline, task.direction);
      checks.reference_improvement = line.improvement;
      checks.reference_success = line.success;
      if (!line.success && !loadFailure) {
        problems.push(
          line.error !== null
            ? `the reference solution gives no valid score: ${line.error}`
            : `the reference solution improves on the baseline by ${(100 * (line.improvement ?? 0)).toFixed(1)} %, not more than 10 %`,
        );
      }
    }
  }
  // Validity needs one submission that get_score really scored: the starter's output or solution/.
  const graded = [starter, reference].some((each) => each !== null && isValidScore(each));
  if (!graded && !loadFailure && problems.length === 0) {
    problems.push(
      `no reference submission could be scored (starter: ${starter ? scored(starter) : "env/train.py is missing"}; ` +
        `${task.hasSolution ? `solution/: ${reference ? scored(reference) : "not run"}` : "there is no solution/"}), so nothing shows ` +
        "that a submission can be graded: add solution/ with files (a train.py) that write what eval.py reads",
    );
  }
  if (validationWarnings.length > 0) checks.validation_warnings = validationWarnings;
  checks.warnings = task.hasSolution ? task.warnings : [...task.warnings, MLAB_SOLUTION_MISSING];
  checks.problems = problems;
  checks.seconds = Math.round(performance.now() - started) / 1000;
  checks.step_seconds = steps;
  return { valid: problems.length === 0, checks };
}

// ---------------------------------------------------------------- the agent's side

/** The task prompt: the research problem, the workspace, the read-only files and what is graded. */
export function describeMlab(task: MlabTask): string {
  const lines = [task.researchProblem, "", "## Your workspace", ""];
  lines.push(
    `The current folder (${WORKSPACE}) holds the task's files${task.hasStarter ? ", including the starter train.py (run it with `python3 -u train.py`)" : ""}` +
      " and the data; read data_description.txt (when present) first.",
  );
  if (task.readOnlyPatterns.length > 0) {
    lines.push(
      `These files are read-only: read them, but do not change, move or delete them (a changed read-only file makes the submission invalid): ${task.readOnlyPatterns.join(", ")}.`,
    );
  }
  lines.push(
    "",
    "## What is graded",
    "",
    "Your final submission is the workspace as it is when you submit your final answer. The grader scores the files you " +
      "left there (for example submission.csv, as the problem says); it does not run train.py, so run your final " +
      "version yourself before you submit.",
  );
  return lines.join("\n");
}

/** The read-only files of a task's workspace (relative paths), for actions that refuse writes. */
export async function mlabReadOnlyFiles(context: GradingContext, task: MlabTask, options: MlabFamilyOptions = {}): Promise<string[]> {
  return Object.keys((await prepareMlabTask(context, task, options.prepare)).readOnlyFiles);
}

/** Settings of the mlab family: how prepare.py may run, and where discovery warnings go. */
export interface MlabFamilyOptions {
  prepare?: MlabPrepareOptions;
  /** Told about tasks skipped while discovering (a benchmarks/ folder's ungradable tasks). */
  onWarning?: (message: string) => void;
}

export function createMlabFamily(options: MlabFamilyOptions = {}): FamilyModule<MlabTask, MlabSubmission> {
  return {
    family: "mlab",
    ...mlabSummary,
    discover: (target) => discoverMlabTasks(target, {}, options.onWarning),
    validate: (context, task) => validateMlab(context, task, options),
    grade: (context, task, submission) => gradeMlab(context, task, submission, options),
    describe: describeMlab,
    async setUpWorkspace(context, task, sandbox) {
      const prepared = await prepareMlabTask(context, task, options.prepare);
      await putPrepared(sandbox, prepared, "env", WORKSPACE, context.signal);
    },
    async collectSubmission(context, _task, sandbox) {
      const { archive, report } = await sandbox.snapshotWithReport({ maxEntries: MLAB_MAX_ENTRIES }, context.signal);
      // Docker names entries after the copied folder: "workspace/x".
      return { archive, leftOut: report.skipped.map((entry) => entry.path.replace(/^workspace\//, "")) };
    },
    agentImage: mlabTaskImage,
    readOnlyPatterns: (task) => task.readOnlyPatterns,
  };
}

export const mlabFamily: FamilyModule<MlabTask, MlabSubmission> = createMlabFamily();
