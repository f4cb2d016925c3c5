// RES-Q tasks: a dataset is a JSON list of rows with the upstream field names. The loader checks
// every row against the schema and resolves each repo_url before returning anything, so a bad file
// is reported whole (file, row, field, what was expected, how to fix it) and nothing is half-loaded.

import { existsSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { resolvesInside } from "../task-files.js";
import type { TaskBase } from "../types.js";

const commitHash = z.string().regex(/^[0-9a-fA-F]{7,64}$/, { message: "a commit hash (7 to 64 hex digits)" });

/** One upstream row. Fields beyond these are ignored; every one of these is required. */
export const resqRowSchema = z.object({
  id: z.string().min(1, { message: "a non-empty string" }),
  repo_url: z.string().min(1, { message: "a non-empty string" }),
  instruction: z.string().min(1, { message: "a non-empty string" }),
  base_commit: commitHash,
  test_script: z.string().min(1, { message: "a non-empty string" }),
  testbed_environment: z.string(),
  requirements_txt: z.string(),
  solution_commit: commitHash,
  solution_patch: z.string(),
  modified_files: z.array(z.object({ path: z.string(), content: z.string() })),
  language: z.string(),
});

export type ResqRow = z.infer<typeof resqRowSchema>;

/** Where a row's repository comes from, after resolving repo_url. */
export type RepositorySource =
  /** A URL git fetches over the network (https, ssh, git, scp-like user@host:path). */
  | { kind: "remote"; url: string }
  /** An absolute path on this machine: a repository folder (bare or not) or a git bundle file. */
  | { kind: "local"; path: string; bundle: boolean };

export interface ResqTask extends TaskBase {
  family: "resq";
  /** The upstream row, unchanged. */
  row: ResqRow;
  repository: RepositorySource;
  /** The dataset file the row came from (also `origin`). */
  datasetFile: string;
  /** The row's position in the dataset, from 0. */
  rowIndex: number;
}

/** How to fix each field, for error messages. */
const FIELD_HINTS: Record<string, string> = {
  id: 'give every row a unique string id, such as "0_0"',
  repo_url: "a git URL, a path to a repository folder or a .bundle file (relative to the dataset file), or a file:// URL",
  instruction: "the task statement the agent reads",
  base_commit: "the full hash of the commit the agent starts from (git rev-parse <ref>)",
  test_script: "the Python test, run from the repository root; it should end with sys.exit(exit_code)",
  testbed_environment: 'the Python environment, such as "python3.11"; use "" when any Python 3 will do',
  requirements_txt: 'the requirements.txt text; use "" when the test needs only the standard library',
  solution_commit: "the full hash of the commit that solves the task",
  solution_patch: "the unified diff from base_commit to solution_commit (git diff <base> <solution>)",
  modified_files: "a list of {path, content} objects (the changed files at base_commit); [] is allowed",
  language: 'the repository\'s main language, such as "Python"',
};

const MAX_LISTED_PROBLEMS = 20;

/** A repo_url that is a path relative to the dataset file (not a URL, not absolute). */
function isRelativePath(repoUrl: string): boolean {
  return !/^file:\/\//i.test(repoUrl) && !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repoUrl) && !/^[^/\\\s]+@[^/\\\s]+:/.test(repoUrl) && !path.isAbsolute(repoUrl);
}

/** Resolves a row's repo_url: URLs stay URLs, file:// URLs and paths become absolute paths. */
export function resolveRepositoryUrl(repoUrl: string, datasetFolder: string): RepositorySource {
  if (/^file:\/\//i.test(repoUrl)) return localSource(fileURLToPath(repoUrl));
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repoUrl)) return { kind: "remote", url: repoUrl };
  // scp-like syntax: git@github.com:owner/name.git
  if (/^[^/\\\s]+@[^/\\\s]+:/.test(repoUrl)) return { kind: "remote", url: repoUrl };
  return localSource(path.resolve(datasetFolder, repoUrl));
}

function localSource(absolutePath: string): RepositorySource {
  let bundle = absolutePath.endsWith(".bundle");
  try {
    bundle = statSync(absolutePath).isFile();
  } catch {
    // Missing: reported by the loader, which knows the row.
  }
  return { kind: "local", path: absolutePath, bundle };
}

