// Retrieval: which library actions fit a query (a task's description, or what the agent asks
// for from inside the kernel). BM25 (bm25-index.ts) over the name split into words, the signature
// and the full docstring, the name counting most. When the caller supplies an embedder (any
// OpenAI-compatible embeddings endpoint), cosine similarity ranks the actions too and the two
// rankings are fused by reciprocal rank fusion, which needs no score calibration between them.
// Action vectors are computed once per (action, model) and cached in the store.
//
// At 10,000 actions, reading and validating the rows and building the BM25 index take about a
// second, so both are kept per store and brought up to date only when what retrieval sees
// changed (a new version, a promotion, a retirement; checked in O(1), then with one scan): a
// few changed actions are patched in (their ids, then only the new rows), many are rebuilt.
// Searches in between cost about a millisecond.

import { DynaboxError } from "../errors.js";
import { Bm25Index } from "./bm25-index.js";
import type { ActionStore } from "./store.js";
import type { LibraryAction } from "./types.js";

/** Turns texts into vectors; `model` names the cache entries, so vectors of two models never mix. */
export interface Embedder {
  model: string;
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

export interface RankedAction {
  action: LibraryAction;
  /** BM25 score alone, or the fused RRF score when an embedder took part. */
  score: number;
  /** 1-based rank in each list, null when the action was not in it. */
  bm25Rank: number | null;
  vectorRank: number | null;
}

export interface RetrieveOptions {
  limit?: number;
  embedder?: Embedder;
  signal?: AbortSignal;
}

/** The constant of reciprocal rank fusion (Cormack et al. 2009): score = sum of 1 / (k + rank). */
export const RRF_K = 60;

const STOP_WORDS = new Set(
  "a an and are as at be by for from has have how i in into is it its of on or that the this to was were what when which with you your".split(" "),
);

/** `loadCsvFile`, `load_csv_file`, `LoadCSVFile` -> ["load", "csv", "file"]. */
export function splitWords(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== "")
    .map((word) => word.toLowerCase());
}

