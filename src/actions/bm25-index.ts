// A small BM25 index over a few weighted fields, built for ranking thousands of actions in a
// millisecond or two. A general search library scores every document that shares any word with
// the query and sorts them all; at 10,000 actions a task description touches most of them, which
// cost 10-20 ms a search. Here postings are flat arrays, scores accumulate in one typed array,
// and only the documents touched are sorted.
//
// Scoring is BM25+ per field (k1 = 1.2, b = 0.7, delta = 0.5), weighted by the field's boost and
// summed. A query word also matches index words it is a prefix of (words of 4+ characters,
// weight 0.375 scaled by how much of the word it covers) and words within an edit distance of
// 15 % of its length (words of 6+ characters, weight 0.45 scaled the same way), so "column"
// finds "columns" and a typo still lands.

const K1 = 1.2;
const B = 0.7;
const DELTA = 0.5;
const PREFIX_WEIGHT = 0.375;
const FUZZY_WEIGHT = 0.45;

export interface Bm25Options {
  /** One boost per field, in the order the documents give their fields. */
  boosts: readonly number[];
  tokenize: (text: string) => string[];
  /** Normalizes a word; null drops it (a stop word). */
  processTerm: (term: string) => string | null;
}

interface Postings {
  documents: number[];
  frequencies: number[];
}

/** Edit distance of a and b if it is at most `limit`, else limit + 1 (stops early). */
export function boundedEditDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    let best = row;
    for (let column = 1; column <= b.length; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      const value = Math.min((previous[column] as number) + 1, (current[column - 1] as number) + 1, (previous[column - 1] as number) + cost);
      current.push(value);
      if (value < best) best = value;
    }
    if (best > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] as number;
}

export interface Bm25Document<Id> {
  id: Id;
  fields: readonly string[];
}

export class Bm25Index<Id> {
  private readonly ids: Id[] = [];
  /** Each document's first field, for breaking ties the same way however the index was built. */
  private readonly keys: string[] = [];
  private readonly positions = new Map<Id, number>();
  /** Documents removed since the index was built (skipped; their postings stay). */
  private readonly removed = new Set<number>();
  /** Per field: word -> postings. */
  private readonly fields: Map<string, Postings>[];
  /** Per field: each document's length in words, and their sum. */
  private readonly lengths: number[][];
  private readonly lengthSums: number[];
  /** Every indexed word, sorted, for prefix and fuzzy expansion. */
  private vocabulary: string[] = [];

  constructor(
    documents: readonly Bm25Document<Id>[],
    private readonly options: Bm25Options,
  ) {
    const fieldCount = options.boosts.length;
    this.fields = Array.from({ length: fieldCount }, () => new Map<string, Postings>());
    this.lengths = Array.from({ length: fieldCount }, () => []);
    this.lengthSums = Array.from({ length: fieldCount }, () => 0);
    this.add(documents);
  }

  /** Documents in the index (removed ones not counted). */
  get size(): number {
    return this.ids.length - this.removed.size;
  }

  /** Share of the postings that belong to removed documents: rebuild when it grows. */
  get removedShare(): number {
    return this.ids.length === 0 ? 0 : this.removed.size / this.ids.length;
  }

  /** Adds documents (an id already present is replaced). */
  add(documents: readonly Bm25Document<Id>[]): void {
    const newWords: string[] = [];
    for (const document of documents) {
      if (this.positions.has(document.id)) this.remove([document.id]);
      const documentIndex = this.ids.length;
      this.ids.push(document.id);
      this.keys.push(document.fields[0] ?? "");
      this.positions.set(document.id, documentIndex);
      for (let field = 0; field < this.fields.length; field++) {
        const terms = this.terms(document.fields[field] ?? "");
        (this.lengths[field] as number[]).push(terms.length);
        this.lengthSums[field] = (this.lengthSums[field] as number) + terms.length;
        const counts = new Map<string, number>();
        for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
        const index = this.fields[field] as Map<string, Postings>;
        for (const [term, frequency] of counts) {
          let postings = index.get(term);
          if (postings === undefined) {
            postings = { documents: [], frequencies: [] };
            index.set(term, postings);
            newWords.push(term);
          }
          postings.documents.push(documentIndex);
          postings.frequencies.push(frequency);
        }
      }
    }
    if (newWords.length > 0) this.vocabulary = [...new Set([...this.vocabulary, ...newWords])].sort();
  }

