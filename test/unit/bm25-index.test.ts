import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { Bm25Index, boundedEditDistance } from "../../src/actions/bm25-index.js";
import { retrieveActions, splitWords } from "../../src/actions/retrieve.js";
import { ActionStore } from "../../src/actions/store.js";
import { fillLibrary } from "../../src/bench/library-fixture.js";

const plain = { tokenize: splitWords, processTerm: (term: string) => (term === "the" ? null : term.toLowerCase()) };

describe("Bm25Index", () => {
  it("ranks by BM25 with field boosts, and only documents that match", () => {
    const index = new Bm25Index(
      [
        { id: "a", fields: ["load_csv", "Read a csv file."] },
        { id: "b", fields: ["plot", "Draw the csv as a chart."] },
        { id: "c", fields: ["train", "Fit a model."] },
      ],
      { ...plain, boosts: [3, 1] },
    );
    const hits = index.search("csv", 10);
    expect(hits.map((hit) => hit.id)).toEqual(["a", "b"]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(index.search("the", 10)).toEqual([]);
    expect(index.search("zebra", 10)).toEqual([]);
    expect(index.search("csv", 1).map((hit) => hit.id)).toEqual(["a"]);
  });

  it("matches longer words by prefix and near words by edit distance, below exact matches", () => {
    const index = new Bm25Index(
      [
        { id: "exact", fields: ["column"] },
        { id: "prefix", fields: ["columns_of"] },
        { id: "typo", fields: ["colunn"] },
      ],
      { ...plain, boosts: [1] },
    );
    const hits = index.search("column", 10).map((hit) => hit.id);
    expect(hits[0]).toBe("exact");
    expect(new Set(hits)).toEqual(new Set(["exact", "prefix", "typo"]));
    // Short words are not expanded: "col" matches nothing.
    expect(index.search("col", 10)).toEqual([]);
  });

  it("gives the same ranking after adding and removing documents as a fresh build", () => {
    const documents = Array.from({ length: 40 }, (_, index) => ({ id: index, fields: [`name_${index % 7}_${index}`, `load csv table ${index % 3 === 0 ? "rows" : "columns"} ${index}`] }));
    const patched = new Bm25Index(documents.slice(0, 30), { ...plain, boosts: [3, 1] });
    patched.remove([3, 4]);
    patched.add(documents.slice(30));
    const fresh = new Bm25Index(documents.filter((document) => document.id !== 3 && document.id !== 4), { ...plain, boosts: [3, 1] });
    const ids = (index: Bm25Index<number>) => index.search("load csv rows", 40).map((hit) => hit.id);
    expect(patched.size).toBe(38);
    expect(ids(patched)).not.toContain(3);
    // Same documents, same order (document frequencies of removed documents aside, which this query does not feel).
    expect(new Set(ids(patched))).toEqual(new Set(ids(fresh)));
    expect(patched.removedShare).toBeCloseTo(2 / 40, 12);
  });

  it("computes bounded edit distances", () => {
    expect(boundedEditDistance("kitten", "sitting", 3)).toBe(3);
    expect(boundedEditDistance("kitten", "sitting", 1)).toBe(2);
    expect(boundedEditDistance("abc", "abc", 0)).toBe(0);
    expect(boundedEditDistance("abc", "abcdef", 2)).toBe(3);
  });
});

describe("retrieval's cached index", () => {
  it("sees new versions and retirements without a stale answer", async () => {
    using store = ActionStore.open(":memory:");
    const names = fillLibrary(store, 200, 3);
    const first = await retrieveActions(store, "zebra stripes", { limit: 3 });
    expect(first).toEqual([]);
    store.recordCandidates("run-2", [
      {
        name: "count_zebra_stripes",
        isAsync: false,
        signature: "count_zebra_stripes(image) -> int",
        docstring: "Count the stripes of a zebra in an image.",
        source: "def count_zebra_stripes(image) -> int:\n    return 0\n",
        imports: [],
        dependencies: [],
        freeNames: [],
        normalHash: "zebra",
        origin: { taskId: "t", step: 1 },
      },
    ]);
    // A candidate is not in the library yet.
    expect(await retrieveActions(store, "zebra stripes", { limit: 3 })).toEqual([]);
    store.promote("run-2", "t");
    expect((await retrieveActions(store, "zebra stripes", { limit: 3 })).map((hit) => hit.action.name)).toEqual(["count_zebra_stripes"]);
    for (let failure = 0; failure < 3; failure++) store.recordUse("count_zebra_stripes", 1, false);
    expect(store.get("count_zebra_stripes")?.status).toBe("retired");
    expect(await retrieveActions(store, "zebra stripes", { limit: 3 })).toEqual([]);
    expect(names).toHaveLength(200);
  });

  it("answers the same after patching as a store opened afresh", async () => {
    const file = `${tmpdir()}/dynabox-bm25-${process.pid}-${Date.now()}.sqlite`;
    try {
      using store = ActionStore.open(file);
      fillLibrary(store, 300, 5);
      const query = "load the csv table rows by date";
      await retrieveActions(store, query, { limit: 10 });
      fillLibrary(store, 5, 6); // five new names (and a second task): patched in, not rebuilt
      store.retire(store.latest()[0]!.name);
      const patched = (await retrieveActions(store, query, { limit: 10 })).map((hit) => hit.action.id);
      using reopened = ActionStore.open(file);
      expect(patched).toEqual((await retrieveActions(reopened, query, { limit: 10 })).map((hit) => hit.action.id));
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
    }
  });
});
