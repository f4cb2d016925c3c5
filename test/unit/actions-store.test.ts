import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { normalHash } from "../../src/actions/normalize.js";
import { ActionStore, ACTIONS_SCHEMA_VERSION, defaultLibraryPath } from "../../src/actions/store.js";
import { shouldRetire, type ActionCandidate } from "../../src/actions/types.js";
import { DynaboxError } from "../../src/errors.js";

const directories: string[] = [];
const stores: ActionStore[] = [];
async function libraryFile(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), "dynabox-actions-"));
  directories.push(directory);
  return path.join(directory, "nested", "actions.sqlite");
}
function open(file: string): ActionStore {
  const store = ActionStore.open(file);
  stores.push(store);
  return store;
}
afterEach(async () => {
  for (const store of stores.splice(0)) store.close();
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** A candidate as the extractor would report it; the body decides the hash (as the AST would). */
function candidate(name: string, body: string, origin: { taskId: string; step: number }, extra: Partial<ActionCandidate> = {}): ActionCandidate {
  return {
    name,
    isAsync: false,
    signature: `${name}(x)`,
    docstring: `Does ${name}.`,
    source: `def ${name}(x):\n    """Does ${name}."""\n    ${body}`,
    imports: [],
    dependencies: [],
    freeNames: [],
    normalHash: normalHash(`${name}:${body}`),
    origin,
    ...extra,
  };
}

describe("the action store", () => {
  it("puts its file under the user's data folder unless told otherwise", () => {
    expect(defaultLibraryPath({ XDG_DATA_HOME: "/data" }, "/home/u")).toBe("/data/dynabox/actions.sqlite");
    expect(defaultLibraryPath({}, "/home/u")).toBe("/home/u/.local/share/dynabox/actions.sqlite");
    expect(defaultLibraryPath({ XDG_DATA_HOME: "relative" }, "/home/u")).toBe("/home/u/.local/share/dynabox/actions.sqlite");
  });

  it("keeps candidates per run and task, out of the library until promoted", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("run-1", [candidate("load_csv", "return 1", { taskId: "t1", step: 2 })]);
    store.recordCandidates("run-1", [candidate("plot", "return 2", { taskId: "t2", step: 1 })]);
    expect(store.candidates("run-1", "t1").map((action) => action.name)).toEqual(["load_csv"]);
    expect(store.candidates("run-2", "t1")).toEqual([]);
    expect(store.latest()).toEqual([]);
    expect(store.get("load_csv")).toBeUndefined();
    const all = store.list({ all: true });
    expect(all.map((action) => [action.name, action.status, action.version])).toEqual([
      ["load_csv", "candidate", null],
      ["plot", "candidate", null],
    ]);
  });

  it("promotes a passed task's candidates as version 1 and discards a failed task's", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("run-1", [
      candidate("load_csv", "return 1", { taskId: "passed", step: 1 }, { imports: ["import pandas as pd"], dependencies: ["helper"] }),
      candidate("helper", "return 3", { taskId: "passed", step: 1 }),
    ]);
    store.recordCandidates("run-1", [candidate("wrong", "return 2", { taskId: "failed", step: 1 })]);
    const result = store.promote("run-1", "passed");
    expect(result.promoted.map((action) => [action.name, action.version, action.status])).toEqual([
      ["load_csv", 1, "promoted"],
      ["helper", 1, "promoted"],
    ]);
    expect(store.discard("run-1", "failed")).toBe(1);
    expect(store.latest().map((action) => action.name)).toEqual(["helper", "load_csv"]);
    const loaded = store.get("load_csv");
    expect(loaded).toMatchObject({ imports: ["import pandas as pd"], dependencies: ["helper"], runId: "run-1", taskId: "passed", step: 1 });
    expect(loaded?.promotedAt).not.toBeNull();
    expect(store.origins(loaded!.id)).toMatchObject([{ runId: "run-1", taskId: "passed", step: 1 }]);
    expect(store.list({ all: true }).some((action) => action.name === "wrong")).toBe(false);
  });

  it("takes only the last definition of a name within a task", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "t", step: 1 })]);
    store.recordCandidates("r", [candidate("f", "return 2", { taskId: "t", step: 4 })]);
    store.recordCandidates("r", [candidate("f", "return 3", { taskId: "t", step: 2 })]);
    const result = store.promote("r", "t");
    expect(result.superseded).toBe(2);
    expect(result.promoted).toHaveLength(1);
    expect(store.get("f")?.source).toContain("return 2");
    expect(store.list({ all: true })).toHaveLength(1);
  });

  it("merges an exact duplicate (same normal hash) into the existing action: no new row", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "a", step: 1 })]);
    store.promote("r", "a");
    store.recordUse("f", 1, true);
    // Same function, different comments and docstring: the extractor gives the same normal form.
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "b", step: 3 }, { source: "def f(x):\n    # a comment\n    return 1", docstring: "" })]);
    const result = store.promote("r", "b");
    expect(result.promoted).toEqual([]);
    expect(result.merged.map((action) => [action.name, action.version, action.uses, action.successes])).toEqual([["f", 1, 1, 1]]);
    expect(store.list({ all: true })).toHaveLength(1);
    expect(store.get("f")?.docstring).toBe("Does f."); // the first text is kept
    expect(store.origins(store.get("f")!.id).map((origin) => origin.taskId)).toEqual(["a", "b"]);
  });

  it("makes a changed function with a known name version n+1 and keeps the old one out of retrieval", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "a", step: 1 })]);
    store.promote("r", "a");
    store.recordCandidates("r", [candidate("f", "return 2", { taskId: "b", step: 1 })]);
    expect(store.promote("r", "b").promoted.map((action) => action.version)).toEqual([2]);
    expect(store.latest().map((action) => [action.name, action.version])).toEqual([["f", 2]]);
    expect(store.get("f", 1)?.source).toContain("return 1");
    expect(store.versions("f").map((action) => action.version)).toEqual([1, 2]);
    expect(store.list().map((action) => action.version)).toEqual([2]);
    // Going back to the first code is a new version too: the latest passing code wins.
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "c", step: 1 })]);
    expect(store.promote("r", "c").promoted.map((action) => action.version)).toEqual([3]);
    expect(store.get("f")?.source).toContain("return 1");
  });

  it("retires an action whose failures reach 3 and exceed twice its successes", async () => {
    expect(shouldRetire({ successes: 0, failures: 2 })).toBe(false);
    expect(shouldRetire({ successes: 0, failures: 3 })).toBe(true);
    expect(shouldRetire({ successes: 1, failures: 3 })).toBe(true);
    expect(shouldRetire({ successes: 2, failures: 4 })).toBe(false);
    expect(shouldRetire({ successes: 2, failures: 5 })).toBe(true);

    const store = open(await libraryFile());
    store.recordCandidates("r", [candidate("flaky", "return 1", { taskId: "a", step: 1 })]);
    store.promote("r", "a");
    expect(store.recordUse("flaky", 1, true)).toMatchObject({ uses: 1, successes: 1, failures: 0, status: "promoted" });
    // A plain use (a failed task in which the action did not fail) counts neither way.
    expect(store.recordUse("flaky", 1, null)).toMatchObject({ uses: 2, successes: 1, failures: 0, status: "promoted" });
    store.recordUse("flaky", 1, false);
    store.recordUse("flaky", 1, false);
    expect(store.get("flaky")?.status).toBe("promoted");
    expect(store.recordUse("flaky", 1, false)).toMatchObject({ uses: 5, successes: 1, failures: 3, status: "retired" });
    expect(store.latest()).toEqual([]);
    expect(store.recordUse("flaky", 9, true)).toBeUndefined();
    // A retired action stays retired (it is no longer loaded, so it gets no more uses)...
    store.recordUse("flaky", 1, true);
    expect(store.get("flaky")?.status).toBe("retired");
    // ...until a passing task writes a new version of the name.
    store.recordCandidates("r", [candidate("flaky", "return 2", { taskId: "b", step: 1 })]);
    store.promote("r", "b");
    expect(store.latest().map((action) => [action.name, action.version])).toEqual([["flaky", 2]]);
  });

  it("refuses a library written by a newer schema, before touching it", async () => {
    const file = await libraryFile();
    open(file).close();
    const raw = new Database(file);
    expect(raw.pragma("user_version", { simple: true })).toBe(ACTIONS_SCHEMA_VERSION);
    raw.pragma(`user_version = ${ACTIONS_SCHEMA_VERSION + 1}`);
    raw.close();
    let caught: unknown;
    try {
      ActionStore.open(file);
    } catch (error) {
      caught = error;
    }
    expect(DynaboxError.isInstance(caught) && caught.code).toBe("DYNABOX_INVALID_INPUT");
    expect((caught as Error).message).toContain("newer");
  });

  it("stores embedding vectors as float32 per action and model", async () => {
    const store = open(await libraryFile());
    store.recordCandidates("r", [candidate("f", "return 1", { taskId: "a", step: 1 })]);
    const [action] = store.promote("r", "a").promoted;
    store.saveEmbeddings("model-a", new Map([[action!.id, [0.5, -1, 0.25]]]));
    expect([...store.embeddings("model-a", [action!.id]).get(action!.id)!]).toEqual([0.5, -1, 0.25]);
    expect(store.embeddings("model-b", [action!.id]).size).toBe(0);
  });

  it("gives distinct versions when two handles promote the same name", async () => {
    const file = await libraryFile();
    const first = open(file);
    const second = open(file);
    first.recordCandidates("r1", [candidate("shared", "return 1", { taskId: "a", step: 1 })]);
    second.recordCandidates("r2", [candidate("shared", "return 2", { taskId: "b", step: 1 })]);
    first.promote("r1", "a");
    second.promote("r2", "b");
    expect(first.versions("shared").map((action) => [action.version, action.runId])).toEqual([
      [1, "r1"],
      [2, "r2"],
    ]);
  });

  it("stays consistent when several processes record and promote at once", async () => {
    const file = await libraryFile();
    open(file).close(); // created once, so the workers race on the data, not on the schema
    const directory = path.dirname(path.dirname(file));
    const storeModule = pathToFileURL(fileURLToPath(new URL("../../src/actions/store.ts", import.meta.url))).href;
    const worker = path.join(directory, "worker.mts");
    await writeFile(
      worker,
      `import { ActionStore } from ${JSON.stringify(storeModule)};
const [file, id] = process.argv.slice(2);
const store = ActionStore.open(file);
for (let task = 0; task < 15; task++) {
  const taskId = "w" + id + "-" + task;
  store.recordCandidates("run-" + id, [
    { name: "shared", isAsync: false, signature: "shared()", docstring: "", source: "def shared():\\n    return " + JSON.stringify(taskId),
      imports: [], dependencies: [], freeNames: [], normalHash: taskId, origin: { taskId, step: 1 } },
    { name: "same_everywhere", isAsync: false, signature: "same_everywhere()", docstring: "", source: "def same_everywhere():\\n    return 1",
      imports: [], dependencies: [], freeNames: [], normalHash: "same", origin: { taskId, step: 1 } },
  ]);
  store.promote("run-" + id, taskId);
  store.recordUse("same_everywhere", 1, true);
}
store.close();
`,
    );
    const run = promisify(execFile);
    const tsx = createRequire(import.meta.url).resolve("tsx");
    await Promise.all([1, 2, 3, 4].map((id) => run(process.execPath, ["--import", pathToFileURL(tsx).href, worker, file, String(id)])));
    const store = open(file);
    expect(store.versions("shared").map((action) => action.version)).toEqual(Array.from({ length: 60 }, (_, index) => index + 1));
    const same = store.versions("same_everywhere");
    expect(same).toHaveLength(1);
    expect(same[0]).toMatchObject({ version: 1, uses: 60, successes: 60 });
    expect(store.origins(same[0]!.id)).toHaveLength(60);
    expect(store.list({ all: true }).filter((action) => action.status === "candidate")).toEqual([]);
  }, 60_000);
});
