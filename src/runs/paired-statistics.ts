// Statistics for comparing two runs on the same tasks (an ablation: library on against off).
// Pure functions, tested against values computed by hand.
//
// - The paired bootstrap resamples tasks (with replacement) and takes the mean difference B - A
//   of each resample; the 2.5th and 97.5th percentiles of those means are the 95 % interval.
//   Pairing keeps each task's difficulty out of the spread. The generator is seeded, so the same
//   runs always give the same interval.
// - McNemar's exact test looks only at the tasks that flipped: under "no difference" a flip is
//   as likely either way, so the count of A-only passes among n flips is Binomial(n, 1/2); the
//   two-sided p-value doubles the smaller tail (capped at 1).

/** A small, fast, seeded generator (mulberry32): floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The value at quantile q of sorted values, linear between neighbours (the "type 7" definition). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = sorted[below] as number;
  const high = sorted[above] as number;
  return low + (high - low) * (position - below);
}

export interface BootstrapInterval {
  /** The observed mean difference B - A. */
  difference: number;
  low: number;
  high: number;
  confidence: number;
  resamples: number;
  seed: number;
}

/** Paired bootstrap interval of mean(b - a). `a` and `b` are the same tasks in the same order. */
export function pairedBootstrap(
  a: readonly number[],
  b: readonly number[],
  options: { resamples?: number; seed?: number; confidence?: number } = {},
): BootstrapInterval {
  if (a.length !== b.length) throw new RangeError(`paired samples differ in length: ${a.length} and ${b.length}`);
  const resamples = options.resamples ?? 10_000;
  const seed = options.seed ?? 1;
  const confidence = options.confidence ?? 0.95;
  const differences = a.map((value, index) => (b[index] as number) - value);
  const observed = mean(differences);
  if (differences.length === 0) return { difference: Number.NaN, low: Number.NaN, high: Number.NaN, confidence, resamples, seed };
  const random = seededRandom(seed);
  const means = new Float64Array(resamples);
  const n = differences.length;
  for (let sample = 0; sample < resamples; sample++) {
    let sum = 0;
    for (let draw = 0; draw < n; draw++) sum += differences[Math.floor(random() * n)] as number;
    means[sample] = sum / n;
  }
  means.sort();
  const tail = (1 - confidence) / 2;
  const sorted = Array.from(means);
  return { difference: observed, low: quantileSorted(sorted, tail), high: quantileSorted(sorted, 1 - tail), confidence, resamples, seed };
}

/** log of n choose k, by sums of logs (exact enough for the counts of a benchmark). */
function logChoose(n: number, k: number): number {
  let total = 0;
  for (let index = 1; index <= k; index++) total += Math.log(n - k + index) - Math.log(index);
  return total;
}

export interface McNemarResult {
  /** Tasks A passed and B failed. */
  onlyA: number;
  /** Tasks B passed and A failed. */
  onlyB: number;
  /** Two-sided exact p-value; 1 when nothing flipped. */
  pValue: number;
}

/** McNemar's exact (binomial) test on the discordant pairs. */
export function mcnemarExact(onlyA: number, onlyB: number): McNemarResult {
  const n = onlyA + onlyB;
  if (n === 0) return { onlyA, onlyB, pValue: 1 };
  const smaller = Math.min(onlyA, onlyB);
  let tail = 0;
  for (let k = 0; k <= smaller; k++) tail += Math.exp(logChoose(n, k) - n * Math.LN2);
  return { onlyA, onlyB, pValue: Math.min(1, 2 * tail) };
}
