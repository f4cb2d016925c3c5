// RES-Q grading, validity check and agent hooks.
//
// A submission is a patch (unified diff against base_commit). It is graded in a fresh,
// network-off container built from the task's environment image:
//   1. the clean repository (base_commit and its history only, never the solution) is copied in
//      at /workspace/repo, then `git reset --hard <base> && git clean -fdx`;
//   2. the patch is applied as upstream does (resq-patch.ts): "" is PATCH FAILED "Empty patch",
//      anything else goes through upstream's filter to `git apply --reject --whitespace=fix -v`,
//      unchanged (no newline added); a failure is PATCH FAILED with git's stderr;
//   3. test_script runs through the RES-Q launcher (resq-test-run.ts, sandbox/resq_launcher.py): a
//      probe at its first sys.exit(0) / sys.exit(exit_code), the script never on disk, the
//      standard library ahead of the repository, an observer process the test can not reach;
//   4. PASS only on exit status 0 with the observer's proof that the exit line was reached,
//      TIMED OUT on the timeout, FAIL otherwise. Review flags (patch text, run-time introspection)
//      go with the verdict.
// The patch can therefore not plant the test, nor pass by exiting 0 early, by printing "PASS" or
// by reading the script, nor reach the solution through git (it is not in the container).

import { randomBytes } from "node:crypto";
import path from "node:path";
import { InternalError, SandboxError, UserError } from "../../errors.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { RepositoryCache, type CleanRepository } from "./repo-cache.js";
import { discoverResqTasks, type ResqTask } from "./task.js";
import type { FamilyModule, ValidationResult, Verdict } from "../types.js";
import { reportWarning, withGraderSandbox, type GraderSandboxOptions, type GradingContext } from "../../grading/context.js";
import { ensurePythonSandbox } from "../../environments/python-images.js";
import { ensureTaskImage, SANDBOX_PYTHON_VERSION, type PythonMismatchPolicy, type TaskEnvironmentSpec } from "../../grading/environment.js";
import { applyPatchCommand, planPatch } from "./patch.js";
import { resqReviewFlags, resqRunFeedback, runResqTestScript } from "./test-run.js";
import { testFeedback } from "./test-script.js";
import { runContainerStep, stopwatch } from "../../grading/container-step.js";
import { resqSummary } from "./summary.js";

/** Where the repository is, in the agent's sandbox and in the grader's container. */
export const RESQ_REPOSITORY_PATH = "/workspace/repo";

export type ResqMessage = "PASS" | "FAIL" | "PATCH FAILED" | "TIMED OUT";

/** The upstream result line. */
export interface ResqResultLine {
  id: string;
  success: boolean;
  message: ResqMessage;
  test_suite_feedback: string;
  /** dynabox's addition, present only when not empty: what a person should review (see Verdict.reviewFlags). */
  review_flags?: string[];
}

export interface ResqOptions {
  /** Limit for one run of the test script, in seconds (upstream CLI: 60). */
  testTimeoutSeconds?: number;
  /**
   * What to do when testbed_environment asks for another Python than the image's 3.11:
   * "error" (default) refuses the task; "warn" runs it on 3.11 and reports a warning.
   */
  pythonMismatch?: PythonMismatchPolicy;
  /** Most characters of test output kept in test_suite_feedback. */
  feedbackLimit?: number;
  /** Longest a task environment build may take, in seconds. */
  buildTimeoutSeconds?: number;
  /** Container limits of the grading container. */
  limits?: GraderSandboxOptions["limits"];
}

export const RESQ_DEFAULTS = {
  testTimeoutSeconds: 60,
  pythonMismatch: "error",
  feedbackLimit: 16 * 1024,
  buildTimeoutSeconds: 900,
} as const;

/** The patch file's name beside the repository, as upstream names it. */
const UPSTREAM_PATCH_FILE = "temp.patch";

/** Seconds allowed for git steps (reset, apply, diff) in a container. */
const GIT_STEP_SECONDS = 120;
/** Bytes of the test's stdout and stderr kept by the kernel; the secret is printed near the end. */
const TEST_OUTPUT_LIMIT = 1024 * 1024;
/** The biggest patch collectSubmission accepts. */
const MAX_PATCH_BYTES = 64 * 1024 * 1024;

