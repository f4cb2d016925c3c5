import { describe, expect, it } from "vitest";
import { mapConcurrent } from "../../src/runs/concurrency.js";

describe("mapConcurrent", () => {
  it("keeps the order of results and never runs more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const results = await mapConcurrent([5, 1, 4, 2, 3], 2, async (value) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, value * 3));
      running -= 1;
      return value * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it("stops taking items after a failure and rejects once the running ones are done", async () => {
    const started: number[] = [];
    await expect(
      mapConcurrent([1, 2, 3, 4], 1, async (value) => {
        started.push(value);
        if (value === 2) throw new Error("boom");
        return value;
      }),
    ).rejects.toThrow("boom");
    expect(started).toEqual([1, 2]);
  });

  it("stops taking items when aborted", async () => {
    const controller = new AbortController();
    const started: number[] = [];
    await expect(
      mapConcurrent(
        [1, 2, 3],
        1,
        async (value) => {
          started.push(value);
          controller.abort(new Error("stop"));
          return value;
        },
        controller.signal,
      ),
    ).rejects.toThrow("stop");
    expect(started).toEqual([1]);
  });
});
