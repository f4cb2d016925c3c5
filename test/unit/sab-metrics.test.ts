// Upstream's best-of-N selection and metrics (calculate_metrics.py), dynabox's eval-log lines, and
// the proof that those lines satisfy calculate_metrics.py's reading contract where the result
// lines (codebert_score null) crash it.

import { describe, expect, it } from "vitest";
import { bestOfN, selectBestAttempt, sabMetrics, successRateOf, upstreamEvalLogLine, type SabAttempt } from "../../src/families/sab/metrics.js";
import { PythonError, calculateMetrics } from "../sab-calculate-metrics.js";

const attempt = (success_rate: number, valid_program: number, codebert_score: number | null = null, cost: number | null = null): SabAttempt => ({
  success_rate,
  valid_program,
  codebert_score,
  cost,
});

describe("selectBestAttempt (upstream's evaluate_best_run order)", () => {
  it("takes the highest success_rate, then valid_program, then codebert_score, then the lowest cost, then the first", () => {
    expect(selectBestAttempt([attempt(0, 1), attempt(1, 1), attempt(1, 1)])).toEqual({ index: 1, decidedBy: "first", skipped: ["codebert_score", "cost"] });
    expect(selectBestAttempt([attempt(0, 0), attempt(0, 1), attempt(1, 1)])).toEqual({ index: 2, decidedBy: "success_rate", skipped: [] });
    expect(selectBestAttempt([attempt(0, 0), attempt(0, 1), attempt(0, 0)])).toEqual({ index: 1, decidedBy: "valid_program", skipped: [] });
    expect(selectBestAttempt([attempt(0, 1, 0.7), attempt(0, 1, 0.9), attempt(0, 1, 0.9, 1)])).toMatchObject({ index: 1, decidedBy: "first" });
    expect(selectBestAttempt([attempt(0, 1, 0.7, 3), attempt(0, 1, 0.9, 2), attempt(0, 1, 0.9, 1)])).toMatchObject({ index: 2, decidedBy: "cost" });
    expect(selectBestAttempt([attempt(0, 1, 0.8), attempt(0, 1, 0.9)])).toMatchObject({ index: 1, decidedBy: "codebert_score" });
  });

  it("chooses what upstream's calculate_metrics chooses whenever every figure is known", () => {
    const runs = [
      [attempt(0, 1, 0.81, 0.2), attempt(1, 1, 1, 0.3), attempt(0, 0, 0.4, 0.1), attempt(1, 1, 1, 0.5)],
      [attempt(1, 1, 1, 0.4), attempt(1, 1, 1, 0.1), attempt(0, 1, 0.5, 0.1), attempt(0, 1, 0.9, 0.1)],
      [attempt(0, 1, 0.9, 0.2), attempt(1, 1, 1, 0.1), attempt(0, 1, 0.5, 0.05), attempt(1, 1, 1, 0.5)],
    ];
    const taskIds = ["a", "b", "c", "d"];
    const ours = bestOfN(taskIds, runs);
    const theirs = calculateMetrics(
      runs.map((run) => run.map((each) => ({ cost: each.cost }))),
      runs.map((run) => run.map((each) => ({ valid_program: each.valid_program, success_rate: each.success_rate, codebert_score: each.codebert_score, log_info: "" }))),
    );
    expect(ours.selected.map((each) => each.attempt - 1)).toEqual(theirs.selected);
    expect(ours.SR).toBe(theirs.success_rate);
    expect(ours.VER).toBe(theirs.valid_program_rate);
    expect(ours.cost).toBeCloseTo(theirs.cost);
  });
});

describe("sabMetrics", () => {
  it("leaves figure tasks not judged out of SR's denominator and keeps them in VER's", () => {
    const metrics = sabMetrics(
      [
        { taskId: "1", attempt: attempt(1, 1) },
        { taskId: "2", attempt: attempt(0, 1) },
        { taskId: "3", attempt: { ...attempt(0, 1), not_judged: true } },
        { taskId: "4", attempt: attempt(0, 0) },
      ],
      4,
    );
    expect(metrics).toMatchObject({ tasks: 4, VER: 0.75, SR: 1 / 3, successes: 1, not_judged: ["3"], cost: null });
  });
});