function repositoryCache(context: GradingContext): RepositoryCache {
  return new RepositoryCache({
    cacheDirectory: context.cacheDirectory,
    ...(context.signal ? { signal: context.signal } : {}),
    ...(context.onProgress ? { onProgress: context.onProgress } : {}),
  });
}

/** The clean repository of a task: base_commit and its history, checked to hold no solution. */
export function cleanRepositoryFor(context: GradingContext, task: ResqTask): Promise<CleanRepository> {
  return repositoryCache(context).cleanRepository(task.repository, task.row.base_commit, [task.row.solution_commit]);
}

/** What the task's environment needs beyond the sandbox image. */
export function resqEnvironmentSpec(task: ResqTask): TaskEnvironmentSpec {
  return task.row.requirements_txt.trim() === "" ? {} : { pythonRequirements: task.row.requirements_txt };
}

/**
 * The image to run the task in (the agent's sandbox uses it too): a sandbox on the Python that
 * testbed_environment asks for (src/environments/python-images.ts), then the requirements layer.
 * A Python that can not be had here is an error, or with pythonMismatch "warn" a warning and the
 * default image's Python.
 */
export async function resqEnvironmentImage(context: GradingContext, task: ResqTask, options: ResqOptions = {}): Promise<string> {
  const policy = options.pythonMismatch ?? RESQ_DEFAULTS.pythonMismatch;
  let sandboxImage = context.sandboxImage;
  try {
    sandboxImage = await ensurePythonSandbox(
      { docker: context.docker, sandboxImage: context.sandboxImage, signal: context.signal, onProgress: context.onProgress, verbose: context.environment?.verbose },
      task.row.testbed_environment,
    );
  } catch (error) {
    if (!UserError.isInstance(error) || error.code !== "DYNABOX_TASK_INVALID") throw error;
    if (policy === "warn") {
      reportWarning(context, `${task.id}: ${error.message}; running on the sandbox image's Python ${SANDBOX_PYTHON_VERSION} anyway (--python-mismatch warn)`);
    } else {
      throw new UserError(
        "DYNABOX_TASK_INVALID",
        `${error.message}. To run it on the sandbox image's Python ${SANDBOX_PYTHON_VERSION} anyway, pass --python-mismatch warn ` +
          "(the test may then fail for reasons that have nothing to do with the agent's work)",
        { ...(error.details ? { details: error.details } : {}) },
      );
    }
  }
  return ensureTaskImage({ ...context, sandboxImage }, resqEnvironmentSpec(task), {
    buildTimeoutSeconds: options.buildTimeoutSeconds ?? RESQ_DEFAULTS.buildTimeoutSeconds,
  });
}