/** Lowercase, stop words dropped, plurals folded ("columns" matches "column"). */
function processTerm(term: string): string | null {
  const word = term.toLowerCase();
  if (STOP_WORDS.has(word)) return null;
  if (word.length > 4 && word.endsWith("ies")) return word.slice(0, -3) + "y";
  if (word.length > 3 && word.endsWith("s") && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

function buildIndex(actions: readonly LibraryAction[]): Bm25Index<number> {
  return new Bm25Index(
    actions.map((action) => ({ id: action.id, fields: [action.name, action.signature, action.docstring] })),
    { boosts: [3, 1.5, 1], tokenize: splitWords, processTerm },
  );
}

function searchIndex(index: Bm25Index<number>, byId: ReadonlyMap<number, LibraryAction>, query: string, limit: number): { action: LibraryAction; score: number }[] {
  return index.search(query, limit).flatMap((hit) => {
    const action = byId.get(hit.id);
    return action === undefined ? [] : [{ action, score: hit.score }];
  });
}

/** BM25 over name (boosted), signature and docstring; only actions that match at all. */
export function rankByBm25(actions: readonly LibraryAction[], query: string, limit = actions.length): { action: LibraryAction; score: number }[] {
  return searchIndex(buildIndex(actions), new Map(actions.map((action) => [action.id, action])), query, limit);
}

/** What retrieval keeps per store between searches. */
interface LibrarySnapshot {
  changeCounter: string;
  fingerprint: string;
  actions: LibraryAction[];
  byId: Map<number, LibraryAction>;
  index: Bm25Index<number>;
  /** Embedding vectors per model, read from the store once. */
  vectors: Map<string, Map<number, ArrayLike<number>>>;
}

const snapshots = new WeakMap<ActionStore, LibrarySnapshot>();

/**
 * Brings a snapshot up to date in place when only a few actions changed (a task's promotion, a
 * retirement): reads just the ids, then the new rows. False when a rebuild is better.
 */
function patchSnapshot(store: ActionStore, snapshot: LibrarySnapshot): boolean {
  const ids = store.latestIds();
  const current = new Set(ids);
  const gone = snapshot.actions.filter((action) => !current.has(action.id)).map((action) => action.id);
  const added = ids.filter((id) => !snapshot.byId.has(id));
  if (gone.length + added.length > Math.max(50, ids.length / 10) || snapshot.index.removedShare > 0.2) return false;
  const fresh = store.actionsById(added);
  snapshot.index.remove(gone);
  snapshot.index.add(fresh.map((action) => ({ id: action.id, fields: [action.name, action.signature, action.docstring] })));
  for (const id of gone) snapshot.byId.delete(id);
  for (const action of fresh) snapshot.byId.set(action.id, action);
  snapshot.actions = [...snapshot.byId.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return true;
}

/** The store's latest actions and their index, rebuilt only when they changed. */
function librarySnapshot(store: ActionStore): LibrarySnapshot {
  const known = snapshots.get(store);
  const changeCounter = store.changeCounter();
  if (known !== undefined && known.changeCounter === changeCounter) return known;
  const fingerprint = store.latestFingerprint();
  if (known !== undefined && known.fingerprint === fingerprint) {
    known.changeCounter = changeCounter;
    return known;
  }
  if (known !== undefined && patchSnapshot(store, known)) {
    known.changeCounter = changeCounter;
    known.fingerprint = fingerprint;
    return known;
  }
  const actions = store.latest();
  const snapshot: LibrarySnapshot = {
    changeCounter,
    fingerprint,
    actions,
    byId: new Map(actions.map((action) => [action.id, action])),
    index: buildIndex(actions),
    vectors: new Map(),
  };
  snapshots.set(store, snapshot);
  return snapshot;
}

/** Fuses ranked lists of ids: each list adds 1 / (k + rank) to the ids it contains. */
export function reciprocalRankFusion<Id>(lists: readonly (readonly Id[])[], k = RRF_K): Map<Id, number> {
  const scores = new Map<Id, number>();
  for (const list of lists) {
    list.forEach((id, index) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1)));
  }
  return scores;
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a[index] as number;
    const y = b[index] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

/** The text an action is embedded by: its name as words, signature and full docstring. */
export function embeddingText(action: Pick<LibraryAction, "name" | "signature" | "docstring">): string {
  return [splitWords(action.name).join(" "), action.signature, action.docstring].filter((part) => part !== "").join("\n");
}

/** Vectors of the actions for `embedder.model`, from the store's cache or computed and cached. */
async function actionVectors(
  store: ActionStore,
  snapshot: LibrarySnapshot,
  embedder: Embedder,
  signal?: AbortSignal,
): Promise<Map<number, ArrayLike<number>>> {
  const { actions } = snapshot;
  let vectors = snapshot.vectors.get(embedder.model);
  if (vectors === undefined) {
    vectors = new Map(store.embeddings(embedder.model, actions.map((action) => action.id)));
    snapshot.vectors.set(embedder.model, vectors);
  }
  const missing = actions.filter((action) => !vectors.has(action.id));
  const batchSize = 64;
  for (let start = 0; start < missing.length; start += batchSize) {
    const batch = missing.slice(start, start + batchSize);
    const computed = await embedder.embed(batch.map(embeddingText), signal);
    if (computed.length !== batch.length) {
      throw new DynaboxError("DYNABOX_MODEL", `the embedder returned ${computed.length} vectors for ${batch.length} texts`);
    }
    const fresh = new Map<number, number[]>();
    batch.forEach((action, index) => fresh.set(action.id, computed[index] as number[]));
    store.saveEmbeddings(embedder.model, fresh);
    for (const [id, vector] of fresh) vectors.set(id, vector);
  }
  return vectors;
}

/**
 * The library's actions that best fit `query`: the latest promoted version of each name, best
 * first. BM25 alone returns only actions that share a word with the query; with an embedder,
 * the top of both rankings (4 x limit, at least 20, from each) is fused.
 */
export async function retrieveActions(store: ActionStore, query: string, options: RetrieveOptions = {}): Promise<RankedAction[]> {
  const limit = options.limit ?? 5;
  const snapshot = librarySnapshot(store);
  const { actions, byId } = snapshot;
  if (actions.length === 0 || limit <= 0) return [];
  const pool = Math.max(limit * 4, 20);
  const lexical = searchIndex(snapshot.index, byId, query, pool);
  if (options.embedder === undefined) {
    return lexical.slice(0, limit).map((hit, index) => ({ action: hit.action, score: hit.score, bm25Rank: index + 1, vectorRank: null }));
  }
  const vectors = await actionVectors(store, snapshot, options.embedder, options.signal);
  const [queryVector] = await options.embedder.embed([query], options.signal);
  if (queryVector === undefined) throw new DynaboxError("DYNABOX_MODEL", "the embedder returned no vector for the query");
  const semantic = actions
    .map((action) => ({ action, similarity: cosineSimilarity(queryVector, vectors.get(action.id) ?? []) }))
    .sort((a, b) => b.similarity - a.similarity || a.action.name.localeCompare(b.action.name))
    .slice(0, pool);
  const lexicalIds = lexical.map((hit) => hit.action.id);
  const semanticIds = semantic.map((hit) => hit.action.id);
  const fused = reciprocalRankFusion([lexicalIds, semanticIds]);
  return [...fused.entries()]
    .sort((a, b) => b[1] - a[1] || (byId.get(a[0])?.name ?? "").localeCompare(byId.get(b[0])?.name ?? ""))
    .slice(0, limit)
    .map(([id, score]) => {
      const bm25Index = lexicalIds.indexOf(id);
      const vectorIndex = semanticIds.indexOf(id);
      return {
        action: byId.get(id) as LibraryAction,
        score,
        bm25Rank: bm25Index < 0 ? null : bm25Index + 1,
        vectorRank: vectorIndex < 0 ? null : vectorIndex + 1,
      };
    });
}

/** The part of an OpenAI client (the `openai` package, or anything shaped like it) embeddings need. */
export interface EmbeddingsClient {
  embeddings: {
    create(
      body: { model: string; input: string[] },
      options?: { signal?: AbortSignal },
    ): Promise<{ data: { embedding: number[]; index: number }[] }>;
  };
}

/** An embedder over an OpenAI-compatible `/embeddings` endpoint. */
export function openAiEmbedder(client: EmbeddingsClient, model: string): Embedder {
  return {
    model,
    async embed(texts, signal) {
      const response = await client.embeddings.create({ model, input: texts }, signal ? { signal } : undefined);
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      return ordered.map((item) => item.embedding);
    },
  };
}
