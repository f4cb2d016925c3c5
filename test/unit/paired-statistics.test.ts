import { describe, expect, it } from "vitest";
import { combineAttempts, compareRuns, type LoadedRun } from "../../src/runs/compare.js";
import { comparisonJson, renderComparison } from "../../src/runs/compare-report.js";
import { mcnemarExact, pairedBootstrap, quantileSorted, seededRandom } from "../../src/runs/paired-statistics.js";

describe("McNemar's exact test", () => {
  it("matches binomial tails computed by hand", () => {
    // n = 6 flips, 1 one way: 2 x (C(6,0) + C(6,1)) / 2^6 = 2 x 7 / 64.
    expect(mcnemarExact(1, 5).pValue).toBeCloseTo(14 / 64, 12);
    expect(mcnemarExact(5, 1).pValue).toBeCloseTo(14 / 64, 12);
    // All ten flips one way: 2 / 2^10.
    expect(mcnemarExact(0, 10).pValue).toBeCloseTo(2 / 1024, 12);
    // An even split is capped at 1; no flips at all is 1.
    expect(mcnemarExact(3, 3).pValue).toBe(1);
    expect(mcnemarExact(0, 0)).toEqual({ onlyA: 0, onlyB: 0, pValue: 1 });
    // n = 2, both one way: 2 x 1/4.
    expect(mcnemarExact(0, 2).pValue).toBeCloseTo(0.5, 12);
  });
});

describe("the paired bootstrap", () => {
  it("gives a point interval when every task differs by the same amount", () => {
    expect(pairedBootstrap([0, 0, 0], [1, 1, 1])).toMatchObject({ difference: 1, low: 1, high: 1 });
  });

  it("matches the resampling distribution worked out by hand", () => {
    // Differences {0, 1}: a resample's mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4;
    // the 2.5th and 97.5th percentiles are 0 and 1.
    expect(pairedBootstrap([0, 0], [0, 1])).toMatchObject({ difference: 0.5, low: 0, high: 1 });
    // Differences {0, 0, 0, 1}: the mean is k/4, k ~ Binomial(4, 1/4): P(k <= 2) = 0.949,
    // P(k <= 3) = 0.996, so the 97.5th percentile is 3/4 and the 2.5th is 0.
    expect(pairedBootstrap([0, 0, 0, 0], [0, 0, 0, 1])).toMatchObject({ difference: 0.25, low: 0, high: 0.75 });
  });

  it("is reproducible from its seed", () => {
    const a = [0.1, 0.5, 0.3, 0.9, 0.4, 0.2, 0.8];
    const b = [0.3, 0.4, 0.6, 0.9, 0.7, 0.1, 0.9];
    expect(pairedBootstrap(a, b, { seed: 7 })).toEqual(pairedBootstrap(a, b, { seed: 7 }));
    const interval = pairedBootstrap(a, b, { seed: 7 });
    expect(interval.difference).toBeCloseTo(0.1, 12);
    expect(interval.low).toBeLessThan(interval.difference);
    expect(interval.high).toBeGreaterThan(interval.difference);
    expect(() => pairedBootstrap([1], [1, 2])).toThrow(RangeError);
  });

  it("uses the linear quantile and a seeded generator", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    const first = seededRandom(42);
    const second = seededRandom(42);
    const draws = Array.from({ length: 5 }, () => first());
    expect(draws).toEqual(Array.from({ length: 5 }, () => second()));
    expect(draws.every((value) => value >= 0 && value < 1)).toBe(true);
  });
});

function run(directory: string, rows: [string, string, boolean, number | null, number][]): LoadedRun {
  return {
    directory,
    model: "m",
    libraryMode: directory,
    tasks: combineAttempts(
      rows.map(([family, id, passed, score, tokens]) => ({ family: family as "sab", id, outcome: passed ? "passed" : "failed", score, steps: 2, tokens, cost_usd: tokens / 1_000_000 })),
    ),
  };
}

describe("compareRuns", () => {
  it("combines attempts: passed when any passed, the best score, costs summed", () => {
    const tasks = combineAttempts([
      { family: "sab", id: "1", outcome: "failed", score: 0.2, steps: 3, tokens: 10, cost_usd: 0.5 },
      { family: "sab", id: "1", outcome: "passed", score: 0.9, steps: 2, tokens: 5, cost_usd: 0.25 },
    ]);
    expect(tasks.get("sab/1")).toEqual({ key: "sab/1", family: "sab", id: "1", passed: true, score: 0.9, attempts: 2, steps: 5, tokens: 15, costUsd: 0.75 });
  });

  it("pairs tasks by id and reports per-family and overall figures", () => {
    const a = run("off", [
      ["sab", "1", true, 1, 100],
      ["sab", "2", false, 0, 200],
      ["sab", "3", false, null, 300],
      ["resq", "a", true, 1, 400],
    ]);
    const b = run("on", [
      ["sab", "1", true, 1, 50],
      ["sab", "2", true, 1, 60],
      ["sab", "3", true, 0.5, 70],
      ["resq", "a", false, 0, 80],
      ["mlab", "x", true, 1, 90],
    ]);
    const comparison = compareRuns(a, b);
    expect(comparison.paired).toBe(4);
    expect(comparison.onlyInB).toEqual(["mlab/x"]);
    const [resq, sab, all] = comparison.groups;
    expect(resq).toMatchObject({ family: "resq", tasks: 1, successA: 1, successB: 0, mcnemar: { onlyA: 1, onlyB: 0, pValue: 1 } });
    expect(resq?.success).toMatchObject({ difference: -1, low: -1, high: -1 });
    expect(sab).toMatchObject({ family: "sab", tasks: 3, successB: 1, mcnemar: { onlyA: 0, onlyB: 2 }, scoredTasks: 2, meanScoreA: 0.5, meanScoreB: 1 });
    expect(sab?.successA).toBeCloseTo(1 / 3, 12);
    expect(sab?.success.difference).toBeCloseTo(2 / 3, 12);
    expect(sab?.mcnemar.pValue).toBeCloseTo(0.5, 12);
    // Overall: 1 flip to fail, 2 to pass: 2 x (1 + 3) / 8 = 1.
    expect(all).toMatchObject({ family: "all", tasks: 4, successA: 0.5, successB: 0.75, mcnemar: { onlyA: 1, onlyB: 2, pValue: 1 } });
    expect(comparison.totals).toMatchObject({ a: { tokens: 1000, steps: 8 }, b: { tokens: 260, steps: 8 } });
    expect(comparison.totals.a.costUsd).toBeCloseTo(0.001, 12);
    expect(comparison.totals.b.costUsd).toBeCloseTo(0.00026, 12);
    expect([comparison.flippedToPass, comparison.flippedToFail]).toEqual([["sab/2", "sab/3"], ["resq/a"]]);
    const json = comparisonJson(comparison) as { families: { family: string; success_difference: { difference: number } }[] };
    expect(json.families.map((family) => [family.family, family.success_difference.difference])).toEqual([
      ["resq", -1],
      ["sab", 0.6667],
      ["all", 0.25],
    ]);
    const text = renderComparison(comparison);
    expect(text).toContain("passed in B only (2): sab/2, sab/3");
    expect(text).toMatch(/sab\s+3\s+33\.3 %\s+100\.0 %\s+\+66\.7 pt/);
  });

  it("refuses two runs with no task in common", () => {
    expect(() => compareRuns(run("a", [["sab", "1", true, 1, 1]]), run("b", [["sab", "2", true, 1, 1]]))).toThrow(/share no finished task/);
  });
});
