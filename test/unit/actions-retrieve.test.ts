import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { normalHash } from "../../src/actions/normalize.js";
import {
  cosineSimilarity,
  openAiEmbedder,
  rankByBm25,
  reciprocalRankFusion,
  retrieveActions,
  splitWords,
  type Embedder,
  type EmbeddingsClient,
} from "../../src/actions/retrieve.js";
import { ActionStore } from "../../src/actions/store.js";

const directories: string[] = [];
const stores: ActionStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) store.close();
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

const LIBRARY: { name: string; signature: string; docstring: string }[] = [
  { name: "load_csv", signature: "load_csv(path: str, sep: str=',') -> pd.DataFrame", docstring: "Read a CSV file into a pandas DataFrame." },
  { name: "plotHistogram", signature: "plotHistogram(values: list[float], bins: int=20) -> None", docstring: "Draw a histogram of numeric values and save it as a PNG image." },
  { name: "train_linear_regression", signature: "train_linear_regression(features, target)", docstring: "Fit an ordinary least squares model and return it." },
  { name: "count_rows", signature: "count_rows(path: str) -> int", docstring: "Count the lines of a text file, without the header." },
  { name: "slugify", signature: "slugify(title: str) -> str", docstring: "Turn a title into a URL slug: lowercase words joined by hyphens." },
  { name: "median_of_column", signature: "median_of_column(frame, column: str) -> float", docstring: "The median value of one column of a DataFrame." },
  { name: "git_changed_files", signature: "git_changed_files(repository: str) -> list[str]", docstring: "List files changed in the working tree of a git repository." },
  { name: "evaluate_accuracy", signature: "evaluate_accuracy(predictions, labels) -> float", docstring: "Share of predictions equal to the labels." },
];

async function library(entries = LIBRARY): Promise<ActionStore> {
  const directory = await mkdtemp(path.join(tmpdir(), "dynabox-retrieve-"));
  directories.push(directory);
  const store = ActionStore.open(path.join(directory, "actions.sqlite"));
  stores.push(store);
  store.recordCandidates(
    "run",
    entries.map((entry) => ({
      ...entry,
      isAsync: false,
      source: `def ${entry.signature}:\n    """${entry.docstring}"""\n    ...`,
      imports: [],
      dependencies: [],
      freeNames: [],
      normalHash: normalHash(entry.name),
      origin: { taskId: "seed", step: 1 },
    })),
  );
  store.promote("run", "seed");
  return store;
}

/**
 * A deterministic embedder: bag-of-concepts vectors. Words map to concept dimensions through a
 * small synonym table (so "spreadsheet" and "csv" land on the same dimension, which BM25 can not
 * know); other words hash into the remaining dimensions.
 */
function conceptEmbedder(): Embedder & { calls: string[][] } {
  const concepts: Record<string, number> = {
    csv: 0, spreadsheet: 0, table: 0, tabular: 0, dataframe: 0,
    histogram: 1, chart: 1, plot: 1, graph: 1, draw: 1,
    url: 2, slug: 2, permalink: 2, link: 2,
    git: 3, repository: 3, commit: 3, diff: 3, version: 3, control: 3,
  };
  const dimensions = 32;
  const calls: string[][] = [];
  return {
    model: "concepts-v1",
    calls,
    async embed(texts) {
      calls.push([...texts]);
      return texts.map((text) => {
        const vector = new Array<number>(dimensions).fill(0);
        for (const word of splitWords(text)) {
          const concept = concepts[word];
          if (concept !== undefined) vector[concept]! += 1;
          else {
            let hash = 0;
            for (const character of word) hash = (hash * 31 + character.charCodeAt(0)) >>> 0;
            vector[4 + (hash % (dimensions - 4))]! += 0.2;
          }
        }
        return vector;
      });
    },
  };
}