/** The text a user sees for a value that failed: its JSON type, and a short preview. */
function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (typeof value === "object") return "an object";
  return `the ${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, keys: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of keys) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** "row 2 (index 1, id "1_0")": rows counted from 1 for people, the list index for programs. */
function rowLabel(index: number, row: unknown): string {
  const id = valueAt(row, ["id"]);
  const idText = typeof id === "string" || typeof id === "number" ? `, id ${JSON.stringify(id)}` : "";
  return `row ${index + 1} (index ${index}${idText})`;
}

function invalid(file: string, problems: string[]): UserError {
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS);
  const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `${file} is not a valid RES-Q dataset (nothing was loaded):\n  ${shown.join("\n  ")}${more}`,
    { details: { file, problems } },
  );
}

/** A row that could not be loaded, for runners that go on with the other rows. */
export interface ResqRowProblem {
  /** The row's list index. */
  index: number;
  /** Its id when it has a usable one. */
  id: string | null;
  /** Every problem of the row, each naming the file, row, field and fix. */
  messages: string[];
}

/** Checks parsed JSON as a dataset; every problem is listed, none is loaded unless all rows pass. */
export function parseResqDataset(file: string, data: unknown): ResqTask[] {
  const { tasks, rowProblems } = checkResqDataset(file, data);
  if (rowProblems.length > 0) throw invalid(file, rowProblems.flatMap((problem) => problem.messages));
  return tasks;
}

/**
 * Checks parsed JSON as a dataset row by row: the good rows as tasks, the bad ones with their
 * problems (eval grades the good rows and reports each bad one as that item's error). A top level
 * that is not a list throws.
 */
export function checkResqDataset(file: string, data: unknown): { tasks: ResqTask[]; rowProblems: ResqRowProblem[] } {
  const absoluteFile = path.resolve(file);
  if (!Array.isArray(data)) {
    throw invalid(file, [`expected a JSON list of rows at the top level, got ${describeValue(data)}; wrap the rows in [ ... ]`]);
  }
  const rowProblems: ResqRowProblem[] = [];
  const tasks: ResqTask[] = [];
  const firstIndexOfId = new Map<string, number>();
  data.forEach((row: unknown, index) => {
    const rawId = valueAt(row, ["id"]);
    const messages: string[] = [];
    if (typeof rawId === "string") {
      const firstIndex = firstIndexOfId.get(rawId);
      if (firstIndex !== undefined) {
        messages.push(`${rowLabel(index, row)}: field "id": ${JSON.stringify(rawId)} is already the id of row ${firstIndex + 1}. Fix: ${FIELD_HINTS.id}`);
      } else {
        firstIndexOfId.set(rawId, index);
      }
    }
    const checked = checkRow(absoluteFile, row, index);
    messages.push(...checked.messages);
    if (messages.length > 0) rowProblems.push({ index, id: typeof rawId === "string" && rawId !== "" ? rawId : null, messages });
    else if (checked.task) tasks.push(checked.task);
  });
  return { tasks, rowProblems };
}

/** One row: the task, or what is wrong with it. */
function checkRow(absoluteFile: string, row: unknown, index: number): { task?: ResqTask; messages: string[] } {
  const label = rowLabel(index, row);
  if (row === null || typeof row !== "object" || Array.isArray(row)) {
    return { messages: [`${label}: expected an object with the RES-Q fields, got ${describeValue(row)}`] };
  }
  const parsed = resqRowSchema.safeParse(row);
  if (!parsed.success) {
    return {
      messages: parsed.error.issues.map((issue) => {
        const field = String(issue.path[0] ?? "");
        const where = issue.path.map(String).join(".");
        const expected = issue.code === "invalid_type" ? `a ${issue.expected}` : issue.message;
        const hint = FIELD_HINTS[field];
        return `${label}: field "${where}": expected ${expected}, got ${describeValue(valueAt(row, issue.path))}` + (hint ? `. Fix: ${hint}` : "");
      }),
    };
  }
  const datasetFolder = path.dirname(absoluteFile);
  const repository = resolveRepositoryUrl(parsed.data.repo_url, datasetFolder);
  if (repository.kind === "local" && !existsSync(repository.path)) {
    return {
      messages: [
        `${label}: field "repo_url": ${JSON.stringify(parsed.data.repo_url)} resolves to ${repository.path}, which does not exist. ` +
          `Fix: relative paths are resolved against the dataset file's folder (${datasetFolder})`,
      ],
    };
  }
  // A relative path belongs to the download: a link in it must not reach a repository elsewhere on the host.
  if (repository.kind === "local" && isRelativePath(parsed.data.repo_url) && !resolvesInside(datasetFolder, repository.path)) {
    return {
      messages: [
        `${label}: field "repo_url": ${JSON.stringify(parsed.data.repo_url)} is a link that leads out of the dataset file's folder ` +
          `(${datasetFolder}); dynabox reads task files only from inside it. Fix: replace the link with the repository, or give its absolute path`,
      ],
    };
  }
  return {
    task: { id: parsed.data.id, family: "resq", origin: absoluteFile, row: parsed.data, repository, datasetFile: absoluteFile, rowIndex: index },
    messages: [],
  };
}

/** Reads a dataset file as JSON (a UserError naming the file when it can not). */
export async function readResqDatasetJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read the RES-Q dataset ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(file, [`not valid JSON: ${(error as Error).message}. Fix: the file must hold one JSON list of rows`]);
  }
}

/** Reads and checks one dataset file. */
export async function loadResqDataset(file: string): Promise<ResqTask[]> {
  return parseResqDataset(file, await readResqDatasetJson(file));
}

/**
 * RES-Q tasks at a path: a dataset `.json` file holding a JSON list, a folder holding `dataset.json`,
 * or a folder holding `resq/dataset.json` (such as the bundled `tasks/`). Any other path, and a
 * `.json` file whose top level is not a list (another family's file), gives []. A `.json` file that
 * is not JSON, or a list that is not a valid dataset, throws a UserError naming every problem.
 */
export async function discoverResqTasks(target: string): Promise<ResqTask[]> {
  let info;
  try {
    info = await stat(target);
  } catch {
    return [];
  }
  if (info.isDirectory()) {
    for (const candidate of [path.join(target, "dataset.json"), path.join(target, "resq", "dataset.json")]) {
      if (existsSync(candidate)) return loadResqDataset(candidate);
    }
    return [];
  }
  if (!target.endsWith(".json")) return [];
  if (path.basename(target) === "dataset.json") return loadResqDataset(target);
  // Another family's .json (an mlab task.json is an object) is not ours; a list is. A file that
  // is not JSON at all is a mistake whoever owns it, so loadResqDataset reports it.
  let data: unknown;
  try {
    data = JSON.parse(await readFile(target, "utf8"));
  } catch {
    return loadResqDataset(target);
  }
  return Array.isArray(data) ? parseResqDataset(target, data) : [];
}
