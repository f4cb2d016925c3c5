// MLAgentBench tasks (family `mlab`): a folder with env/ (what the agent sees) and scripts/
// (prompt, prepare.py, eval.py, read-only globs, and dynabox's task.json). Loading checks the
// whole folder before anything runs; a task is either fully loaded or an error that names the
// folder, the file, the field and the fix.

import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { planTaskImage, type TaskEnvironmentSpec } from "../../grading/environment.js";
import { upstreamMlabSettings } from "./upstream-settings.js";
import { TaskFolder } from "../task-files.js";
import type { TaskBase } from "../types.js";

/** validate's warning for a task without solution/ (upstream's tasks have none). */
export const MLAB_SOLUTION_MISSING = "solution/ is missing: validate can not prove the task is solvable";

export const MLAB_DIRECTIONS = ["higher", "lower"] as const;
export type MlabDirection = (typeof MLAB_DIRECTIONS)[number];

/** The limit for one run of train.py, prepare.py or get_score when task.json does not say. */
export const DEFAULT_MLAB_TIMEOUT_SECONDS = 300;

/**
 * task.json's `environment`: what the task needs beyond the sandbox image. Its image is layered on
 * the sandbox image (ensureTaskImage), tagged by content hash, built once and reused.
 */
export const mlabEnvironmentJsonSchema = z.strictObject({
  /** Debian packages installed with apt, e.g. ["jq", "libxml2-dev"]. */
  debian_packages: z.array(z.string().min(1)).optional(),
  /** requirements.txt text, installed with pip (pins honoured) from the user's package index. */
  python_requirements: z.string().optional(),
  /** The task's Python ("3.9", "python3.13"); absent: the sandbox image's 3.11. */
  python: z.string().min(1).optional(),
  /** Dockerfile lines run as root after the packages, e.g. "RUN mkdir /opt/data". */
  dockerfile: z.string().optional(),
});
export type MlabEnvironmentJson = z.infer<typeof mlabEnvironmentJsonSchema>;

/** dynabox's `scripts/task.json`; upstream keeps these facts in one file for the whole benchmark. */
export const mlabTaskJsonSchema = z.strictObject({
  direction: z.enum(MLAB_DIRECTIONS),
  /** A fixed baseline score, or null to measure it by running the unmodified starter train.py. */
  baseline: z.number().positive().nullable().default(null),
  timeout_seconds: z.number().int().positive().default(DEFAULT_MLAB_TIMEOUT_SECONDS),
  /** Extra Debian packages, Python requirements or Dockerfile lines; absent: the sandbox image. */
  environment: mlabEnvironmentJsonSchema.optional(),
  /**
   * The task needs a GPU (true) or that many (a number): its containers get the user's --gpus
   * devices. Without --gpus it runs on the CPU with a warning.
   */
  gpu: z.union([z.boolean(), z.number().int().min(0).max(256)]).optional(),
});
export type MlabTaskJson = z.infer<typeof mlabTaskJsonSchema>;

/** task.json's snake_case `environment` as ensureTaskImage's spec. */
export function mlabEnvironmentSpec(environment: MlabEnvironmentJson): TaskEnvironmentSpec {
  return {
    ...(environment.debian_packages !== undefined ? { debianPackages: environment.debian_packages } : {}),
    ...(environment.python_requirements !== undefined ? { pythonRequirements: environment.python_requirements } : {}),
    ...(environment.dockerfile !== undefined ? { dockerfileSnippet: environment.dockerfile } : {}),
    ...(environment.python !== undefined ? { python: environment.python } : {}),
  };
}

/** What a caller may set over (or instead of) task.json, e.g. for a real upstream task. */
export const mlabOverridesSchema = z.strictObject({
  direction: z.enum(MLAB_DIRECTIONS).optional(),
  baseline: z.number().positive().nullable().optional(),
  timeoutSeconds: z.number().int().positive().optional(),
});
export type MlabOverrides = z.infer<typeof mlabOverridesSchema>;

