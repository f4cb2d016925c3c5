import { describe, expect, it } from "vitest";
import { median, quantile } from "../../src/bench/statistics.js";

describe("quantiles", () => {
  it("uses the nearest rank", () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(median(samples)).toBe(50);
    expect(quantile(samples, 0.99)).toBe(99);
    expect(quantile(samples, 1)).toBe(100);
    expect(quantile([7], 0.5)).toBe(7);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
