// Choosing what `dynabox image prune` removes. No Docker.

import { describe, expect, it } from "vitest";
import { parseDuration, parseSize, planPrune, type CachedImage } from "../../src/environments/image-cache.js";

const now = new Date("2026-11-30T00:00:00Z");
const daysAgo = (days: number): Date => new Date(now.getTime() - days * 86_400_000);
function cached(tag: string, fields: Partial<CachedImage>): CachedImage {
  return { id: `sha256:${tag}`, tags: [tag], kind: "task", size: 100, ownSize: 10, created: daysAgo(30), lastUsed: daysAgo(1), useRecorded: true, parent: null, usedBy: [], containers: 0, labels: {}, ...fields };
}

describe("image prune plans", () => {
  it("--older-than picks what was not used within the time; bases, protected tags and images in use stay", () => {
    const images = [
      cached("old", { lastUsed: daysAgo(10) }),
      cached("recent", { lastUsed: daysAgo(1) }),
      cached("base", { kind: "base", lastUsed: daysAgo(99) }),
      cached("running", { lastUsed: daysAgo(99), containers: 1 }),
      cached("current-sandbox", { kind: "sandbox", lastUsed: daysAgo(99) }),
    ];
    expect(planPrune(images, { olderThanMs: parseDuration("7d"), now, protect: ["current-sandbox"] }).map((each) => each.tags[0])).toEqual(["old"]);
  });

  it("--keep-size removes the least recently used until the rest fits; a kept image's parent stays", () => {
    const images = [
      cached("parent", { lastUsed: daysAgo(9), ownSize: 50 }),
      cached("child", { lastUsed: daysAgo(1), ownSize: 10, parent: "parent" }),
      cached("lonely", { lastUsed: daysAgo(5), ownSize: 40 }),
    ];
    // 100 in all; keep 60: the oldest (parent) would go, but the kept child needs it, so only lonely goes.
    expect(planPrune(images, { keepSizeBytes: 60, now }).map((each) => each.tags[0])).toEqual(["lonely"]);
    expect(planPrune(images, { keepSizeBytes: 0, now }).map((each) => each.tags[0]).sort()).toEqual(["child", "lonely", "parent"]);
  });

  it("reads durations and sizes, and names the fix for bad ones", () => {
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
    expect(parseSize("10G")).toBe(10 * 1024 ** 3);
    expect(parseSize("500MB")).toBe(500 * 1024 ** 2);
    expect(parseSize("2048")).toBe(2048);
    expect(() => parseDuration("a week")).toThrow(/--older-than a week: expected a number and a unit s, m, h, d or w/);
    expect(() => parseSize("lots")).toThrow(/--keep-size lots: expected a size such as 10G/);
  });
});
