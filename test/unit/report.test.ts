import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/report/html.js";
import { loadRunView } from "../../src/report/model.js";
import { passAtK, passAtKOfTask } from "../../src/report/pass-at-k.js";
import { failureReason } from "../../src/report/reason.js";
import { findTasks, renderRunText, renderTaskText } from "../../src/report/terminal.js";
import { ResultsStore } from "../../src/runs/store.js";
import { recordVerdict } from "../../src/report/trajectory-verdict.js";
import { readTrajectory } from "../../src/report/trajectory-read.js";
import { HOSTILE_ID, HOSTILE_PAYLOADS, writeHostileRun } from "../report-fixture.js";
import { temporaryFolders } from "../temporary-folders.js";

const folder = temporaryFolders("dynabox-report-");

/** C(n, k) by multiplication: the definition pass@k is checked against. */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let result = 1;
  for (let index = 1; index <= k; index++) result = (result * (n - k + index)) / index;
  return result;
}

describe("pass@k", () => {
  it("matches 1 - C(n-c, k)/C(n, k) for every n, c, k up to 8", () => {
    for (let n = 1; n <= 8; n++) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) expect(passAtKOfTask(n, c, k)).toBeCloseTo(1 - choose(n - c, k) / choose(n, k), 12);
      }
    }
  });

  it("averages over tasks per family and leaves infrastructure errors out of n", () => {
    const rows = passAtK([
      { family: "resq", id: "a", outcome: "passed" },
      { family: "resq", id: "a", outcome: "failed" },
      { family: "resq", id: "b", outcome: "failed" },
      { family: "resq", id: "b", outcome: "error" },
      { family: "resq", id: "b", outcome: "failed" },
    ]);
    expect(rows).toEqual([
      { family: "resq", k: 1, tasks: 2, value: 0.25 },
      { family: "resq", k: 2, tasks: 2, value: 0.5 },
    ]);
  });
});

describe("failure reasons", () => {
  it("says why in a few words, for each family and each way an agent stops", () => {
    expect(failureReason({ family: "resq", outcome: "passed", upstream: { message: "PASS" }, stopReason: "submitted", error: null })).toBeNull();
    expect(failureReason({ family: "resq", outcome: "failed", upstream: { message: "FAIL: 2 tests failed\nmore" }, stopReason: "submitted", error: null })).toBe("tests: FAIL: 2 tests failed");
    expect(failureReason({ family: "sab", outcome: "failed", upstream: { valid_program: 0, log_info: "Traceback\nNameError" }, stopReason: "submitted", error: null })).toBe("program invalid: Traceback");
    expect(failureReason({ family: "sab", outcome: "failed", upstream: { valid_program: 1, log_info: "3 of 10 rows differ" }, stopReason: "submitted", error: null })).toBe("program ran, eval failed: 3 of 10 rows differ");
    expect(failureReason({ family: "mlab", outcome: "failed", upstream: { improvement: 0.05, error: null }, stopReason: "max-steps", error: null })).toBe("ran out of steps before submitting; improvement 5.0 % (needs > 10 %)");
    expect(failureReason({ family: "mlab", outcome: "error", upstream: null, stopReason: null, error: "no such container", errorKind: "engine" })).toBe("engine error: no such container");
    expect(failureReason({ family: "mlab", outcome: "failed", upstream: { problems: ["the reference solution did not succeed\ndetails"] }, stopReason: null, error: null, kind: "validate" })).toBe("not valid: the reference solution did not succeed");
    expect(failureReason({ family: "resq", outcome: "failed", upstream: { base: "PASS", solution: "PASS" }, stopReason: null, error: null, kind: "validate" })).toBe('not valid: {"base":"PASS","solution":"PASS"}');
    expect(failureReason({ family: "sab", outcome: "not-judged", upstream: {}, stopReason: "submitted", error: null })).toMatch(/not judged/);
  });
});

