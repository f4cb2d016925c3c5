// The mlab cache: each task prepared once (prepare.py run in a fresh network-off container on
// a copy of the task, never in the user's folder) under <cacheDirectory>/mlab/<task id>-<hash>/,
// with the starter's measured score beside it. Entries appear atomically (staged, then renamed).

import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { WORKSPACE } from "../../sandbox/profile.js";
import { matchReadOnlyFiles, type MlabTask } from "./task.js";
import { putTaskDirectory, TaskFolder } from "../task-files.js";
import { withGraderSandbox, type GradingContext } from "../../grading/context.js";
import { lastLines } from "../../grading/container-step.js";
import { ensureTaskImage } from "../../grading/environment.js";

/** Bump when the way tasks are prepared changes, so old cache entries are not reused. */
const PREPARE_RECIPE = "mlab-prepare-2";
export const CACHE_SCHEMA_VERSION = 1;
const PREPARED_FILE = "prepared.json";
const STARTER_FILE = "starter.json";
/** Most files and folders of a prepared task, and so of a workspace snapshot. */
export const MLAB_MAX_ENTRIES = 200_000;
/**
 * Prepared data can be large. The workspace volume does not cap what comes out (a sparse file's
 * apparent size passes any disk quota), so these caps do; copy-out keeps holes as holes.
 */
const COPY_OUT_LIMITS = { maxBytes: 8 * 1024 ** 3, maxEntries: MLAB_MAX_ENTRIES };

const preparedRecordSchema = z.object({
  schemaVersion: z.literal(CACHE_SCHEMA_VERSION),
  taskId: z.string(),
  /** Relative path in env/ -> sha256 of the prepared original. */
  readOnlyFiles: z.record(z.string(), z.string()),
  ranPrepareScript: z.boolean(),
  seconds: z.number(),
});

export const starterRecordSchema = z.object({
  schemaVersion: z.literal(CACHE_SCHEMA_VERSION),
  score: z.number(),
  trainSeconds: z.number(),
  measuredAt: z.string(),
});
export type StarterRecord = z.infer<typeof starterRecordSchema>;

export interface PreparedMlabTask {
  /** `<cacheDirectory>/mlab/<task id>-<hash>`. */
  directory: string;
  /** The prepared env/: what an agent's workspace starts with. */
  env: string;
  /** The prepared scripts/ (with hidden answers): only ever copied into grader containers. */
  scripts: string;
  /** Relative paths in env/ covered by read_only_files.txt, with their sha256. */
  readOnlyFiles: Record<string, string>;
}

const SKIPPED_NAMES = new Set(["__pycache__", ".DS_Store"]);
/** Python's caches are not task content: left out of hashes, copies and packs. */
export const SKIP_CACHE_FILES = { skip: (name: string) => SKIPPED_NAMES.has(name) || name.endsWith(".pyc") };

async function sha256File(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

/**
 * Hash of what preparing depends on: the task's env/ and scripts/ (read through TaskFolder, so a
 * link out of the task is refused here, before anything is copied), the image, the recipe.
 */
async function taskHash(task: MlabTask, image: string): Promise<string> {
  const hash = createHash("sha256").update(`${PREPARE_RECIPE}\0${image}\0`);
  const folder = await TaskFolder.open(task.directory);
  for (const part of ["env", "scripts"]) hash.update(`${part}\0${await folder.hash(part, SKIP_CACHE_FILES)}\0`);
  return hash.digest("hex").slice(0, 16);
}

function cacheName(task: MlabTask, hash: string): string {
  return `${task.id.replace(/[^A-Za-z0-9._-]/g, "_")}-${hash}`;
}

async function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  );
}


/**
 * The image every container of the task runs (prepare, baseline, validation, grading, the agent's
 * sandbox): the sandbox image when task.json has no `environment` (no Docker call at all),
 * otherwise the task environment image, built once and then reused.
 */
