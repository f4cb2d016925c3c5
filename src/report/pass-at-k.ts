// pass@k over several attempts per task, with the unbiased estimator of Chen et al. (2021) that
// RES-Q and most code benchmarks use: per task 1 - C(n-c, k) / C(n, k) for n graded attempts
// of which c passed, averaged over tasks. Attempts that ended in an infrastructure error are
// not attempts of the agent: they are left out of n. Pure.

export interface AttemptOutcome {
  family: string;
  id: string;
  outcome: string;
}

export interface PassAtK {
  family: string;
  k: number;
  /** Tasks with at least k graded attempts (the others can not be estimated at this k). */
  tasks: number;
  value: number | null;
}

/** 1 - C(n-c, k)/C(n, k), computed as a product to stay exact for small numbers. */
export function passAtKOfTask(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`k (${k}) is more than the attempts (${n})`);
  if (n - c < k) return 1;
  let failAll = 1;
  for (let index = n - c + 1; index <= n; index++) failAll *= 1 - k / index;
  return 1 - failAll;
}

/** pass@k for k = 1..(most attempts), per family. */
export function passAtK(attempts: readonly AttemptOutcome[]): PassAtK[] {
  const byFamily = new Map<string, Map<string, { n: number; c: number }>>();
  for (const attempt of attempts) {
    if (attempt.outcome === "error") continue;
    const tasks = byFamily.get(attempt.family) ?? new Map<string, { n: number; c: number }>();
    byFamily.set(attempt.family, tasks);
    const counts = tasks.get(attempt.id) ?? { n: 0, c: 0 };
    counts.n += 1;
    if (attempt.outcome === "passed") counts.c += 1;
    tasks.set(attempt.id, counts);
  }
  const rows: PassAtK[] = [];
  for (const [family, tasks] of [...byFamily.entries()].sort(([left], [right]) => left.localeCompare(right))) {
    const most = Math.max(...[...tasks.values()].map((counts) => counts.n));
    for (let k = 1; k <= most; k++) {
      const eligible = [...tasks.values()].filter((counts) => counts.n >= k);
      const value = eligible.length === 0 ? null : eligible.reduce((sum, counts) => sum + passAtKOfTask(counts.n, counts.c, k), 0) / eligible.length;
      rows.push({ family, k, tasks: eligible.length, value });
    }
  }
  return rows;
}