describe("the report of a run folder with hostile text in it", () => {
  it("reads every task, the stored ones and the errored one only summary.json lists", async () => {
    const directory = await folder();
    await writeHostileRun(directory);
    const run = await loadRunView(directory);
    expect(run.kind).toBe("run");
    expect(run.attempts).toBe(2);
    expect(run.tasks.map((task) => `${task.family}/${task.id}/${task.item}/${task.outcome}`)).toEqual([
      "mlab/wine/attempt-1/failed",
      `resq/${HOSTILE_ID}/attempt-1/failed`,
      `resq/${HOSTILE_ID}/attempt-2/passed`,
      "sab/lost/attempt-1/error",
    ]);
    const [mlab, resqFailed] = run.tasks;
    expect(mlab!.reason).toBe("ran out of steps before submitting; improvement 6.0 % (needs > 10 %)");
    expect(resqFailed!.retries).toBe(2);
    expect(resqFailed!.prompt).toMatch(/^Task: \*\*bold\*\*/);
    expect(resqFailed!.resources).toEqual({ cpuSeconds: 1.5, peakMemoryMb: 42.5, outputBytes: 5200, oomSteps: 0, timedOutSteps: 1 });
    expect(resqFailed!.diff).toContain("+new ");
    expect(run.totals).toMatchObject({ tasks: 4, tokens: 250, costUsd: 0.875, errors: 1 });
  });

  it("escapes everything: one script (its own), no element or attribute from the data, no javascript: link", async () => {
    const directory = await folder();
    await writeHostileRun(directory);
    const html = renderReport(await loadRunView(directory));
    expect(html.match(/<script/gi)).toHaveLength(1);
    for (const tag of ["<img", "<iframe", "<textarea", "<b class=pwned"]) expect(html.toLowerCase()).not.toContain(tag);
    // Attributes: every value is double-quoted and holds no quote, so with the values taken out
    // no tag may have an event handler left (an attribute breakout would leave one outside).
    const tags = html.match(/<[a-zA-Z][^>]*>/g)!.map((tag) => tag.replace(/="[^"]*"/g, '=""'));
    expect(tags.filter((tag) => /\son\w+=|'/.test(tag))).toEqual([]);
    // Links only within the page: to a task, or diff2html's file list to its files.
    expect(html).not.toMatch(/href="(?!#(task|d2h)-\d+")/);
    expect(html.match(/<svg[^>]*>/g)!.filter((tag) => !/class="(chart|d2h-icon)[ "]/.test(tag))).toEqual([]);
    for (const payload of HOSTILE_PAYLOADS) expect(html).not.toContain(payload);
    // The text is there, escaped, for a reader.
    expect(html).toContain("&lt;script&gt;window.__pwned = 1&lt;/script&gt;");
    // Two attempts of one RES-Q task, one passed: pass@1 0.5, pass@2 1.
    expect(html).toContain('data-pass-at-k="resq.1" data-value="0.5"');
    expect(html).toContain('data-pass-at-k="resq.2" data-value="1"');
    expect(html).toContain("pass@1 (best of 2)");
    // The policy sits in an attribute, so its quotes are escaped like everything else.
    expect(html).toMatch(/Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-[A-Za-z0-9+/=]+&#39;/);
  });

  it("shows the same on a terminal with control characters escaped, and finds tasks by name", async () => {
    const directory = await folder();
    await writeHostileRun(directory);
    const run = await loadRunView(directory);
    const text = renderRunText(run) + run.tasks.map((task) => renderTaskText(task)).join("");
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain("\\x1b[2J");
    expect(text).toMatch(/✗ mlab\/wine#1 failed score 0\.7: ran out of steps before submitting/);
    expect(renderRunText(run)).toContain("resq  pass@2 100.0 % over 1 task(s)");
    expect(findTasks(run, `resq/${HOSTILE_ID}#2`).map((task) => task.outcome)).toEqual(["passed"]);
    expect(findTasks(run, "wine")).toHaveLength(1);
  });
});

describe("the metric cards", () => {
  it("show RES-Q's pass@k under that name when run --attempts k wrote it so", async () => {
    const directory = await folder();
    await writeHostileRun(directory);
    const run = await loadRunView(directory);
    const html = renderReport({ ...run, families: [{ family: "resq", tasks: 1, graded: 1, "pass@2": 1, attempts: 2 }] }, { writtenAt: new Date(0) });
    expect(html).toContain('pass@2: <b data-metric="resq.pass@2" data-value="1">100.0 %</b>');
    expect(html).not.toContain("pass@1 (best of 2)");
  });
});

describe("an eval folder", () => {
  it("shows graded items from the store and the items summary.json lists as errored", async () => {
    const directory = await folder();
    {
      using store = ResultsStore.open(path.join(directory, "results.sqlite"));
      store.put("eval", { taskId: "0_0", family: "resq", passed: false, score: 0, seconds: 1, upstream: { id: "0_0", success: false, message: "FAIL", test_suite_feedback: "1 failed" } });
    }
    await writeFile(path.join(directory, "summary.json"), JSON.stringify({ family: "resq", tasks: 2, graded: 1, "pass@1": 0, errors: 1, errored: [{ id: "1_0", code: "DYNABOX_SANDBOX_LOST", reason: "no such container" }] }));
    const run = await loadRunView(directory);
    expect(run.kind).toBe("eval");
    expect(run.tasks.map((task) => [task.id, task.outcome, task.reason])).toEqual([
      ["0_0", "failed", "tests: FAIL"],
      ["1_0", "error", "DYNABOX_SANDBOX_LOST error: no such container"],
    ]);
    expect(renderReport(run)).toContain('data-metric="resq.errors" data-value="1"');
  });
});

describe("the verdict in the trajectory's end line", () => {
  it("is added to the end line, and the file still reads", async () => {
    const directory = await folder();
    await writeHostileRun(directory);
    const file = path.join(directory, "trajectories", "resq", HOSTILE_ID, "attempt-1.jsonl");
    expect(await recordVerdict(file, { outcome: "failed", reason: "tests: FAIL", score: 0, passed: false, upstream: { message: "FAIL" } })).toBe(true);
    const view = await readTrajectory(file);
    expect(view!.verdict).toEqual({ outcome: "failed", reason: "tests: FAIL", score: 0, passed: false, upstream: { message: "FAIL" } });
    expect(view!.steps).toHaveLength(1);
    expect(await recordVerdict(path.join(directory, "missing.jsonl"), { outcome: "failed", reason: null, score: null, passed: false, upstream: null })).toBe(false);
  });
});
