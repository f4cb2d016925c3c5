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

export class Bm25Index<Id> {
  private readonly ids: Id[] = [];
  /** Per field: word -> postings. */
  private readonly fields: Map<string, Postings>[];
  /** Per field: each document's length in words. */
  private readonly lengths: number[][];
  private readonly averageLengths: number[];
  /** Every indexed word, sorted, for prefix and fuzzy expansion. */
  private readonly vocabulary: string[];

  constructor(
    documents: readonly { id: Id; fields: readonly string[] }[],
    private readonly options: Bm25Options,
  ) {
    const fieldCount = options.boosts.length;
    this.fields = Array.from({ length: fieldCount }, () => new Map<string, Postings>());
    this.lengths = Array.from({ length: fieldCount }, () => []);
    const words = new Set<string>();
    documents.forEach((document, documentIndex) => {
      this.ids.push(document.id);
      for (let field = 0; field < fieldCount; field++) {
        const terms = this.terms(document.fields[field] ?? "");
        (this.lengths[field] as number[]).push(terms.length);
        const counts = new Map<string, number>();
        for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
        const index = this.fields[field] as Map<string, Postings>;
        for (const [term, frequency] of counts) {
          let postings = index.get(term);
          if (postings === undefined) {
            postings = { documents: [], frequencies: [] };
            index.set(term, postings);
            words.add(term);
          }
          postings.documents.push(documentIndex);
          postings.frequencies.push(frequency);
        }
      }
    });
    this.averageLengths = this.lengths.map((lengths) => (lengths.length === 0 ? 1 : lengths.reduce((sum, length) => sum + length, 0) / lengths.length || 1));
    this.vocabulary = [...words].sort();
  }

  get size(): number {
    return this.ids.length;
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
    const count = this.ids.length;
    if (count === 0 || limit <= 0) return [];
    const scores = new Float64Array(count);
    const touched: number[] = [];
    const queryTerms = [...new Set(this.terms(query))];
    for (const term of queryTerms) {
      for (const [word, weight] of this.expand(term)) {
        for (let field = 0; field < this.fields.length; field++) {
          const postings = (this.fields[field] as Map<string, Postings>).get(word);
          if (postings === undefined) continue;
          const boost = (this.options.boosts[field] as number) * weight;
          const matching = postings.documents.length;
          const idf = Math.log(1 + (count - matching + 0.5) / (matching + 0.5));
          const lengths = this.lengths[field] as number[];
          const average = this.averageLengths[field] as number;
          for (let index = 0; index < matching; index++) {
            const document = postings.documents[index] as number;
            const frequency = postings.frequencies[index] as number;
            const normalized = frequency * (K1 + 1) / (frequency + K1 * (1 - B + (B * (lengths[document] as number)) / average));
            if (scores[document] === 0) touched.push(document);
            scores[document] = (scores[document] as number) + boost * idf * (normalized + DELTA);
          }
        }
      }
    }
    touched.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
    return touched.slice(0, limit).map((document) => ({ id: this.ids[document] as Id, score: scores[document] as number }));
  }
}