  /** Takes documents out of the results (their words still count in document frequencies until a rebuild). */
  remove(ids: readonly Id[]): void {
    for (const id of ids) {
      const position = this.positions.get(id);
      if (position === undefined) continue;
      this.positions.delete(id);
      this.removed.add(position);
      for (let field = 0; field < this.fields.length; field++) {
        this.lengthSums[field] = (this.lengthSums[field] as number) - ((this.lengths[field] as number[])[position] as number);
      }
    }
  }

  private terms(text: string): string[] {
    const terms: string[] = [];
    for (const word of this.options.tokenize(text)) {
      const term = this.options.processTerm(word);
      if (term !== null && term !== "") terms.push(term);
    }
    return terms;
  }

  /** Index words a query word matches, with their weights (exact 1, prefix and fuzzy less). */
  private expand(term: string): Map<string, number> {
    const matches = new Map<string, number>([[term, 1]]);
    if (term.length >= 4) {
      let low = 0;
      let high = this.vocabulary.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if ((this.vocabulary[middle] as string) < term) low = middle + 1;
        else high = middle;
      }
      for (let index = low; index < this.vocabulary.length && (this.vocabulary[index] as string).startsWith(term); index++) {
        const word = this.vocabulary[index] as string;
        if (word !== term) matches.set(word, PREFIX_WEIGHT * (term.length / word.length));
      }
    }
    if (term.length >= 6) {
      const limit = Math.round(term.length * 0.15);
      for (const word of this.vocabulary) {
        if (matches.has(word) || Math.abs(word.length - term.length) > limit) continue;
        const distance = boundedEditDistance(term, word, limit);
        if (distance <= limit) matches.set(word, FUZZY_WEIGHT * (term.length / (term.length + distance)));
      }
    }
    return matches;
  }

  /** The best `limit` documents for the query, best first; only documents that match at all. */
  search(query: string, limit: number): { id: Id; score: number }[] {
    const count = this.size;
    if (count === 0 || limit <= 0) return [];
    const scores = new Float64Array(this.ids.length);
    const touched: number[] = [];
    const queryTerms = [...new Set(this.terms(query))];
    for (const term of queryTerms) {
      for (const [word, weight] of this.expand(term)) {
        for (let field = 0; field < this.fields.length; field++) {
          const postings = (this.fields[field] as Map<string, Postings>).get(word);
          if (postings === undefined) continue;
          const boost = (this.options.boosts[field] as number) * weight;
          const matching = postings.documents.length;
          // Removed documents' postings stay until a rebuild; the idf counts them (capped at the live count).
          const frequency = Math.min(matching, count);
          const idf = Math.log(1 + (count - frequency + 0.5) / (frequency + 0.5));
          const lengths = this.lengths[field] as number[];
          const average = (this.lengthSums[field] as number) / count || 1;
          for (let index = 0; index < matching; index++) {
            const document = postings.documents[index] as number;
            if (this.removed.has(document)) continue;
            const termFrequency = postings.frequencies[index] as number;
            const normalized = (termFrequency * (K1 + 1)) / (termFrequency + K1 * (1 - B + (B * (lengths[document] as number)) / average));
            if (scores[document] === 0) touched.push(document);
            scores[document] = (scores[document] as number) + boost * idf * (normalized + DELTA);
          }
        }
      }
    }
    const keys = this.keys;
    touched.sort((a, b) => (scores[b] as number) - (scores[a] as number) || ((keys[a] as string) < (keys[b] as string) ? -1 : (keys[a] as string) > (keys[b] as string) ? 1 : a - b));
    return touched.slice(0, limit).map((document) => ({ id: this.ids[document] as Id, score: scores[document] as number }));
  }
}