export async function mlabTaskImage(context: GradingContext, task: MlabTask): Promise<string> {
  if (!task.environment) return context.sandboxImage;
  return ensureTaskImage(context, task.environment);
}

/**
 * How prepare.py may run. Upstream's Kaggle tasks download their data and first ask for consent
 * with input(); these let a user on a networked machine allow that for prepare.py only (benchmark
 * code, not agent code). Grading and agent containers never get any of it.
 */
export interface MlabPrepareOptions {
  /** Give the prepare container a network (Docker's bridge). */
  network?: boolean;
  /** Answer prepare.py's input() prompts (upstream's Kaggle consent) with empty lines on stdin. */
  consent?: boolean;
  /** Environment variables for prepare.py alone, e.g. KAGGLE_USERNAME and KAGGLE_KEY. */
  credentials?: Record<string, string>;
}

const preparing = new Map<string, Promise<PreparedMlabTask>>();

/**
 * The prepared copy of a task, made once: prepare.py runs (cwd scripts/, network off) in a
 * fresh container on a copy of the task, never in the user's folder; the result is kept in the
 * cache and reused while the task files and the image stay the same.
 */
export async function prepareMlabTask(context: GradingContext, task: MlabTask, options: MlabPrepareOptions = {}): Promise<PreparedMlabTask> {
  const root = path.join(context.cacheDirectory, "mlab");
  const directory = path.join(root, cacheName(task, await taskHash(task, context.sandboxImage)));
  let pending = preparing.get(directory);
  if (!pending) {
    pending = loadOrPrepare(context, task, root, directory, options);
    preparing.set(directory, pending);
    // Only calls in flight share the work; later calls look at the cache on disk again.
    pending.then(
      () => preparing.delete(directory),
      () => preparing.delete(directory),
    );
  }
  return pending;
}

async function readPrepared(directory: string): Promise<PreparedMlabTask | undefined> {
  if (!(await exists(path.join(directory, "scripts", "prepared")))) return undefined;
  const raw = await readFile(path.join(directory, PREPARED_FILE), "utf8").catch(() => undefined);
  if (raw === undefined) return undefined;
  const record = preparedRecordSchema.safeParse(parseJson(raw));
  if (!record.success) return undefined;
  return {
    directory,
    env: path.join(directory, "env"),
    scripts: path.join(directory, "scripts"),
    readOnlyFiles: record.data.readOnlyFiles,
  };
}

