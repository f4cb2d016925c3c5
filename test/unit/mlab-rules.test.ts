// The mlab rules that need no Docker: improvement and success in both directions, invalid
// scores, read-only glob matching as upstream's fnmatch does it, hand-made archives, the prompt.

import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { describeMlab, mlabImprovement, mlabResultLine, submissionArchiveProblem } from "../../src/families/mlab/grader.js";
import { streamToBuffer } from "../../src/sandbox/archive.js";
import { fnmatchToRegExp, matchReadOnlyFiles, parseReadOnlyPatterns, upstreamFileName, type MlabTask } from "../../src/families/mlab/task.js";

describe("improvement and success", () => {
  it("is relative to the baseline, positive when better, in both directions", () => {
    expect(mlabImprovement(0.9, 0.6, "higher")).toBeCloseTo(0.5, 12);
    expect(mlabImprovement(0.3, 0.6, "higher")).toBeCloseTo(-0.5, 12);
    expect(mlabImprovement(50, 100, "lower")).toBeCloseTo(0.5, 12);
    expect(mlabImprovement(150, 100, "lower")).toBeCloseTo(-0.5, 12);
  });

  it("succeeds only above 10 % in the better direction", () => {
    const line = (score: number, direction: "higher" | "lower") => mlabResultLine("t", { score, error: null }, 100, direction);
    expect(line(111, "higher")).toMatchObject({ success: true, error: null });
    expect(line(110, "higher").success).toBe(false);
    expect(line(100, "higher")).toMatchObject({ improvement: 0, success: false });
    expect(line(89, "lower")).toMatchObject({ success: true });
    expect(line(90, "lower").success).toBe(false);
    expect(line(111, "lower")).toMatchObject({ success: false });
    expect(line(111, "lower").improvement).toBeCloseTo(-0.11, 12);
    expect(Object.keys(line(111, "higher")).sort()).toEqual(["baseline", "error", "improvement", "score", "success", "task"]);
  });

  it("makes a raised, missing, non-finite or non-positive score invalid (score -1)", () => {
    const invalid = { score: -1, improvement: null, success: false, baseline: 0.5, task: "t" };
    expect(mlabResultLine("t", { score: null, error: "get_score failed: ValueError: no" }, 0.5, "higher")).toEqual({
      ...invalid,
      error: "get_score failed: ValueError: no",
    });
    expect(mlabResultLine("t", { score: 0, error: null }, 0.5, "higher")).toMatchObject({ ...invalid, error: expect.stringContaining("<= 0") });
    expect(mlabResultLine("t", { score: -3, error: null }, 0.5, "lower")).toMatchObject(invalid);
    expect(mlabResultLine("t", { score: Number.NaN, error: null }, 0.5, "higher")).toMatchObject(invalid);
    expect(mlabResultLine("t", { score: null, error: null }, 0.5, "higher")).toMatchObject({ ...invalid, error: "no score" });
    // A valid score with an error (a read-only file changed) is still invalid.
    expect(mlabResultLine("t", { score: 0.9, error: "read-only files were changed: x" }, 0.5, "higher")).toMatchObject(invalid);
  });
});

