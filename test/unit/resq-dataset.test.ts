import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { discoverResqTasks, loadResqDataset, parseResqDataset, resolveRepositoryUrl } from "../../src/families/resq/task.js";
import { temporaryFolders } from "../temporary-folders.js";

const folder = temporaryFolders("dynabox-resq-unit-");

function row(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "0_0",
    repo_url: "repos/x.bundle",
    instruction: "Do it.",
    base_commit: "13619e62123c67f57cb00efdda1e83d40be06b72",
    test_script: "import sys\nsys.exit(0)\n",
    testbed_environment: "python3.11",
    requirements_txt: "",
    solution_commit: "d4da3c0eb387d7ebe22959166d9120c539e98e4d",
    solution_patch: "",
    modified_files: [{ path: "a.py", content: "" }],
    language: "Python",
    ...overrides,
  };
}

async function dataset(rows: unknown): Promise<string> {
  const root = await folder();
  await mkdir(path.join(root, "repos"));
  await writeFile(path.join(root, "repos", "x.bundle"), "not really a bundle");
  const file = path.join(root, "dataset.json");
  await writeFile(file, JSON.stringify(rows));
  return file;
}

async function loadError(file: string): Promise<DynaboxError> {
  const error = await loadResqDataset(file).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(DynaboxError.isInstance(error)).toBe(true);
  return error as DynaboxError;
}

describe("RES-Q dataset loader", () => {
  it("loads the bundled dataset with the upstream fields and resolves the bundles", async () => {
    const tasks = await loadResqDataset("tasks/resq/dataset.json");
    expect(tasks.map((task) => task.id)).toEqual(["0_0", "1_0", "2_0", "3_0"]);
    for (const task of tasks) {
      expect(task.family).toBe("resq");
      expect(task.repository).toMatchObject({ kind: "local", bundle: true });
      expect(task.row.testbed_environment).toBe("python3.11");
    }
    expect(tasks[0]?.repository).toEqual({ kind: "local", bundle: true, path: path.resolve("tasks/resq/repos/sortlines.bundle") });
  });

  it("names the file, the row (index and id), the field, what was expected and the fix", async () => {
    const file = await dataset([row(), row({ id: "1_0", base_commit: 42, modified_files: [{ path: "x" }] })]);
    const error = await loadError(file);
    expect(error.code).toBe("DYNABOX_TASK_INVALID");
    expect(error.message).toContain(file);
    expect(error.message).toContain("nothing was loaded");
    expect(error.message).toMatch(/row 2 \(index 1, id "1_0"\): field "base_commit": expected a string, got the number 42\. Fix: the full hash/);
    expect(error.message).toMatch(/row 2 \(index 1, id "1_0"\): field "modified_files\.0\.content": expected a string, got nothing \(the field is missing\)/);
    expect(error.message).not.toContain("index 0");
  });

  it("reports a missing field, a bad hash, a duplicate id and a non-object row together", async () => {
    const withoutTest = row({ id: "a" });
    delete withoutTest.test_script;
    const file = await dataset([withoutTest, row({ id: "b", solution_commit: "not-a-hash" }), row({ id: "b" }), 7]);
    const error = await loadError(file);
    expect(error.message).toMatch(/row 1 \(index 0, id "a"\): field "test_script": expected a string, got nothing/);
    expect(error.message).toMatch(/row 2 \(index 1, id "b"\): field "solution_commit": expected a commit hash/);
    expect(error.message).toMatch(/row 3 \(index 2, id "b"\): field "id": "b" is already the id of row 2/);
    expect(error.message).toMatch(/row 4 \(index 3\): expected an object with the RES-Q fields, got the number 7/);
    expect((error.details.problems as string[]).length).toBe(4);
  });

  it("reports a repo_url that resolves to nothing, relative to the dataset's folder", async () => {
    const file = await dataset([row({ repo_url: "repos/missing.bundle" })]);
    const error = await loadError(file);
    expect(error.message).toContain(`field "repo_url"`);
    expect(error.message).toContain(path.join(path.dirname(file), "repos", "missing.bundle"));
    expect(error.message).toContain("does not exist");
  });

  it("rejects a top level that is not a list, and text that is not JSON", async () => {
    const notList = await dataset({ rows: [] });
    expect((await loadError(notList)).message).toMatch(/expected a JSON list of rows/);
    const root = await folder();
    const broken = path.join(root, "dataset.json");
    await writeFile(broken, "[{");
    expect((await loadError(broken)).message).toMatch(/not valid JSON/);
  });

  it("resolves repo_url forms", () => {
    expect(resolveRepositoryUrl("https://github.com/o/r.git", "/d")).toEqual({ kind: "remote", url: "https://github.com/o/r.git" });
    expect(resolveRepositoryUrl("git@github.com:o/r.git", "/d")).toEqual({ kind: "remote", url: "git@github.com:o/r.git" });
    expect(resolveRepositoryUrl("file:///srv/repos/r", "/d")).toMatchObject({ kind: "local", path: "/srv/repos/r" });
    expect(resolveRepositoryUrl("../r.bundle", "/d/e")).toEqual({ kind: "local", path: "/d/r.bundle", bundle: true });
    expect(resolveRepositoryUrl("/abs/repo", "/d")).toMatchObject({ kind: "local", path: "/abs/repo", bundle: false });
  });

  it("keeps upstream rows as they are (extra fields are ignored, not an error)", () => {
    const tasks = parseResqDataset("tasks/resq/dataset.json", [row({ repo_url: "https://example.invalid/r.git", extra: 1 })]);
    expect(tasks[0]?.row).not.toHaveProperty("extra");
    expect(tasks[0]?.row.modified_files).toEqual([{ path: "a.py", content: "" }]);
  });
});

describe("discover", () => {
  it("finds a dataset file, a folder with dataset.json, and tasks/ with resq/dataset.json", async () => {
    expect(await discoverResqTasks("tasks/resq/dataset.json")).toHaveLength(4);
    expect(await discoverResqTasks("tasks/resq")).toHaveLength(4);
    expect(await discoverResqTasks("tasks")).toHaveLength(4);
  });

  it("gives [] for other families' files and for paths that are not datasets", async () => {
    const root = await folder();
    const taskJson = path.join(root, "task.json");
    await writeFile(taskJson, JSON.stringify({ direction: "higher" }));
    expect(await discoverResqTasks(taskJson)).toEqual([]);
    expect(await discoverResqTasks(root)).toEqual([]);
    expect(await discoverResqTasks(path.join(root, "nothing-here"))).toEqual([]);
    expect(await discoverResqTasks("tasks/sab/tasks.jsonl")).toEqual([]);
  });

  it("throws for a list-shaped .json file that is not a valid dataset", async () => {
    const root = await folder();
    const file = path.join(root, "my-resq.json");
    await writeFile(file, JSON.stringify([{ id: "x" }]));
    await expect(discoverResqTasks(file)).rejects.toThrow(/my-resq\.json is not a valid RES-Q dataset/);
  });
});