describe("retrieval", () => {
  it("splits names written in snake_case and camelCase into words", () => {
    expect(splitWords("load_csv_file")).toEqual(["load", "csv", "file"]);
    expect(splitWords("plotHistogram")).toEqual(["plot", "histogram"]);
    expect(splitWords("parseHTMLTable2")).toEqual(["parse", "html", "table2"]);
  });

  it("ranks a small library sensibly with BM25", async () => {
    const store = await library();
    const top = async (query: string) => (await retrieveActions(store, query, { limit: 3 })).map((hit) => hit.action.name);
    expect((await top("read the csv file with the training data"))[0]).toBe("load_csv");
    expect((await top("plot a histogram of the prices"))[0]).toBe("plotHistogram");
    expect((await top("what is the median of the price column"))[0]).toBe("median_of_column");
    expect((await top("which files changed in the git repository"))[0]).toBe("git_changed_files");
    expect((await top("compute accuracy of predictions"))[0]).toBe("evaluate_accuracy");
    expect((await top("count rows"))[0]).toBe("count_rows"); // plural folded, name boosted
    expect(await top("zebra quantum")).toEqual([]);
  });

  it("weighs the name above the docstring", async () => {
    const store = await library([
      { name: "summarize", signature: "summarize(frame)", docstring: "Describe every column, like a histogram of each." },
      { name: "histogram", signature: "histogram(values)", docstring: "Counts per bin." },
    ]);
    const hits = await retrieveActions(store, "histogram");
    expect(hits.map((hit) => hit.action.name)).toEqual(["histogram", "summarize"]);
    expect(hits[0]).toMatchObject({ bm25Rank: 1, vectorRank: null });
  });

  it("returns only the latest promoted version of each name", async () => {
    const store = await library();
    store.recordCandidates("run", [
      {
        name: "load_csv", isAsync: false, signature: "load_csv(path)", docstring: "Read a CSV file, new version.",
        source: "def load_csv(path):\n    ...", imports: [], dependencies: [], freeNames: [], normalHash: "v2", origin: { taskId: "later", step: 1 },
      },
    ]);
    store.promote("run", "later");
    const hits = await retrieveActions(store, "csv file", { limit: 10 });
    expect(hits.filter((hit) => hit.action.name === "load_csv").map((hit) => hit.action.version)).toEqual([2]);
  });

  it("fuses ranked lists by reciprocal rank", () => {
    const fused = reciprocalRankFusion([["a", "b", "c"], ["c", "a"]], 60);
    expect(fused.get("a")).toBeCloseTo(1 / 61 + 1 / 62);
    expect(fused.get("b")).toBeCloseTo(1 / 62);
    expect(fused.get("c")).toBeCloseTo(1 / 63 + 1 / 61);
    const order = [...fused.entries()].sort((x, y) => y[1] - x[1]).map(([id]) => id);
    expect(order).toEqual(["a", "c", "b"]);
    expect(cosineSimilarity([1, 0], [2, 0])).toBeCloseTo(1);
    expect(cosineSimilarity([1, 0], [0, 3])).toBe(0);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
  });

  it("finds by meaning what BM25 misses when an embedder is given, and caches action vectors", async () => {
    const store = await library();
    expect(await retrieveActions(store, "spreadsheet")).toEqual([]);
    const embedder = conceptEmbedder();
    const hits = await retrieveActions(store, "spreadsheet", { limit: 3, embedder });
    expect(hits[0]?.action.name).toBe("load_csv");
    expect(hits[0]).toMatchObject({ bm25Rank: null, vectorRank: 1 });
    // Both lists agree on the slug action: it wins with both ranks.
    const both = await retrieveActions(store, "make a url slug from a title", { limit: 3, embedder });
    expect(both[0]).toMatchObject({ action: { name: "slugify" }, bm25Rank: 1, vectorRank: 1 });
    expect(both[0]!.score).toBeCloseTo(2 / 61);
    // The library was embedded once (one batch of 8); later calls embed only the query.
    expect(embedder.calls.map((texts) => texts.length)).toEqual([8, 1, 1]);
    expect(embedder.calls[0]).toContain("load csv\nload_csv(path: str, sep: str=',') -> pd.DataFrame\nRead a CSV file into a pandas DataFrame.");
    // A fresh handle on the same file still has the vectors.
    const again = ActionStore.open(store.file);
    stores.push(again);
    const second = conceptEmbedder();
    await retrieveActions(again, "version control history", { limit: 2, embedder: second });
    expect(second.calls.map((texts) => texts.length)).toEqual([1]);
  });

  it("ranks with BM25 alone over plain action lists", async () => {
    const store = await library();
    const hits = rankByBm25(store.latest(), "histogram png", 2);
    expect(hits.map((hit) => hit.action.name)).toEqual(["plotHistogram"]);
  });

  it("adapts an OpenAI-style client, in input order", async () => {
    const requests: unknown[] = [];
    const client = {
      embeddings: {
        async create(body: { model: string; input: string[] }) {
          requests.push(body);
          return { data: body.input.map((text, index) => ({ index, embedding: [text.length, index] })).reverse() };
        },
      },
    };
    const embedder = openAiEmbedder(client, "text-embedding-3-small");
    expect(await embedder.embed(["a", "bbb"])).toEqual([
      [1, 0],
      [3, 1],
    ]);
    expect(requests).toEqual([{ model: "text-embedding-3-small", input: ["a", "bbb"] }]);
    // The real client fits the interface (checked by the compiler; nothing is sent).
    const real: EmbeddingsClient = new OpenAI({ apiKey: "unused", baseURL: "http://127.0.0.1:9/v1" });
    expect(openAiEmbedder(real, "m").model).toBe("m");
  });
});
