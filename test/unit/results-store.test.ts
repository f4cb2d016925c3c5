import path from "node:path";
import { describe, expect, it } from "vitest";
import { ResultsStore } from "../../src/runs/store.js";
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
});
