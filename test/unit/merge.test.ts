// Merging shards: the results rows column for column (a second merge changes nothing), the
// trajectories beside them, and the shards' libraries replayed into the user's, deduplicated by
// the normalized-source hash.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ActionStore } from "../../src/actions/store.js";
import type { ActionCandidate } from "../../src/actions/types.js";
import { mergeShardLibraries, prepareLibrarySeed, seedShardLibrary, shardLibraryPath } from "../../src/runs/merge-library.js";
import { mergeShards } from "../../src/runs/merge.js";
import { storedRunSummaries } from "../../src/runs/merge-run.js";
import { allShards, shardDirectory } from "../../src/runs/shards.js";
import { ResultsStore } from "../../src/runs/store.js";
import type { DiscoveredTask } from "../../src/families/registry.js";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});
function scratch(): string {
  const folder = mkdtempSync(path.join(tmpdir(), "dynabox-merge-"));
  folders.push(folder);
  return folder;
}

function rows(file: string): unknown[] {
  const database = new Database(file, { readonly: true });
  try {
    return database.prepare("SELECT * FROM results ORDER BY kind, family, task_id, item").all();
  } finally {
    database.close();
  }
}

describe("mergeShards", () => {
  it("copies every shard's rows exactly, with their trajectories, and a second merge changes nothing", () => {
    const run = scratch();
    const [first, second] = allShards(2);
    const verdict = (taskId: string, passed: boolean) => ({ taskId, family: "resq" as const, passed, score: passed ? 1 : 0, upstream: { id: taskId, message: passed ? "PASS" : "FAIL" }, seconds: 1.25 });
    for (const [shard, taskIds] of [[first!, ["0_0", "2_0"]], [second!, ["1_0"]]] as const) {
      const folder = shardDirectory(run, shard);
      using store = ResultsStore.open(path.join(folder, "results.sqlite"));
      for (const taskId of taskIds) store.put("eval", verdict(taskId, taskId !== "1_0"), { detail: { shard: shard.index } });
      mkdirSync(path.join(folder, "trajectories", "resq", taskIds[0]!), { recursive: true });
      writeFileSync(path.join(folder, "trajectories", "resq", taskIds[0]!, "attempt-1.jsonl"), `{"shard": ${shard.index}}\n`);
    }
    const report = mergeShards(run, allShards(2));
    expect(report).toEqual({ shardsMerged: 2, rows: 3, trajectoryFolders: 2 });
    const merged = rows(path.join(run, "results.sqlite"));
    const fromShards = [...rows(path.join(shardDirectory(run, first!), "results.sqlite")), ...rows(path.join(shardDirectory(run, second!), "results.sqlite"))];
    expect(merged).toEqual(fromShards.sort((left, right) => String((left as { task_id: string }).task_id).localeCompare((right as { task_id: string }).task_id)));
    expect(readFileSync(path.join(run, "trajectories", "resq", "1_0", "attempt-1.jsonl"), "utf8")).toBe('{"shard": 2}\n');
    mergeShards(run, allShards(2));
    expect(rows(path.join(run, "results.sqlite"))).toEqual(merged);
  });

  it("merges what finished when a shard left no store", () => {
    const run = scratch();
    {
      using store = ResultsStore.open(path.join(shardDirectory(run, { index: 1, count: 2 }), "results.sqlite"));
      store.put("validate", { taskId: "a", family: "mlab", passed: true, score: null, upstream: {}, seconds: 1 });
    }
    expect(mergeShards(run, allShards(2))).toMatchObject({ shardsMerged: 1, rows: 1 });
    using merged = ResultsStore.open(path.join(run, "results.sqlite"));
    expect(merged.has({ kind: "validate", family: "mlab", taskId: "a" })).toBe(true);
  });

  it("reads the run's summaries back in the order of an unsharded run, an attempt without a row as an infrastructure error", () => {
    const run = scratch();
    using store = ResultsStore.open(path.join(run, "results.sqlite"));
    const summary = { id: "a", family: "mlab", attempt: 1, outcome: "passed", score: 1, steps: 2, tokens: 10, cost_usd: 0, container_seconds: 3, actions_created: [], actions_used: [], stop_reason: "submitted", error: null, upstream: {} };
    store.put("run", { taskId: "a", family: "mlab", passed: true, score: 1, upstream: {}, seconds: 3 }, { item: "attempt-1", detail: summary });
    const tasks = [{ task: { id: "a", family: "mlab" } }, { task: { id: "b", family: "mlab" } }] as unknown as DiscoveredTask[];
    const summaries = storedRunSummaries(store, tasks, 1);
    expect(summaries[0]).toEqual(summary);
    expect(summaries[1]).toMatchObject({ id: "b", attempt: 1, outcome: "error", error: expect.stringMatching(/run the same command again/) });
  });
});

