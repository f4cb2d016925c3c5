// The in-kernel `search_actions` query is made by sandbox code: only its first
// SEARCH_QUERY_LIMIT characters are searched, so a huge query costs the host no more than that.

import { describe, expect, it } from "vitest";
import { normalHash } from "../../src/actions/normalize.js";
import { SEARCH_QUERY_LIMIT, TaskLibrary } from "../../src/actions/promote.js";
import { ActionStore } from "../../src/actions/store.js";
import { noExtraction } from "../no-extraction.js";

describe("search_actions queries from the sandbox", () => {
  it("searches only the first characters of an oversized query", async () => {
    using store = ActionStore.open(":memory:");
    store.recordCandidates("run", [
      {
        name: "slugify",
        signature: "slugify(title: str) -> str",
        docstring: "Turn a title into a URL slug.",
        isAsync: false,
        source: 'def slugify(title: str) -> str:\n    """Turn a title into a URL slug."""\n    ...',
        imports: [],
        dependencies: [],
        freeNames: [],
        normalHash: normalHash("slugify"),
        origin: { taskId: "seed", step: 1 },
      },
    ]);
    store.promote("run", "seed");
    const search = new TaskLibrary(store, { runId: "run", taskId: "t", extractor: noExtraction }).searchHandler();
    expect((await search({ query: "slugify" })).map((hit) => hit.name)).toEqual(["slugify"]);
    const padded = "-".repeat(SEARCH_QUERY_LIMIT) + " slugify";
    expect(await search({ query: padded })).toEqual([]);
  });
});
