import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { importActions, readImportSource } from "../../src/actions/import.js";
import { normalHash } from "../../src/actions/normalize.js";
import { libraryStats } from "../../src/actions/stats.js";
import { ActionStore } from "../../src/actions/store.js";
import { runActionsCli } from "../actions-cli-runner.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-import-");
afterEach(() => {
  vi.restoreAllMocks();
});

async function folder(): Promise<string> {
  const directory = await scratch();
  return directory;
}

function candidate(name: string, body: string, taskId: string) {
  return {
    name, isAsync: false, signature: `${name}(path: str)`, docstring: `${name} docs`, source: `def ${name}(path: str):\n    ${body}`,
    imports: [], dependencies: [], freeNames: [], normalHash: normalHash(body), origin: { taskId, step: 1 },
  };
}

/** Promotes each function in its own task of `runId`, in order. */
function build(file: string, runId: string, functions: [name: string, body: string, taskId: string][]): void {
  using store = ActionStore.open(file);
  for (const [name, body, taskId] of functions) {
    store.recordCandidates(runId, [candidate(name, body, taskId)]);
    store.promote(runId, taskId);
  }
}

const cli = runActionsCli;

describe("importing a library", () => {
  it("merges duplicates by normalized source, adds new versions after the target's, keeps provenance, and is idempotent", async () => {
    const directory = await folder();
    const mine = path.join(directory, "mine.sqlite");
    const theirs = path.join(directory, "theirs.sqlite");
    build(mine, "run-a", [
      ["file_size", "return os.path.getsize(path)", "sab/1"],
      ["file_size", "return os.stat(path).st_size", "sab/2"],
      ["list_dir", "return os.listdir(path)", "sab/3"],
    ]);
    build(theirs, "run-b", [
      // Their v1 is our v2; their v2 is newer and new to us.
      ["file_size", "return os.stat(path).st_size", "mlab/x"],
      ["file_size", "return pathlib.Path(path).stat().st_size", "mlab/y"],
      ["list_dir", "return os.listdir(path)", "resq/0_0"],
      ["slugify", "return path.lower().replace(' ', '-')", "resq/1_0"],
    ]);
    {
      using store = ActionStore.open(theirs);
      store.recordCandidates("run-b", [candidate("pending", "return 1", "sab/9")]);
    }

    const source = readImportSource(theirs);
    expect(source.skippedCandidates).toBe(1);
    using target = ActionStore.open(mine);
    const result = importActions(target, source.actions);
    expect(result.added).toEqual([
      { name: "file_size", version: 3 },
      { name: "slugify", version: 1 },
    ]);
    expect(result.duplicates).toEqual([
      { name: "file_size", version: 2, newOrigins: 1 },
      { name: "list_dir", version: 1, newOrigins: 1 },
    ]);
    // The newer version is now the one retrieval sees; the older ones stay stored.
    expect(target.versions("file_size").map((action) => [action.version, action.source.split("\n")[1]?.trim()])).toEqual([
      [1, "return os.path.getsize(path)"],
      [2, "return os.stat(path).st_size"],
      [3, "return pathlib.Path(path).stat().st_size"],
    ]);
    expect(target.get("file_size")).toMatchObject({ version: 3, runId: "run-b", taskId: "mlab/y", status: "promoted" });
    const listDir = target.get("list_dir");
    expect(target.origins(listDir!.id).map((origin) => `${origin.runId}:${origin.taskId}`).sort()).toEqual(["run-a:sab/3", "run-b:resq/0_0"]);
    expect(target.latest().map((action) => action.name)).toEqual(["file_size", "list_dir", "slugify"]);

    const again = importActions(target, readImportSource(theirs).actions);
    expect(again.added).toEqual([]);
    expect(again.duplicates.map((duplicate) => duplicate.newOrigins)).toEqual([0, 0, 0, 0]);
  });

  it("imports the JSON of `actions list --all --json` the same way, through the CLI", async () => {
    const directory = await folder();
    const theirs = path.join(directory, "theirs.sqlite");
    build(theirs, "run-b", [
      ["file_size", "return os.stat(path).st_size", "mlab/x"],
      ["slugify", "return path.lower()", "resq/1_0"],
    ]);
    const listed = await cli("actions", "list", "--all", "--json", "--library", theirs);
    const json = path.join(directory, "theirs.json");
    await writeFile(json, listed.stdout);
    const mine = path.join(directory, "mine.sqlite");
    const imported = await cli("actions", "import", json, "--library", mine, "--json");
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ added: [{ name: "file_size", version: 1 }, { name: "slugify", version: 1 }], duplicates: [] });
    const text = await cli("actions", "import", theirs, "--library", mine);
    expect(text.stdout).toContain("0 new version(s), 2 duplicate(s) merged");

    const bad = path.join(directory, "bad.json");
    await writeFile(bad, JSON.stringify([{ name: "x" }]));
    expect((await cli("actions", "import", bad, "--library", mine)).code).not.toBe(0);
    expect((await cli("actions", "import", mine, "--library", mine)).code).not.toBe(0);
    // A library file whose names are not Python identifiers is refused whole.
    const hostile = path.join(directory, "hostile.sqlite");
    build(hostile, "run-c", [["bad name; import os", "return 1", "sab/1"]]);
    const refused = await cli("actions", "import", hostile, "--library", mine);
    expect(refused.code).toBe(2);
    using store = ActionStore.open(mine);
    expect(store.latest().map((action) => action.name)).toEqual(["file_size", "slugify"]);
  });
});

describe("retiring and statistics", () => {
  it("retires the latest version, out of retrieval, and counts use per family", async () => {
    const directory = await folder();
    const file = path.join(directory, "lib.sqlite");
    build(file, "run-a", [
      ["file_size", "return os.path.getsize(path)", "sab/1"],
      ["list_dir", "return os.listdir(path)", "mlab/a"],
      ["slugify", "return path.lower()", "sab/2"],
    ]);
    {
      using store = ActionStore.open(file);
      store.recordUse("file_size", 1, true);
      store.recordUse("file_size", 1, true);
      store.recordUse("list_dir", 1, false);
    }
    const stats = JSON.parse((await cli("actions", "stats", "--json", "--library", file)).stdout) as ReturnType<typeof libraryStats>;
    expect(stats).toMatchObject({ current: 3, versions: 3, retired: 0, uses: 3, successes: 2, failures: 1, used: 2 });
    expect(stats.top[0]).toEqual({ name: "file_size", version: 1, uses: 2, successes: 2, failures: 0 });
    expect(stats.families.map((family) => [family.family, family.actions, family.uses, family.top.map((action) => action.name)])).toEqual([
      ["mlab", 1, 1, ["list_dir"]],
      ["sab", 2, 2, ["file_size", "slugify"]],
    ]);

    const retired = await cli("actions", "retire", "slugify", "--library", file);
    expect(retired.stdout).toBe("slugify v1 is retired\n");
    using store = ActionStore.open(file);
    expect(store.latest().map((action) => action.name)).toEqual(["file_size", "list_dir"]);
    expect((await cli("actions", "retire", "nothing", "--library", file)).code).not.toBe(0);
  });
});