/** Puts a clean repository at RESQ_REPOSITORY_PATH with its work tree at base_commit. */
async function putRepository(sandbox: Sandbox, clean: CleanRepository, signal: AbortSignal | undefined): Promise<void> {
  const stop = signal ? { signal } : {};
  const made = await sandbox.shell(`mkdir -p ${RESQ_REPOSITORY_PATH}`, { timeoutSeconds: 30, ...stop });
  if (made.exitCode !== 0) throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not create ${RESQ_REPOSITORY_PATH}: ${made.stderr}`);
  await sandbox.putDirectory(clean.directory, RESQ_REPOSITORY_PATH, signal);
  const reset = await sandbox.shell(`git reset -q --hard ${clean.baseCommit} && git clean -fdxq`, {
    cwd: RESQ_REPOSITORY_PATH,
    timeoutSeconds: GIT_STEP_SECONDS,
    ...stop,
  });
  if (reset.exitCode !== 0) {
    throw new InternalError(`could not check out ${clean.baseCommit} in the container: ${reset.stderr.trim() || reset.stdout.trim()}`);
  }
}

/**
 * The upstream result line (resq/task.py): a PASS and a TIMED OUT carry no feedback; FAIL and
 * PATCH FAILED carry what the caller gives (the test's output, git's stderr).
 */
export function resqResultLine(id: string, message: ResqMessage, feedback: string): ResqResultLine {
  const silent = message === "PASS" || message === "TIMED OUT";
  return { id, success: message === "PASS", message, test_suite_feedback: silent ? "" : feedback };
}

/**
 * Grades one patch; the upstream result line and the seconds it took. `null` runs the test at
 * base_commit with no patch at all (validation's "fails at base" check; upstream has no such
 * case, and an empty patch is PATCH FAILED there).
 */
export async function runResqTest(
  context: GradingContext,
  task: ResqTask,
  patch: string | null,
  options: ResqOptions = {},
): Promise<{ line: ResqResultLine; seconds: number }> {
  const seconds = stopwatch();
  const timeoutSeconds = options.testTimeoutSeconds ?? RESQ_DEFAULTS.testTimeoutSeconds;
  const feedbackLimit = options.feedbackLimit ?? RESQ_DEFAULTS.feedbackLimit;
  const line = (message: ResqMessage, feedback: string, reviewFlags: string[] = []): ResqResultLine => ({
    ...resqResultLine(task.id, message, feedback),
    ...(reviewFlags.length > 0 ? { review_flags: reviewFlags } : {}),
  });
  // Upstream decides on an empty patch before it sets up any environment (resq/task.py).
  const plan = patch === null ? undefined : planPatch(patch);
  if (plan !== undefined && !plan.apply) return { line: line("PATCH FAILED", plan.feedback), seconds: seconds() };
  const image = await resqEnvironmentImage(context, task, options);
  const clean = await cleanRepositoryFor(context, task);
  const graderOptions: GraderSandboxOptions = { image, ...(options.limits ? { limits: options.limits } : {}) };
  const result = await withGraderSandbox(context, graderOptions, async (sandbox) => {
    await putRepository(sandbox, clean, context.signal);

    if (plan?.apply) {
      // Upstream's place and name (resq/git/utils.py aapply_patch: `<repo>/../temp.patch`, given
      // to git as `../temp.patch`): git names the file in its whitespace warnings, so the
      // feedback is upstream's byte for byte. Outside the repository, and removed after the
      // apply as upstream does, so the test never sees it.
      const { run: applied } = await runContainerStep(sandbox, {
        files: [{ path: UPSTREAM_PATCH_FILE, content: plan.text }],
        filesInto: path.posix.dirname(RESQ_REPOSITORY_PATH),
        command: `${applyPatchCommand(`../${UPSTREAM_PATCH_FILE}`)}; status=$?; rm -f ../${UPSTREAM_PATCH_FILE}; exit $status`,
        cwd: RESQ_REPOSITORY_PATH,
        timeoutSeconds: GIT_STEP_SECONDS,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (applied.exitCode !== 0) return line("PATCH FAILED", applied.stderr);
    }

    const test = await runResqTestScript(sandbox, task.row.test_script, {
      cwd: RESQ_REPOSITORY_PATH,
      timeoutSeconds,
      outputLimitBytes: TEST_OUTPUT_LIMIT,
      taskId: task.id,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    return line(test.message, resqRunFeedback(test, timeoutSeconds, feedbackLimit), resqReviewFlags(plan?.apply ? plan.text : "", test.report));
  });
  return { line: result, seconds: seconds() };
}

export function toResqVerdict(task: ResqTask, line: ResqResultLine, seconds: number): Verdict {
  return {
    taskId: task.id,
    family: "resq",
    passed: line.success,
    score: line.success ? 1 : 0,
    upstream: { ...line },
    seconds,
    ...(line.review_flags && line.review_flags.length > 0 ? { reviewFlags: [...line.review_flags] } : {}),
  };
}

export async function gradeResq(context: GradingContext, task: ResqTask, patch: string, options: ResqOptions = {}): Promise<Verdict> {
  const { line, seconds } = await runResqTest(context, task, patch, options);
  return toResqVerdict(task, line, seconds);
}

/** Valid when the test fails at base_commit (any message but PASS) and passes with solution_patch. */
export async function validateResq(context: GradingContext, task: ResqTask, options: ResqOptions = {}): Promise<ValidationResult> {
  const seconds = stopwatch();
  const base = await runResqTest(context, task, null, options);
  const solution = await runResqTest(context, task, task.row.solution_patch, options);
  // Why a task is not valid, in words: the messages alone do not say what to fix.
  const problems: string[] = [];
  if (base.line.message === "PASS") problems.push("test_script passes at base_commit with no patch, so it can not tell a solution from no work");
  if (solution.line.message !== "PASS") {
    const feedback = solution.line.test_suite_feedback.trimEnd();
    const shown = feedback.length > 600 ? `...${feedback.slice(-600)}` : feedback;
    problems.push(`solution_patch gives ${solution.line.message}${shown === "" ? "" : `: ${shown}`}`);
  }
  return {
    valid: problems.length === 0,
    checks: {
      base: base.line.message,
      solution: solution.line.message,
      seconds: seconds(),
      ...(problems.length > 0 ? { problems } : {}),
    },
  };
}

export function describeResqTask(task: ResqTask): string {
  const base = task.row.base_commit;
  return [
    task.row.instruction.trim(),
    "",
    "## How to work",
    `The repository is at ${RESQ_REPOSITORY_PATH}, a git repository on branch main at commit ${base}` +
      (task.row.language ? ` (main language: ${task.row.language})` : "") +
      ". Edit its files in place. You can run Python 3.11, git and node there; there is no network.",
    `Your work is taken as \`git diff ${base}\` of ${RESQ_REPOSITORY_PATH} when you finish: changed, new ` +
      "and deleted files all count (not __pycache__ or .pyc files), committed or not. " +
      "Files outside the repository are not part of it.",
    "Hidden tests check your change in a fresh copy of the repository; adding or editing test files " +
      "does not affect them. Keep the change focused on the task.",
  ].join("\n");
}