function candidate(name: string, body: string, taskId: string): ActionCandidate {
  return {
    name,
    isAsync: false,
    signature: `${name}(x)`,
    docstring: "",
    source: `def ${name}(x):\n    return ${body}\n`,
    imports: [],
    dependencies: [],
    freeNames: [],
    normalHash: `hash-of-${name}-${body}`,
    origin: { taskId, step: 1 },
  };
}

describe("mergeShardLibraries", () => {
  it("adds what the shards promoted: identical sources merge into one version, different ones become new versions; a second merge adds nothing", () => {
    const folder = scratch();
    const userFile = path.join(folder, "library.sqlite");
    {
      using user = ActionStore.open(userFile);
      user.recordCandidates("earlier", [candidate("double", "x * 2", "mlab/a")]);
      user.promote("earlier", "mlab/a");
    }
    const seed = prepareLibrarySeed(userFile, folder);
    const shardFolders = [path.join(folder, "shards", "1-of-2"), path.join(folder, "shards", "2-of-2")];
    for (const [position, shardFolder] of shardFolders.entries()) {
      // The first shard from the submitter's seed, the second as a shard started by hand (from the user's library).
      using shardLibrary = ActionStore.open(seedShardLibrary(userFile, shardFolder, position === 0 ? seed : undefined));
      // Seeded with the user's library: retrieval in a shard sees what was learned before.
      expect(shardLibrary.get("double")?.version).toBe(1);
      const runId = `run-${position + 1}-of-2`;
      const taskId = `resq/${position}_0`;
      shardLibrary.recordCandidates(runId, [candidate("triple", "x * 3", taskId), candidate("double", position === 0 ? "x * 2" : "x + x", taskId)]);
      shardLibrary.promote(runId, taskId);
    }
    expect(existsSync(shardLibraryPath(shardFolders[0]!))).toBe(true);
    // A shard started again keeps the library it learned in.
    {
      using again = ActionStore.open(seedShardLibrary(userFile, shardFolders[0]!, seed));
      expect(again.get("triple")?.version).toBe(1);
    }
    using user = ActionStore.open(userFile);
    const report = mergeShardLibraries(user, shardFolders);
    // Shard 1: triple v1 new, double identical to v1. Shard 2: triple identical to the merged v1, double "x + x" is v2.
    expect(report.promoted.sort()).toEqual(["double v2", "triple v1"]);
    expect(report.merged.sort()).toEqual(["double v1", "triple v1"]);
    expect(user.latest().map((action) => [action.name, action.version, action.normalHash])).toEqual([
      ["double", 2, "hash-of-double-x + x"],
      ["triple", 1, "hash-of-triple-x * 3"],
    ]);
    expect(user.origins(user.get("triple")!.id).map((origin) => origin.runId).sort()).toEqual(["run-1-of-2", "run-2-of-2"]);
    const before = user.list({ all: true });
    expect(mergeShardLibraries(user, shardFolders)).toEqual({ promoted: [], merged: [] });
    expect(user.list({ all: true })).toEqual(before);
  });
});
