import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ResultsStore, STORE_SCHEMA_VERSION } from "../../src/runs/store.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-store-");

async function storeFile(): Promise<string> {
  const folder = await scratch();
  return path.join(folder, "nested", "results.sqlite");
}

const verdict = {
  taskId: "0_0",
  family: "resq" as const,
  passed: true,
  score: 1,
  upstream: { id: "0_0", success: true, message: "PASS", test_suite_feedback: "" },
  seconds: 1.5,
};

describe("the results store", () => {
  it("keeps final results across reopening, so a rerun can skip them", async () => {
    const file = await storeFile();
    const first = ResultsStore.open(file);
    expect(first.has({ kind: "eval", family: "resq", taskId: "0_0" })).toBe(false);
    first.put("eval", verdict, { detail: { note: "x" } });
    first.close();
    const second = ResultsStore.open(file);
    try {
      expect(second.has({ kind: "eval", family: "resq", taskId: "0_0" })).toBe(true);
      expect(second.has({ kind: "validate", family: "resq", taskId: "0_0" })).toBe(false);
      expect(second.get({ kind: "eval", family: "resq", taskId: "0_0" })).toMatchObject({
        passed: true,
        score: 1,
        upstream: verdict.upstream,
        detail: { note: "x" },
      });
    } finally {
      second.close();
    }
  });

  it("replaces a result when asked again (--force), and lists by kind", async () => {
    const store = ResultsStore.open(await storeFile());
    try {
      store.put("eval", verdict);
      store.put("eval", { ...verdict, passed: false, score: 0 });
      store.put("eval", { ...verdict, family: "sab", taskId: "1", upstream: {} }, { item: "pred_a.py" });
      store.put("validate", verdict);
      const evals = store.list("eval");
      expect(evals.map((row) => [row.family, row.taskId, row.item, row.passed])).toEqual([
        ["resq", "0_0", "", false],
        ["sab", "1", "pred_a.py", true],
      ]);
      expect(store.list()).toHaveLength(3);
    } finally {
      store.close();
    }
  });

  it("lets two handles write the same file (WAL, busy timeout)", async () => {
    const file = await storeFile();
    const one = ResultsStore.open(file);
    const two = ResultsStore.open(file);
    try {
      one.put("eval", verdict);
      two.put("eval", { ...verdict, taskId: "1_0" });
      expect(one.list()).toHaveLength(2);
    } finally {
      one.close();
      two.close();
    }
  });

  it("hands a result back only for the content key it was made from", async () => {
    const store = ResultsStore.open(await storeFile());
    try {
      const key = { kind: "eval", family: "resq" as const, taskId: "0_0" };
      store.put("eval", verdict, { contentKey: "a".repeat(64) });
      expect(store.getCurrent(key, "a".repeat(64))).toMatchObject({ passed: true, contentKey: "a".repeat(64) });
      expect(store.getCurrent(key, "b".repeat(64))).toBeUndefined();
      expect(store.getCurrent(key, "")).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it("opens a schema-1 file (no content key): its rows are kept but never match a key, so they are graded again", async () => {
    const file = await storeFile();
    await mkdir(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`CREATE TABLE results (kind TEXT NOT NULL, family TEXT NOT NULL, task_id TEXT NOT NULL, item TEXT NOT NULL,
      passed INTEGER NOT NULL, score REAL, upstream TEXT NOT NULL, seconds REAL NOT NULL, detail TEXT,
      finished_at TEXT NOT NULL, schema_version INTEGER NOT NULL, PRIMARY KEY (kind, family, task_id, item))`);
    old.prepare("INSERT INTO results VALUES ('eval', 'resq', '0_0', '', 1, 1, ?, 1.5, NULL, '2026-01-01T00:00:00Z', 1)").run(JSON.stringify(verdict.upstream));
    old.close();
    const store = ResultsStore.open(file);
    try {
      const key = { kind: "eval", family: "resq" as const, taskId: "0_0" };
      expect(store.get(key)).toMatchObject({ passed: true, contentKey: "" });
      expect(store.getCurrent(key, "c".repeat(64))).toBeUndefined();
      store.put("eval", { ...verdict, passed: false }, { contentKey: "c".repeat(64) });
      expect(store.getCurrent(key, "c".repeat(64))).toMatchObject({ passed: false });
    } finally {
      store.close();
    }
    const reopened = new Database(file, { readonly: true });
    try {
      expect(reopened.pragma("user_version", { simple: true })).toBe(STORE_SCHEMA_VERSION);
    } finally {
      reopened.close();
    }
  });

  it("refuses, with a message and no crash, a file from a newer dynabox and a file that is not a database", async () => {
    const newer = await storeFile();
    await mkdir(path.dirname(newer), { recursive: true });
    const database = new Database(newer);
    database.pragma(`user_version = ${STORE_SCHEMA_VERSION + 1}`);
    database.close();
    expect(() => ResultsStore.open(newer)).toThrow(/newer dynabox.*--run-dir/);
    const garbage = await storeFile();
    await mkdir(path.dirname(garbage), { recursive: true });
    await writeFile(garbage, "this is not sqlite ".repeat(100));
    expect(() => ResultsStore.open(garbage)).toThrow(/not a dynabox results database/);
  });
});