describe("read-only files", () => {
  it("matches like Python's fnmatch on upstream's names (./top.csv, sub/dir.csv)", () => {
    // Expected values computed with Python 3.11's fnmatch.fnmatch(name, pattern).
    const cases: Array<[string, string, boolean]> = [
      ["./train.csv", "./train.csv", true],
      ["./train.csv", "train.csv", false],
      ["data/*", "data/train.csv", true],
      ["data/*", "data/sub/x.csv", true],
      ["data/*", "./data", false],
      ["*.csv", "./train.csv", true],
      ["*.csv", "data/a.csv", true],
      ["./*.csv", "data/a.csv", false],
      ["./*.csv", "./a.csv", true],
      ["?.txt", "./a.txt", false],
      ["./?.txt", "./a.txt", true],
      ["./[ab].txt", "./a.txt", true],
      ["./[!ab].txt", "./a.txt", false],
      ["./[!ab].txt", "./c.txt", true],
      ["./[].txt", "./].txt", false],
      ["./[!]].txt", "./].txt", false],
      ["./[!]].txt", "./x.txt", true],
      ["./[a-c].txt", "./b.txt", true],
      ["./a[.txt", "./a[.txt", true],
      ["./a+b(1).csv", "./a+b(1).csv", true],
      ["./A.csv", "./a.csv", false],
      ["**/x", "d/e/x", true],
      ["./x\\y", "./x\\y", true],
    ];
    for (const [pattern, name, expected] of cases) {
      expect(fnmatchToRegExp(pattern).test(name), `${pattern} vs ${name}`).toBe(expected);
    }
  });

  it("names files as upstream does and picks the covered ones", () => {
    expect(upstreamFileName("train.csv")).toBe("./train.csv");
    expect(upstreamFileName("data/train.csv")).toBe("data/train.csv");
    const patterns = parseReadOnlyPatterns("./train.csv\r\n\ndata/*\n  ./data_description.txt  \n");
    expect(patterns).toEqual(["./train.csv", "data/*", "./data_description.txt"]);
    const files = ["train.csv", "train.py", "data/test.csv", "data/deep/x.bin", "data_description.txt", "notes/train.csv"];
    expect(matchReadOnlyFiles(patterns, files)).toEqual(["train.csv", "data/test.csv", "data/deep/x.bin", "data_description.txt"]);
    expect(matchReadOnlyFiles([], files)).toEqual([]);
  });
});

describe("submission archives", () => {
  async function archive(entries: Array<{ name: string; type?: "file" | "symlink" | "link" | "fifo"; linkname?: string }>): Promise<Buffer> {
    const pack = tar.pack();
    for (const entry of entries) {
      if (entry.type === undefined || entry.type === "file") pack.entry({ ...entry }, "x");
      else pack.entry({ ...entry });
    }
    pack.finalize();
    return streamToBuffer(pack, 1 << 20);
  }

  it("accepts what a snapshot holds, including links that a grader removes later", async () => {
    expect(await submissionArchiveProblem(await archive([{ name: "./submission.csv" }, { name: "./a", type: "symlink", linkname: "/etc/passwd" }]))).toBeNull();
  });

  it("rejects paths and hard links that leave the workspace, devices and FIFOs, and garbage", async () => {
    expect(await submissionArchiveProblem(await archive([{ name: "../x" }]))).toContain("../x: the path leaves the workspace");
    expect(await submissionArchiveProblem(await archive([{ name: "/abs" }]))).toContain("/abs: the path leaves");
    expect(await submissionArchiveProblem(await archive([{ name: "h", type: "link", linkname: "../../answer.csv" }]))).toContain("hard link");
    expect(await submissionArchiveProblem(await archive([{ name: "p", type: "fifo" }]))).toContain("p: fifo entries are not allowed");
    expect(await submissionArchiveProblem(Buffer.from("not a tar file at all".repeat(40)))).toMatch(/not a valid tar file|can not be restored/);
  });
});

describe("the prompt", () => {
  it("gives the research problem, the workspace, the read-only files and what is graded", () => {
    const task = {
      id: "t",
      family: "mlab",
      origin: "/x",
      directory: "/x",
      researchProblem: "Improve the model. Save predictions to submission.csv.",
      direction: "higher",
      baseline: null,
      timeoutSeconds: 300,
      readOnlyPatterns: ["./train.csv", "data/*"],
      hasPrepareScript: true,
      hasStarter: true,
      hasSolution: true,
      settingsSource: "task.json",
      warnings: [],
    } satisfies MlabTask;
    const prompt = describeMlab(task);
    expect(prompt.startsWith("Improve the model. Save predictions to submission.csv.")).toBe(true);
    expect(prompt).toContain("/workspace");
    expect(prompt).toContain("python3 -u train.py");
    expect(prompt).toContain("read-only");
    expect(prompt).toContain("./train.csv, data/*");
    expect(prompt).toContain("does not run train.py");
    expect(prompt).not.toMatch(/answer\.csv|eval\.py|solution\/|scripts\//);
  });
});
