// MLAgentBench tasks (family `mlab`): a folder with env/ (what the agent sees) and scripts/
// (prompt, prepare.py, eval.py, read-only globs, and dynabox's task.json). Loading checks the
// whole folder before anything runs; a task is either fully loaded or an error that names the
// folder, the file, the field and the fix.

import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { planTaskImage, type TaskEnvironmentSpec } from "../grading/environment.js";
import type { TaskBase } from "./types.js";

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
  /** requirements.txt text; each requirement is installed as its Debian package (python3-<name>). */
  python_requirements: z.string().optional(),
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
});
export type MlabTaskJson = z.infer<typeof mlabTaskJsonSchema>;

/** task.json's snake_case `environment` as ensureTaskImage's spec. */
export function mlabEnvironmentSpec(environment: MlabEnvironmentJson): TaskEnvironmentSpec {
  return {
    ...(environment.debian_packages !== undefined ? { debianPackages: environment.debian_packages } : {}),
    ...(environment.python_requirements !== undefined ? { pythonRequirements: environment.python_requirements } : {}),
    ...(environment.dockerfile !== undefined ? { dockerfileSnippet: environment.dockerfile } : {}),
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
  settingsSource: "task.json" | "defaults" | "task.json+overrides" | "overrides";
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
      const allowed = issue.path[0] === "environment" ? "debian_packages, python_requirements, dockerfile" : "direction, baseline, timeout_seconds, environment";
      const where = issue.path.length > 0 ? `in ${issue.path.join(".")} ` : "";
      return `unknown field(s) ${where}${issue.keys.join(", ")}: remove them (allowed: ${allowed})`;
    }
    return `field ${field}: ${issue.message}`;
  });
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
  const scripts = path.join(directory, "scripts");
  const env = path.join(directory, "env");
  if ((await kind(env)) !== "directory") problems.push("env/ is missing: it holds the starter files the agent sees (train.py, data_description.txt)");
  if ((await kind(scripts)) !== "directory") {
    problems.push("scripts/ is missing: it holds research_problem.txt, eval.py and read_only_files.txt");
    throw taskError(directory, problems);
  }

  let researchProblem = "";
  const problemFile = path.join(scripts, "research_problem.txt");
  if ((await kind(problemFile)) !== "file") problems.push("scripts/research_problem.txt is missing: write the task prompt in it");
  else {
    researchProblem = (await readFile(problemFile, "utf8")).trim();
    if (researchProblem === "") problems.push("scripts/research_problem.txt is empty: write the task prompt in it");
  }

  const evalFile = path.join(scripts, "eval.py");
  if ((await kind(evalFile)) !== "file") problems.push("scripts/eval.py is missing: it must define get_score(submission_folder) -> float");
  else if (!/^def\s+get_score\s*\(/m.test(await readFile(evalFile, "utf8"))) {
    problems.push("scripts/eval.py does not define get_score at top level: add def get_score(submission_folder) -> float");
  }

  let readOnlyPatterns: string[] = [];
  const readOnlyFile = path.join(scripts, "read_only_files.txt");
  if ((await kind(readOnlyFile)) === "file") readOnlyPatterns = parseReadOnlyPatterns(await readFile(readOnlyFile, "utf8"));
  else warnings.push("scripts/read_only_files.txt is missing: every file in the workspace is writable");

  let settings: MlabTaskJson = { direction: "higher", baseline: null, timeout_seconds: DEFAULT_MLAB_TIMEOUT_SECONDS };
  let settingsSource: MlabTask["settingsSource"] = "defaults";
  const taskJsonFile = path.join(scripts, "task.json");
  if ((await kind(taskJsonFile)) === "file") {
    settingsSource = "task.json";
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(taskJsonFile, "utf8"));
    } catch (error) {
      problems.push(`scripts/task.json is not valid JSON (${(error as Error).message}): write {"direction": "higher"|"lower", "baseline": number|null, "timeout_seconds": N}`);
    }
    if (raw !== undefined) {
      const parsed = mlabTaskJsonSchema.safeParse(raw);
      if (parsed.success) settings = parsed.data;
      else problems.push(...describeIssues(parsed.error).map((issue) => `scripts/task.json ${issue}`));
    }
  } else if (overrides.direction === undefined) {
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
  const given = parsedOverrides.data;
  if (Object.values(given).some((value) => value !== undefined)) {
    settingsSource = settingsSource === "task.json" ? "task.json+overrides" : "overrides";
    settings = {
      direction: given.direction ?? settings.direction,
      baseline: given.baseline !== undefined ? given.baseline : settings.baseline,
      timeout_seconds: given.timeoutSeconds ?? settings.timeout_seconds,
    };
  }

  const hasStarter = (await kind(path.join(env, "train.py"))) === "file";
  if (!hasStarter && settings.baseline === null) {
    problems.push('env/train.py is missing, so the baseline can not be measured: add the starter train.py, or set "baseline" in scripts/task.json');
  }
  const hasPrepareScript = (await kind(path.join(scripts, "prepare.py"))) === "file";
  const solutionKind = await kind(path.join(directory, "solution"));
  if (solutionKind === "missing") warnings.push("solution/ is missing: validate can not prove the task is solvable");

  if (problems.length > 0) throw taskError(directory, problems);
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
    readOnlyPatterns,
    hasPrepareScript,
    hasStarter,
    hasSolution: solutionKind === "directory",
    settingsSource,
    warnings,
  };
}

/**
 * The mlab tasks at a path: the task itself when the path is a task folder (env/ and scripts/),
 * else every task folder directly inside it. [] for a file or a folder without tasks. When any
 * task is broken, throws one error that names all of them (nothing is half-loaded).
 */
export async function discoverMlabTasks(target: string, overrides: MlabOverrides = {}): Promise<MlabTask[]> {
  const root = path.resolve(target);
  const rootKind = await kind(root);
  if (rootKind === "missing") {
    throw new UserError("DYNABOX_INVALID_INPUT", `${root} does not exist: give a task folder or a folder of task folders (e.g. tasks/mlab)`);
  }
  if (rootKind !== "directory") return [];
  if (await isMlabTaskFolder(root)) return [await loadMlabTask(root, overrides)];
  const entries = (await readdir(root, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
  const tasks: MlabTask[] = [];
  const failures: string[] = [];
  for (const name of entries) {
    const folder = path.join(root, name);
    if (!(await isMlabTaskFolder(folder))) continue;
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