export interface MlabTask extends TaskBase {
  family: "mlab";
  /** Absolute path of the task folder (holds env/ and scripts/). */
  directory: string;
  /** scripts/research_problem.txt, trimmed: the task prompt. */
  researchProblem: string;
  direction: MlabDirection;
  /** A fixed baseline, or null: measured once from the starter train.py and cached. */
  baseline: number | null;
  timeoutSeconds: number;
  /**
   * task.json's `environment` as ensureTaskImage's spec; null (or absent) when it has none: every
   * container of the task (prepare, baseline, validation, grading, the agent's sandbox) then runs
   * the sandbox image.
   */
  environment?: TaskEnvironmentSpec | null;
  /** Glob patterns of scripts/read_only_files.txt, in upstream's fnmatch form (`./train.csv`, `data/*`). */
  readOnlyPatterns: string[];
  hasPrepareScript: boolean;
  /** env/train.py exists (needed to measure the baseline). */
  hasStarter: boolean;
  /** solution/ exists: reference files laid over env/ for `validate`. */
  hasSolution: boolean;
  /** Where direction, baseline and timeout came from. */
  settingsSource: "task.json" | "defaults" | "task.json+overrides" | "overrides" | "upstream" | "task.json+upstream";
  /**
   * The score is a time measured on the grading machine (upstream's vectorization): a starter
   * that beats the fixed baseline on a faster machine is a warning in validate, not a problem.
   */
  timingMetric?: boolean;
  /** Things the user may want to fix that do not stop the task from loading. */
  warnings: string[];
}

async function kind(target: string): Promise<"file" | "directory" | "missing" | "other"> {
  try {
    const info = await stat(target);
    return info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
  } catch {
    return "missing";
  }
}

/** Whether a folder looks like one mlab task (rather than a folder of them). */
export async function isMlabTaskFolder(folder: string): Promise<boolean> {
  return (await kind(path.join(folder, "scripts"))) === "directory" && (await kind(path.join(folder, "env"))) === "directory";
}

function taskError(folder: string, problems: string[], file?: string): UserError {
  const list = problems.map((problem) => `  - ${problem}`).join("\n");
  return new UserError("DYNABOX_TASK_INVALID", `mlab task ${folder} can not be loaded:\n${list}`, {
    details: { folder, problems, ...(file ? { file } : {}) },
  });
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    if (issue.code === "unrecognized_keys") {
      const allowed = issue.path[0] === "environment" ? "debian_packages, python_requirements, python, dockerfile" : "direction, baseline, timeout_seconds, environment, gpu";
      const where = issue.path.length > 0 ? `in ${issue.path.join(".")} ` : "";
      return `unknown field(s) ${where}${issue.keys.join(", ")}: remove them (allowed: ${allowed})`;
    }
    return `field ${field}: ${issue.message}`;
  });
}

/** A task problem found while reading the folder: a link out of it, a FIFO... */
function fileProblem(error: unknown): string {
  if (!UserError.isInstance(error)) throw error;
  return error.message;
}

/** The kind of a task path; "refused" (and a problem) when it leads out of the task folder. */
async function taskKind(folder: TaskFolder, relative: string, problems: string[]): Promise<"file" | "directory" | "missing" | "other" | "refused"> {
  try {
    return await folder.kind(relative);
  } catch (error) {
    problems.push(fileProblem(error));
    return "refused";
  }
}

/** Checks that every file of a task part can be read from inside the task folder. */
async function checkPart(folder: TaskFolder, relative: string, problems: string[]): Promise<void> {
  try {
    await folder.walk(relative);
  } catch (error) {
    problems.push(fileProblem(error));
  }
}

/** Why a task can not be graded at all (no scripts/eval.py), or null. Used to skip such tasks in a benchmarks/ folder. */
export async function mlabUngradableReason(folder: string): Promise<string | null> {
  const task = await TaskFolder.open(folder);
  const found = await task.kind("scripts/eval.py").catch(() => "other" as const);
  return found === "missing" ? "scripts/eval.py is missing, so no submission can be graded" : null;
}