describe("fractional success (upstream keeps success as the eval returns it)", () => {
  it("reads success_rate as a number in [0, 1], true as 1, anything else as 0", () => {
    expect([0.5, 1, 0, true, false, 0.25].map(successRateOf)).toEqual([0.5, 1, 0, 1, 0, 0.25]);
    expect([2, -0.5, Number.NaN, "1", null, undefined, {}].map(successRateOf)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("counts a fraction in SR and in best-of-N as calculate_metrics.py does", () => {
    const runs: SabAttempt[][] = [
      [attempt(0.5, 1), attempt(0, 1), attempt(1, 1)],
      [attempt(0.25, 1), attempt(0.75, 1), attempt(0, 0)],
    ];
    const ours = bestOfN(["a", "b", "c"], runs);
    const theirs = calculateMetrics(
      runs.map((run) => run.map(() => ({ cost: 0.1 }))),
      runs.map((run) => run.map((each) => ({ valid_program: each.valid_program, success_rate: each.success_rate, codebert_score: 0, log_info: "" }))),
    );
    expect(ours.selected.map((each) => each.attempt - 1)).toEqual(theirs.selected);
    expect(ours.selected.map((each) => each.decidedBy)).toEqual(["success_rate", "success_rate", "success_rate"]);
    expect(ours.SR).toBeCloseTo(theirs.success_rate);
    expect(ours.SR).toBeCloseTo((0.5 + 0.75 + 1) / 3);
    expect(sabMetrics([{ taskId: "a", attempt: attempt(0.5, 1) }, { taskId: "b", attempt: attempt(0, 0) }], 2)).toMatchObject({ SR: 0.25, successes: 0.5 });
  });

  it("writes the eval log's success_rate and a JSON log_info as the eval returned them", () => {
    const line = upstreamEvalLogLine({ valid_program: 1, codebert_score: null, success_rate: 0.5, log_info: { rmse: 0.3, passed: [true, false] }, program: "pred_a.py" });
    expect(line).toEqual({ valid_program: 1, codebert_score: 0, success_rate: 0.5, log_info: { rmse: 0.3, passed: [true, false] } });
    expect(JSON.parse(JSON.stringify(line)).log_info).toEqual({ rmse: 0.3, passed: [true, false] });
    expect(upstreamEvalLogLine({ valid_program: 1, success_rate: 0.5, log_info: null }).log_info).toBeNull();
  });
});

describe("the eval log for calculate_metrics.py", () => {
  const results = [
    { valid_program: 1, codebert_score: null, success_rate: 1, log_info: "ok", program: "pred_a.py" },
    { valid_program: 0, codebert_score: null, success_rate: 0, log_info: "Timeout", program: "pred_b.py" },
    { valid_program: 1, codebert_score: null, success_rate: 0, log_info: "Not judged", program: "pred_c.py", not_judged: true },
  ];

  it("crashes upstream's arithmetic with the result lines as they are (codebert_score null)", () => {
    const runLog = results.map(() => ({ cost: 0.01 }));
    expect(() => calculateMetrics([runLog], [results])).toThrow(PythonError);
    expect(() => calculateMetrics([runLog], [results])).toThrow(/TypeError/);
    expect(() => calculateMetrics([runLog, runLog, runLog], [results, results, results])).toThrow(/TypeError/);
  });

  it("gives exactly the four upstream fields with numbers, and runs for one and for three runs", () => {
    const lines = results.map((line) => upstreamEvalLogLine(line));
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(["codebert_score", "log_info", "success_rate", "valid_program"]);
      expect(typeof line.codebert_score).toBe("number");
    }
    const runLog = results.map(() => ({ cost: 0.01 }));
    const one = calculateMetrics([runLog], [lines]);
    expect(one).toMatchObject({ success_rate: 1 / 3, valid_program_rate: 2 / 3, codebert_score: 0 });
    const three = calculateMetrics([runLog, runLog, runLog], [lines, lines, lines]);
    expect(three.selected).toEqual([0, 0, 0]);
  });

  it("writes an item that was not graded as upstream's harness does: invalid, failed", () => {
    expect(upstreamEvalLogLine(undefined, "the repository was unreachable")).toEqual({
      valid_program: 0,
      codebert_score: 0,
      success_rate: 0,
      log_info: "not graded: the repository was unreachable",
    });
  });
});

describe("the figure judge's score parsing (upstream's gpt4_visual_judge)", async () => {
  const { meanScore, parseFinalScore, judgementKey } = await import("../../src/families/sab/judge.js");
  it("takes the first [FINAL SCORE]: <1-3 digits>, 0 when there is none, and the mean over answers", () => {
    expect(parseFinalScore("close match.\n[FINAL SCORE]: 85\nlater [FINAL SCORE]: 10")).toBe(85);
    expect(parseFinalScore("[FINAL SCORE]: 100")).toBe(100);
    expect(parseFinalScore("[FINAL SCORE]:85")).toBe(0);
    expect(parseFinalScore("final score 90")).toBe(0);
    expect(parseFinalScore(null)).toBe(0);
    expect(parseFinalScore("[FINAL SCORE]: 1234")).toBe(123);
    expect(meanScore(["[FINAL SCORE]: 90", "no score", "[FINAL SCORE]: 60"])).toBe(50);
  });

  it("keys a judgement on both images, in order", () => {
    expect(judgementKey("a", "b")).not.toBe(judgementKey("b", "a"));
    expect(judgementKey("a", "b")).toBe(judgementKey("a", "b"));
  });
});

describe("dynabox run --attempts on ScienceAgentBench", async () => {
  const { sabRunTable } = await import("../../src/families/sab/attempts.js");
  const line = (valid_program: number, success_rate: number, extra: Record<string, unknown> = {}) => ({ valid_program, success_rate, codebert_score: null, log_info: "", ...extra });
  it("selects each task's attempt as upstream does, by the agent's real cost when the rest ties", () => {
    const table = sabRunTable([
      { id: "1", attempt: 1, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0) },
      { id: "1", attempt: 2, outcome: "passed", cost_usd: 0.3, upstream: line(1, 1) },
      { id: "2", attempt: 1, outcome: "passed", cost_usd: 0.4, upstream: line(1, 1) },
      { id: "2", attempt: 2, outcome: "passed", cost_usd: 0.2, upstream: line(1, 1) },
      { id: "3", attempt: 2, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0, { not_judged: true }) },
      { id: "3", attempt: 1, outcome: "error", cost_usd: 0.05, upstream: null },
    ]);
    expect(table).toMatchObject({ tasks: 3, VER: 1, SR: 1, not_judged: ["3"] });
    expect((table.best_of_n as { selected: unknown[] }).selected).toEqual([
      { taskId: "1", attempt: 2, decidedBy: "success_rate" },
      { taskId: "2", attempt: 2, decidedBy: "cost" },
      { taskId: "3", attempt: 2, decidedBy: "valid_program" },
    ]);
  });

  it("selects and counts a fractional success_rate as upstream does", () => {
    const table = sabRunTable([
      { id: "1", attempt: 1, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0.5) },
      { id: "1", attempt: 2, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0.25) },
      { id: "2", attempt: 1, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0) },
      { id: "2", attempt: 2, outcome: "failed", cost_usd: 0.1, upstream: line(1, 0.75) },
    ]);
    expect(table).toMatchObject({ tasks: 2, VER: 1, SR: (0.5 + 0.75) / 2 });
    expect((table.best_of_n as { selected: Array<{ attempt: number }> }).selected.map((each) => each.attempt)).toEqual([1, 2]);
  });
});

describe("createFigureJudge", async () => {
  const { createFigureJudge } = await import("../../src/families/sab/judge.js");
  it("refuses, before any call, a blank model, a base URL that is not one, and OpenAI without a key", () => {
    expect(() => createFigureJudge({ model: " ", baseURL: "http://127.0.0.1:1/v1" })).toThrow(/--judge-model needs a model name/);
    expect(() => createFigureJudge({ model: "m", baseURL: "not a url" })).toThrow(/--base-url \/ OPENAI_BASE_URL is not a URL/);
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      expect(() => createFigureJudge({ model: "gpt-4o-2024-05-13", baseURL: "https://api.openai.com/v1" })).toThrow(/needs a key for the OpenAI API: pass --api-key/);
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
    expect(createFigureJudge({ model: "local", baseURL: "http://127.0.0.1:1/v1" }).model).toBe("local");
  });
});