async function loadOrPrepare(
  context: GradingContext,
  task: MlabTask,
  root: string,
  directory: string,
  options: MlabPrepareOptions,
): Promise<PreparedMlabTask> {
  const cached = await readPrepared(directory);
  if (cached) return cached;
  await mkdir(root, { recursive: true });
  const staging = path.join(root, `.staging-${path.basename(directory)}-${randomBytes(4).toString("hex")}`);
  try {
    const started = performance.now();
    const ranPrepareScript = await prepareInto(context, task, staging, options);
    const stagingFolder = await TaskFolder.open(staging);
    const envFiles = (await stagingFolder.listFiles("env", SKIP_CACHE_FILES)).map((entry) => entry.relative);
    const readOnlyFiles: Record<string, string> = {};
    for (const relative of matchReadOnlyFiles(task.readOnlyPatterns, envFiles)) {
      readOnlyFiles[relative] = await sha256File(path.join(staging, "env", relative));
    }
    const record: z.infer<typeof preparedRecordSchema> = {
      schemaVersion: CACHE_SCHEMA_VERSION,
      taskId: task.id,
      readOnlyFiles,
      ranPrepareScript,
      seconds: Math.round(performance.now() - started) / 1000,
    };
    await writeFile(path.join(staging, PREPARED_FILE), `${JSON.stringify(record, null, 2)}\n`);
    try {
      await rename(staging, directory);
    } catch (error) {
      // Another process prepared the same task meanwhile: use theirs.
      const theirs = await readPrepared(directory);
      if (!theirs) throw error;
      return theirs;
    }
    const prepared = await readPrepared(directory);
    if (!prepared) throw new UserError("DYNABOX_TASK_INVALID", `mlab task ${task.id}: the prepared copy in ${directory} is incomplete; delete it and retry`);
    return prepared;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Fills `staging` with the prepared env/ and scripts/; says whether prepare.py ran. */
async function prepareInto(context: GradingContext, task: MlabTask, staging: string, options: MlabPrepareOptions): Promise<boolean> {
  const folder = await TaskFolder.open(task.directory);
  const copyTask = async (): Promise<void> => {
    for (const part of ["env", "scripts"]) await folder.copyTo(part, path.join(staging, part), SKIP_CACHE_FILES);
  };
  // As upstream: a task whose scripts/prepared exists (or that has no prepare.py) is used as it is.
  if (!task.hasPrepareScript || (await exists(path.join(task.directory, "scripts", "prepared")))) {
    await copyTask();
    await writeFile(path.join(staging, "scripts", "prepared"), "success");
    return false;
  }
  const image = await mlabTaskImage(context, task);
  context.onProgress?.(`mlab ${task.id}: running prepare.py${options.network ? " (with a network)" : ""}`);
  await withGraderSandbox(context, { image, network: options.network === true }, async (sandbox) => {
    const signal = context.signal;
    const base = `${WORKSPACE}/task`;
    await sandbox.shell(`mkdir -p ${base}/env ${base}/scripts`, { ...(signal ? { signal } : {}) });
    await putTaskDirectory(sandbox, folder, "env", `${base}/env`, SKIP_CACHE_FILES);
    await putTaskDirectory(sandbox, folder, "scripts", `${base}/scripts`, SKIP_CACHE_FILES);
    // Upstream's consent prompt is `input(...)`: with consent, every prompt reads an empty line.
    const stdin = options.consent ? "yes '' | " : "";
    const run = await sandbox.shell(`${stdin}python3 -u prepare.py && { test -f prepared || printf success > prepared; }`, {
      cwd: `${base}/scripts`,
      timeoutSeconds: task.timeoutSeconds,
      ...(options.credentials ? { env: options.credentials } : {}),
      ...(signal ? { signal } : {}),
    });
    if (run.exitCode !== 0 || run.timedOut) {
      const why = run.timedOut ? `did not finish within ${task.timeoutSeconds} s` : run.oom ? "ran out of memory" : `exited with ${run.exitCode}`;
      const output = lastLines(run.stderr || run.stdout);
      const hints = [
        options.network ? null : "it ran without a network: --prepare-network lets prepare.py download its data",
        options.consent || !output.includes("EOFError") ? null : "it asked for input: --prepare-consent answers upstream's consent prompt",
        "or put the prepared data into env/ (and the hidden answers into scripts/) yourself and create scripts/prepared to skip prepare.py",
      ].filter((hint): hint is string => hint !== null);
      throw new UserError(
        "DYNABOX_TASK_INVALID",
        `mlab task ${task.id}: scripts/prepare.py ${why} (cwd scripts/). ${hints.join("; ")}.\n${output}`,
        { details: { folder: task.directory, file: "scripts/prepare.py" } },
      );
    }
    await mkdir(staging, { recursive: true });
    await sandbox.copyOut(base, staging, COPY_OUT_LIMITS);
  });
  return true;
}

/** JSON text from the cache, or undefined when it is damaged (the entry is then redone). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function readStarter(prepared: PreparedMlabTask): Promise<StarterRecord | undefined> {
  const raw = await readFile(path.join(prepared.directory, STARTER_FILE), "utf8").catch(() => undefined);
  if (raw === undefined) return undefined;
  const parsed = starterRecordSchema.safeParse(parseJson(raw));
  return parsed.success ? parsed.data : undefined;
}

export async function writeStarter(prepared: PreparedMlabTask, record: StarterRecord): Promise<void> {
  const file = path.join(prepared.directory, STARTER_FILE);
  const temporary = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temporary, file);
}
