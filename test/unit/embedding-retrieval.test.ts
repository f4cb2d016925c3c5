// Retrieval with embeddings through the real openai client: the scripted server's
// /v1/embeddings (deterministic bag-of-words vectors) behind the model client's embedder.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { TaskLibrary } from "../../src/actions/promote.js";
import { ActionStore } from "../../src/actions/store.js";
import type { ActionCandidate } from "../../src/actions/types.js";
import { createModelClient } from "../../src/agent/model-client.js";
import { hashedEmbedding, startScriptedOpenAIServer } from "../../src/testing/scripted-openai-server.js";
import { cleanupsAfterEach } from "../cleanups.js";
import { noExtraction } from "../no-extraction.js";

const cleanups = cleanupsAfterEach();

function action(name: string, docstring: string): ActionCandidate {
  const signature = `${name}(path: str) -> str`;
  return {
    name,
    isAsync: false,
    signature,
    docstring,
    source: `def ${signature}:\n    """${docstring}"""\n    return path\n`,
    imports: [],
    dependencies: [],
    freeNames: [],
    normalHash: `hash-${name}`,
    origin: { taskId: "earlier", step: 1 },
  };
}

describe("retrieval with an embedding model", () => {
  it("asks the endpoint for embeddings and ranks by meaning as well as words", async () => {
    const server = await startScriptedOpenAIServer({ replies: [] });
    cleanups.push(() => server.close());
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-embed-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const store = ActionStore.open(path.join(folder, "actions.sqlite"));
    cleanups.push(async () => store.close());
    store.recordCandidates("run-1", [
      action("load_table", "Read a spreadsheet of measurements into rows."),
      action("plot_series", "Draw a line chart of a time series."),
    ]);
    store.promote("run-1", "earlier");
    const model = createModelClient({ model: "scripted", baseURL: server.url, apiKey: "x" });
    const library = new TaskLibrary(store, { runId: "run-2", taskId: "later", extractor: noExtraction, embedder: model.embedder("test-embedding") });
    const { offered } = await library.retrieve("measurements spreadsheet", 1);
    expect(offered.map((each) => each.name)).toEqual(["load_table"]);
    expect(server.embeddingRequests.length).toBeGreaterThan(0);
    expect(server.embeddingRequests[0]?.model).toBe("test-embedding");
    server.assertDone();
  });

  it("gives texts that share words closer vectors", () => {
    const dot = (a: number[], b: number[]): number => a.reduce((sum, value, index) => sum + value * (b[index] ?? 0), 0);
    const query = hashedEmbedding("read a csv table");
    expect(dot(query, hashedEmbedding("read a table from csv"))).toBeGreaterThan(dot(query, hashedEmbedding("draw a chart")));
  });
});