/** Puts the clean repository (no solution objects, no test script) at /workspace/repo. */
export async function setUpResqWorkspace(context: GradingContext, task: ResqTask, sandbox: Sandbox): Promise<void> {
  await putRepository(sandbox, await cleanRepositoryFor(context, task), context.signal);
}

/**
 * The agent's patch: `git diff --cached --binary <base>` of the work tree, staged into a private
 * index with `git add -A` (untracked files included, __pycache__ and .pyc excluded). It uses a
 * fresh copy of the clean repository's .git, so whatever the agent did to its own .git (deleted it,
 * rewrote its config, moved HEAD) does not change the diff.
 */
export async function collectResqSubmission(context: GradingContext, task: ResqTask, sandbox: Sandbox): Promise<string> {
  const clean = await cleanRepositoryFor(context, task);
  const work = `/workspace/.dynabox-collect-${randomBytes(8).toString("hex")}`;
  const stop = context.signal ? { signal: context.signal } : {};
  try {
    const made = await sandbox.shell(`mkdir -p ${work}/git ${work}/out ${RESQ_REPOSITORY_PATH}`, { timeoutSeconds: 30, ...stop });
    if (made.exitCode !== 0) throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not prepare the diff: ${made.stderr}`);
    await sandbox.putDirectory(clean.directory, `${work}/git`, context.signal);
    const script = [
      "set -e",
      `export GIT_DIR=${work}/git/.git GIT_WORK_TREE=${RESQ_REPOSITORY_PATH} GIT_INDEX_FILE=${work}/index`,
      "export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1",
      `git read-tree ${clean.baseCommit}`,
      "git add -A -- . ':(exclude,glob)**/__pycache__/**' ':(exclude,glob)**/*.pyc'",
      `git diff --cached --binary --no-ext-diff --no-color --no-renames ${clean.baseCommit} > ${work}/out/patch.diff`,
    ].join("\n");
    const diff = await sandbox.shell(script, { cwd: RESQ_REPOSITORY_PATH, timeoutSeconds: GIT_STEP_SECONDS, ...stop });
    if (diff.exitCode !== 0) {
      throw new SandboxError("DYNABOX_SANDBOX_LOST", `could not take the patch out of the sandbox: ${diff.stderr.trim() || diff.stdout.trim()}`);
    }
    const files = await sandbox.readFiles(`${work}/out`, { maxBytes: MAX_PATCH_BYTES }, context.signal);
    return files.get("patch.diff")?.toString("utf8") ?? "";
  } finally {
    if (sandbox.isAlive) await sandbox.shell(`rm -rf ${work}`, { timeoutSeconds: 30 }).catch(() => undefined);
  }
}

export function createResqFamily(options: ResqOptions = {}): FamilyModule<ResqTask, string> {
  return {
    family: "resq",
    ...resqSummary,
    discover: discoverResqTasks,
    validate: (context, task) => validateResq(context, task, options),
    grade: (context, task, patch) => gradeResq(context, task, patch, options),
    describe: describeResqTask,
    setUpWorkspace: setUpResqWorkspace,
    collectSubmission: collectResqSubmission,
    // The agent works in the same environment the tests run in (requirements_txt installed).
    agentImage: (context, task) => resqEnvironmentImage(context, task, options),
  };
}

export const resqFamily: FamilyModule<ResqTask, string> = createResqFamily();
