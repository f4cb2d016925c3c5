// The graders' shared container-step helpers that need no container: the marked result line, the
// clipping of outputs, the clock.

import { describe, expect, it } from "vitest";
import { headAndTail, lastCharacters, lastLines, stopwatch, takeMarkedLine } from "../../src/grading/container-step.js";

describe("takeMarkedLine", () => {
  it("takes the last line that starts with the marker and removes it with the newline before it", () => {
    const stdout = `noise\nMARK {"a":1}\nmore\n\nMARK {"a":2}\ntail\n`;
    expect(takeMarkedLine(stdout, "MARK ")).toEqual({ marked: '{"a":2}', stdout: `noise\nMARK {"a":1}\nmore\ntail\n` });
  });

  it("ignores the marker in the middle of a line, and says null when there is none", () => {
    expect(takeMarkedLine(`MARK 1\nprinted MARK 2\n`, "MARK ")).toEqual({ marked: "1", stdout: "printed MARK 2\n" });
    expect(takeMarkedLine("printed MARK 2", "MARK ")).toEqual({ marked: null, stdout: "printed MARK 2" });
    expect(takeMarkedLine("", "MARK ")).toEqual({ marked: null, stdout: "" });
  });

  it("reads a marked last line without a newline after it", () => {
    expect(takeMarkedLine("out\nMARK done", "MARK ")).toEqual({ marked: "done", stdout: "out" });
  });
});

describe("clipping outputs", () => {
  it("keeps the last lines, the last characters, or head and tail with what was cut", () => {
    expect(lastLines("1\n2\n3\n4\n", 2)).toBe("3\n4");
    expect(lastCharacters("abcdef", 3)).toBe("...def");
    expect(lastCharacters("abc", 3)).toBe("abc");
    expect(headAndTail("a".repeat(10) + "b".repeat(10), 10)).toBe(`aaaaa\n... [10 characters cut] ...\nbbbbb`);
    expect(headAndTail("short", 10)).toBe("short");
  });
});

describe("stopwatch", () => {
  it("counts seconds to the millisecond", async () => {
    const elapsed = stopwatch();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const seconds = elapsed();
    expect(seconds).toBeGreaterThanOrEqual(0.025);
    expect(Math.abs(seconds * 1000 - Math.round(seconds * 1000))).toBeLessThan(1e-6);
  });
});
