// A synthetic action library of any size, for measuring retrieval and the agent's per-step cost
// as the library grows. Names and docstrings are drawn (seeded) from a vocabulary of data-task
// words, so BM25 sees realistic overlaps between actions; the sources are trivial but distinct.

import { normalHash } from "../actions/normalize.js";
import type { ActionStore } from "../actions/store.js";
import type { ActionCandidate } from "../actions/types.js";
import { seededRandom } from "../runs/paired-statistics.js";

const VERBS = ["load", "read", "parse", "clean", "filter", "merge", "plot", "train", "evaluate", "score", "split", "normalize", "count", "summarize", "export", "save", "fit", "predict", "sort", "group"];
const NOUNS = ["csv", "table", "rows", "columns", "model", "dataset", "image", "text", "labels", "features", "metrics", "report", "patch", "repository", "tests", "series", "matrix", "samples", "trials", "stations"];
const QUALIFIERS = ["by date", "with pandas", "from a folder", "into json", "per group", "with a threshold", "in place", "for regression", "for classification", "as percentages"];

/** Adds `count` promoted actions to `store` (in one task of run `bench`); returns their names. */
export function fillLibrary(store: ActionStore, count: number, seed = 1): string[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const candidates: ActionCandidate[] = [];
  for (let index = 0; index < count; index++) {
    const verb = pick(VERBS);
    const noun = pick(NOUNS);
    const name = `${verb}_${noun}_${index}`;
    const docstring = `${verb[0]?.toUpperCase()}${verb.slice(1)} the ${noun} ${pick(QUALIFIERS)}; also handles ${pick(NOUNS)} and ${pick(NOUNS)}.`;
    const source = `def ${name}(path: str, limit: int = ${index % 97}) -> str:\n    """${docstring}"""\n    return f"{path}:{limit}"\n`;
    candidates.push({
      name,
      isAsync: false,
      signature: `${name}(path: str, limit: int = ${index % 97}) -> str`,
      docstring,
      source,
      imports: [],
      dependencies: [],
      freeNames: [],
      normalHash: normalHash(`${name}:${index}`),
      origin: { taskId: "bench/library", step: 1 },
    });
  }
  store.recordCandidates("bench", candidates);
  store.promote("bench", "bench/library");
  return candidates.map((candidate) => candidate.name);
}