/** Loads one task folder; throws a UserError that lists every problem at once. */
export async function loadMlabTask(folder: string, overrides: MlabOverrides = {}): Promise<MlabTask> {
  const directory = path.resolve(folder);
  const problems: string[] = [];
  const warnings: string[] = [];
  const parsedOverrides = mlabOverridesSchema.safeParse(overrides);
  if (!parsedOverrides.success) {
    throw new UserError("DYNABOX_INVALID_INPUT", `mlab overrides for ${directory}: ${describeIssues(parsedOverrides.error).join("; ")}`);
  }
  if ((await kind(directory)) !== "directory") throw taskError(directory, ["the folder does not exist"]);
  // Every task file is read through the folder, which refuses links that lead out of it.
  const files = await TaskFolder.open(directory);
  const envKind = await taskKind(files, "env", problems);
  if (envKind !== "directory" && envKind !== "refused") {
    problems.push("env/ is missing: it holds the starter files the agent sees (train.py, data_description.txt)");
  }
  const scriptsKind = await taskKind(files, "scripts", problems);
  if (scriptsKind !== "directory") {
    if (scriptsKind !== "refused") problems.push("scripts/ is missing: it holds research_problem.txt, eval.py and read_only_files.txt");
    throw taskError(directory, problems);
  }
  if (envKind === "directory") await checkPart(files, "env", problems);
  await checkPart(files, "scripts", problems);

  const readText = async (relative: string): Promise<string | null> => {
    try {
      return await files.readText(relative);
    } catch (error) {
      problems.push(fileProblem(error));
      return null;
    }
  };

  let researchProblem = "";
  const problemKind = await taskKind(files, "scripts/research_problem.txt", problems);
  if (problemKind === "missing") problems.push("scripts/research_problem.txt is missing: write the task prompt in it");
  else if (problemKind === "file") {
    researchProblem = ((await readText("scripts/research_problem.txt")) ?? "").trim();
    if (researchProblem === "") problems.push("scripts/research_problem.txt is empty: write the task prompt in it");
  }

  const evalKind = await taskKind(files, "scripts/eval.py", problems);
  if (evalKind === "missing") problems.push("scripts/eval.py is missing: it must define get_score(submission_folder) -> float");
  else if (evalKind === "file") {
    const source = await readText("scripts/eval.py");
    if (source !== null && !/^def\s+get_score\s*\(/m.test(source)) {
      problems.push("scripts/eval.py does not define get_score at top level: add def get_score(submission_folder) -> float");
    }
  }

  let readOnlyPatterns: string[] = [];
  const readOnlyKind = await taskKind(files, "scripts/read_only_files.txt", problems);
  if (readOnlyKind === "file") readOnlyPatterns = parseReadOnlyPatterns((await readText("scripts/read_only_files.txt")) ?? "");
  else if (readOnlyKind === "missing") warnings.push("scripts/read_only_files.txt is missing: every file in the workspace is writable");

  let settings: MlabTaskJson = { direction: "higher", baseline: null, timeout_seconds: DEFAULT_MLAB_TIMEOUT_SECONDS };
  let settingsSource: MlabTask["settingsSource"] = "defaults";
  /** Which of direction and baseline task.json sets; upstream's plot.py settings fill the rest. */
  const setInFile = { direction: false, baseline: false };
  const taskJsonKind = await taskKind(files, "scripts/task.json", problems);
  if (taskJsonKind === "file") {
    settingsSource = "task.json";
    let raw: unknown;
    const text = await readText("scripts/task.json");
    try {
      if (text !== null) raw = JSON.parse(text);
    } catch (error) {
      problems.push(`scripts/task.json is not valid JSON (${(error as Error).message}): write {"direction": "higher"|"lower", "baseline": number|null, "timeout_seconds": N}`);
    }
    if (raw !== undefined) {
      const parsed = mlabTaskJsonSchema.safeParse(raw);
      if (parsed.success) {
        settings = parsed.data;
        setInFile.direction = true;
        setInFile.baseline = typeof raw === "object" && raw !== null && "baseline" in raw;
      } else problems.push(...describeIssues(parsed.error).map((issue) => `scripts/task.json ${issue}`));
    }
  }
  const given = parsedOverrides.data;
  const upstream = upstreamMlabSettings(path.basename(directory));
  const fromUpstream: string[] = [];
  if (upstream !== null) {
    // Upstream keeps these in MLAgentBench/plot.py, outside the task folders: used where task.json and the caller are silent.
    if (!setInFile.direction && given.direction === undefined) {
      settings = { ...settings, direction: upstream.direction };
      fromUpstream.push(`direction "${upstream.direction}"`);
    }
    if (!setInFile.baseline && given.baseline === undefined && upstream.baseline !== null) {
      settings = { ...settings, baseline: upstream.baseline };
      fromUpstream.push(`fixed baseline ${upstream.baseline}`);
    }
  }
  if (fromUpstream.length > 0) {
    settingsSource = settingsSource === "task.json" ? "task.json+upstream" : "upstream";
    warnings.push(
      `assumed upstream's settings for "${upstream!.label}" from MLAgentBench/plot.py (the folder name ${path.basename(directory)} matches it): ` +
        `${fromUpstream.join(", ")}; write them in scripts/task.json to make them explicit or to change them`,
    );
  } else if (taskJsonKind === "missing" && given.direction === undefined) {
    warnings.push(
      'scripts/task.json is missing: assuming direction "higher" (a higher score is better), a baseline measured from env/train.py ' +
        `and ${DEFAULT_MLAB_TIMEOUT_SECONDS} s per run; write {"direction": "lower"} there when a lower score is better`,
    );
  }
  let environment: TaskEnvironmentSpec | null = null;
  if (settings.environment !== undefined) {
    environment = mlabEnvironmentSpec(settings.environment);
    try {
      // Checked now (package names, requirements that can never install offline), built when first needed.
      for (const warning of planTaskImage(environment).warnings) warnings.push(`scripts/task.json environment: ${warning}`);
    } catch (error) {
      if (!UserError.isInstance(error)) throw error;
      problems.push(`scripts/task.json field environment: ${error.message}`);
    }
  }
  // Upstream keeps a task's extra packages in scripts/requirements.txt (CLRS): installed through the
  // same environment layer when task.json does not list python_requirements itself.
  if (environment?.pythonRequirements === undefined && (await taskKind(files, "scripts/requirements.txt", problems)) === "file") {
    const text = await readText("scripts/requirements.txt");
    if (text !== null && text.trim() !== "") {
      environment = { ...(environment ?? {}), pythonRequirements: text };
      try {
        for (const warning of planTaskImage(environment).warnings) warnings.push(`scripts/requirements.txt: ${warning}`);
      } catch (error) {
        if (!UserError.isInstance(error)) throw error;
        problems.push(`scripts/requirements.txt: ${error.message}`);
      }
    }
  }
  if (Object.values(given).some((value) => value !== undefined)) {
    settingsSource = settingsSource === "task.json" || settingsSource === "task.json+upstream" ? "task.json+overrides" : "overrides";
    settings = {
      direction: given.direction ?? settings.direction,
      baseline: given.baseline !== undefined ? given.baseline : settings.baseline,
      timeout_seconds: given.timeoutSeconds ?? settings.timeout_seconds,
      ...(settings.environment !== undefined ? { environment: settings.environment } : {}),
      ...(settings.gpu !== undefined ? { gpu: settings.gpu } : {}),
    };
  }

  const hasStarter = envKind === "directory" && (await taskKind(files, "env/train.py", problems)) === "file";
  if (!hasStarter && settings.baseline === null) {
    problems.push('env/train.py is missing, so the baseline can not be measured: add the starter train.py, or set "baseline" in scripts/task.json');
  }
  const hasPrepareScript = (await taskKind(files, "scripts/prepare.py", problems)) === "file";
  const solutionKind = await taskKind(files, "solution", problems);
  // A missing solution/ concerns validate only (it reports it); upstream's tasks have none, and
  // every line of `eval` would otherwise carry a warning that says nothing about its verdict.
  if (solutionKind === "directory") await checkPart(files, "solution", problems);

  if (problems.length > 0) throw taskError(directory, [...new Set(problems)]);
  return {
    id: path.basename(directory),
    family: "mlab",
    origin: directory,
    directory,
    researchProblem,
    direction: settings.direction,
    baseline: settings.baseline,
    timeoutSeconds: settings.timeout_seconds,
    environment,
    ...(settings.gpu !== undefined && settings.gpu !== false && settings.gpu !== 0 ? { gpu: settings.gpu } : {}),
    readOnlyPatterns,
    hasPrepareScript,
    hasStarter,
    hasSolution: solutionKind === "directory",
    timingMetric: upstream?.timing === true,
    settingsSource,
    warnings,
  };
}

/**
 * The mlab tasks at a path: the task itself when the path is a task folder (env/ and scripts/),
 * else every task folder directly inside it. [] for a file or a folder without tasks. In a
 * folder of tasks (upstream's benchmarks/), a task that can not be graded (no scripts/eval.py,
 * like bibtex-generation) is skipped and named through `onWarning`; any other broken task
 * throws one error that names all of them (nothing is half-loaded).
 */
export async function discoverMlabTasks(target: string, overrides: MlabOverrides = {}, onWarning?: (message: string) => void): Promise<MlabTask[]> {
  const root = path.resolve(target);
  const rootKind = await kind(root);
  if (rootKind === "missing") {
    throw new UserError("DYNABOX_INVALID_INPUT", `${root} does not exist: give a task folder or a folder of task folders (e.g. tasks/mlab)`);
  }
  if (rootKind !== "directory") return [];
  if (await isMlabTaskFolder(root)) return [await loadMlabTask(root, overrides)];
  // Links are not followed here: a task folder must be a real folder inside the one given.
  const entries = (await readdir(root, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
  const tasks: MlabTask[] = [];
  const failures: string[] = [];
  const skipped: string[] = [];
  for (const name of entries) {
    const folder = path.join(root, name);
    if (!(await isMlabTaskFolder(folder))) continue;
    const ungradable = await mlabUngradableReason(folder);
    if (ungradable !== null) {
      skipped.push(`${name} (${ungradable})`);
      continue;
    }
    try {
      tasks.push(await loadMlabTask(folder, overrides));
    } catch (error) {
      if (!UserError.isInstance(error)) throw error;
      failures.push(error.message);
    }
  }
  if (failures.length > 0) {
    throw new UserError("DYNABOX_TASK_INVALID", `${failures.length} mlab task(s) under ${root} can not be loaded; fix them or move them out:\n${failures.join("\n")}`, {
      details: { folder: root },
    });
  }
  if (skipped.length > 0) {
    onWarning?.(`skipped ${skipped.length} mlab task(s) under ${root} that can not be graded: ${skipped.join("; ")}`);
  }
  return tasks;
}

// ---------------------------------------------------------------- read-only files

/** The lines of read_only_files.txt that are patterns (upstream splits on newlines; blanks match nothing). */
export function parseReadOnlyPatterns(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/**
 * Python's fnmatch.translate as a RegExp: `*` matches any run of characters (including `/`),
 * `?` one character, `[seq]` / `[!seq]` a set; a lone `[` is literal. Case-sensitive (POSIX).
 */
export function fnmatchToRegExp(pattern: string): RegExp {
  let out = "";
  for (let index = 0; index < pattern.length; ) {
    const character = pattern[index++]!;
    if (character === "*") {
      out += ".*";
      while (pattern[index] === "*") index++;
    } else if (character === "?") out += ".";
    else if (character === "[") {
      let end = index;
      if (pattern[end] === "!") end++;
      if (pattern[end] === "]") end++;
      while (end < pattern.length && pattern[end] !== "]") end++;
      if (end >= pattern.length) out += "\\[";
      else {
        let body = pattern.slice(index, end).replace(/\\/g, "\\\\");
        index = end + 1;
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        else if (body.startsWith("^")) body = `\\${body}`;
        // JavaScript reads `[]` as an empty set; Python reads a leading `]` as a member.
        if (body.startsWith("]")) body = `\\${body}`;
        else if (body.startsWith("^]")) body = `^\\${body.slice(1)}`;
        out += `[${body}]`;
      }
    } else out += character.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/** How upstream names a workspace file when matching: `./train.csv` at the top, `data/train.csv` below. */
export function upstreamFileName(relativePath: string): string {
  return relativePath.includes("/") ? relativePath : `./${relativePath}`;
}

/** The files (relative paths with `/`) that the read-only patterns cover. */
export function matchReadOnlyFiles(patterns: string[], relativePaths: string[]): string[] {
  const expressions = patterns.map(fnmatchToRegExp);
  return relativePaths.filter((relative) => {
    const name = upstreamFileName(relative);
    return expressions.some((expression) => expression.test(name));
  });
}
