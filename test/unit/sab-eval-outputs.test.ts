// `dynabox eval --sab` without containers: the items planned for several program folders, and the
// files written from verdicts (eval logs per attempt, the summary with best-of-N).

import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { planSabEval, writeSabEvalOutputs } from "../../src/families/sab/eval-plan.js";
import type { Verdict } from "../../src/families/types.js";
import { calculateMetricsFromFiles } from "../sab-calculate-metrics.js";
import { temporaryFolders } from "../temporary-folders.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const BUNDLED_BENCHMARK = fileURLToPath(new URL("../../tasks/sab/benchmark", import.meta.url));
const scratch = temporaryFolders("dynabox-sab-eval-");

function verdict(taskId: string, line: Record<string, unknown>): Verdict {
  return { taskId, family: "sab", passed: line.success_rate === 1, score: null, upstream: { codebert_score: null, log_info: "", ...line }, seconds: 1 };
}

describe("planSabEval", () => {
  it("plans every task for every folder, keyed apart, and notes what is missing or left over", async () => {
    const directory = await scratch();
    const first = path.join(directory, "one");
    const second = path.join(directory, "two");
    await mkdir(first);
    await mkdir(second);
    await writeFile(path.join(first, "pred_toxcls_model.py"), "print(1)\n");
    await writeFile(path.join(second, "pred_unrelated.py"), "print(2)\n");
    const plan = await planSabEval(BUNDLED_ROWS, [first, second], {});
    expect(plan.items).toHaveLength(8);
    expect(plan.items.map((item) => item.item)).toContain("attempt-2/pred_toxcls_model.py");
    expect(plan.items[0]!.extra).toEqual({ program: "pred_toxcls_model.py", attempt: 1 });
    expect(plan.items[0]!.submission).toEqual({ fileName: "pred_toxcls_model.py", source: "print(1)\n" });
    expect(plan.notes).toContain(`pred_unrelated.py matches no task and was not graded (attempt 2, ${second})`);
    expect(plan.notes.filter((note) => note.includes("is missing"))).toHaveLength(7);
  });

  it("gives a program to every row that names it: rows sharing a gold_program_name each get pred_<name>, as upstream runs it per row", async () => {
    const directory = await scratch();
    await cp(path.join(BUNDLED_BENCHMARK), path.join(directory, "benchmark"), { recursive: true });
    const [row] = (await readFile(BUNDLED_ROWS, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    // The same program graded by two evals (a second eval of the same output).
    const rows = [row, { ...row, instance_id: "1b" }];
    await writeFile(path.join(directory, "rows.jsonl"), rows.map((each) => JSON.stringify(each)).join("\n") + "\n");
    const programs = path.join(directory, "programs");
    await mkdir(programs);
    const fileName = `pred_${String(row!.gold_program_name)}`;
    await writeFile(path.join(programs, fileName), "print(1)\n");
    const plan = await planSabEval(path.join(directory, "rows.jsonl"), [programs], {});
    expect(plan.items.map((item) => [item.task.id, item.submission])).toEqual([
      [String(row!.instance_id), { fileName, source: "print(1)\n" }],
      ["1b", { fileName, source: "print(1)\n" }],
    ]);
    expect(plan.notes).toEqual([]);
  });

  it("needs --programs, and names an unreadable folder with the fix", async () => {
    await expect(planSabEval(BUNDLED_ROWS, [], {})).rejects.toThrow(/--sab needs --programs DIR/);
    await expect(planSabEval(BUNDLED_ROWS, ["/does/not/exist"], {})).rejects.toThrow(/can not read the programs folder \/does\/not\/exist.*Fix/);
  });
});

describe("writeSabEvalOutputs", () => {
  it("writes one upstream eval log per attempt and a best-of-N summary that calculate_metrics' reading agrees with", async () => {
    const directory = await scratch();
    const plan = { items: [], total: 3, notes: [], taskIds: ["1", "2", "3"], programFolders: ["a", "b"] };
    const verdicts = [
      verdict("1", { valid_program: 1, success_rate: 1 }),
      verdict("2", { valid_program: 0, success_rate: 0 }),
      verdict("3", { valid_program: 1, success_rate: 0, not_judged: true }),
      verdict("1", { valid_program: 1, success_rate: 0 }),
      verdict("2", { valid_program: 1, success_rate: 1 }),
      undefined,
    ];
    const { summary, notes } = await writeSabEvalOutputs(directory, plan, verdicts, undefined);
    expect(summary).toMatchObject({
      tasks: 3,
      SR: 1,
      VER: 1,
      not_judged: ["3"],
      eval_logs: ["eval_log.attempt-1.jsonl", "eval_log.attempt-2.jsonl"],
      best_of_n: { selected: [{ taskId: "1", attempt: 1 }, { taskId: "2", attempt: 2 }, { taskId: "3", attempt: 1, decidedBy: "valid_program" }] },
    });
    expect(notes.join("\n")).toMatch(/CodeBERTScore was not computed[\s\S]*1 figure task\(s\) not judged/);
    const second = (await readFile(path.join(directory, "eval_log.attempt-2.jsonl"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(second[2]).toEqual({ valid_program: 0, codebert_score: 0, success_rate: 0, log_info: "not graded: no result" });
    const runLog = path.join(directory, "run.jsonl");
    await writeFile(runLog, '{"cost": 0.5}\n{"cost": 0.5}\n{"cost": 0.5}\n');
    const metrics = await calculateMetricsFromFiles([runLog, runLog], (summary.eval_logs as string[]).map((name) => path.join(directory, name)));
    expect(metrics.selected).toEqual([0, 1, 0]);
    expect(metrics.valid_program_rate).toBe(1);
    expect(metrics.success_rate).toBe(2 / 3);
  });
});
