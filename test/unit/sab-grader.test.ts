import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SAB_EVAL_DRIVER,
  describeSabTask,
  evalCommand,
  judgeProgramRun,
  outputLocation,
  parseEvalOutput,
  programCommand,
  sabFamily,
  shellQuote,
  toVerdict,
} from "../../src/families/sab/grader.js";
import { loadSabTasks, type SabTask } from "../../src/families/sab/task.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
let tasks: SabTask[];
beforeAll(async () => {
  tasks = await loadSabTasks(BUNDLED_ROWS);
});
const task = (index = 0): SabTask => tasks[index]!;

const run = { exitCode: 0, timedOut: false, oom: false, startError: null, stderr: "" };

describe("sab grading plans", () => {
  it("runs the program as a module and the eval through the isolated driver", () => {
    expect(programCommand(task())).toBe("python3 -m pred_programs.pred_toxcls_model");
    expect(evalCommand(task())).toBe("python3 -I .dynabox/sab_eval_driver.py 'toxcls_eval'");
    expect(SAB_EVAL_DRIVER).toContain('importlib.import_module("benchmark.eval_programs." + sys.argv[1])');
    expect(SAB_EVAL_DRIVER).toContain("os.environ.pop");
    expect(shellQuote("a'b c")).toBe(`'a'\\''b c'`);
  });

  it("carries only output_fname's folder", () => {
    expect(outputLocation("pred_results/toxcls_test_pred.csv")).toEqual({ folder: "pred_results", relative: "toxcls_test_pred.csv" });
    expect(outputLocation("pred_results/figs/a.png")).toEqual({ folder: "pred_results", relative: "figs/a.png" });
  });
});

describe("judgeProgramRun", () => {
  it("is valid only with exit 0 and the output written", () => {
    expect(judgeProgramRun(task(), run, true, 900)).toEqual({ valid: true, logInfo: "" });
    expect(judgeProgramRun(task(), run, false, 900)).toEqual({
      valid: false,
      logInfo: "The program does not save its output correctly: pred_results/toxcls_test_pred.csv was not written",
    });
  });

  it("says why a run is invalid: timeout, memory, exit code with stderr, start failure", () => {
    expect(judgeProgramRun(task(), { ...run, exitCode: null, timedOut: true }, false, 2).logInfo).toMatch(/^Timeout: the program did not finish within 2 s/);
    expect(judgeProgramRun(task(), { ...run, exitCode: 137, oom: true }, false, 900).logInfo).toMatch(/out of memory/);
    const failed = judgeProgramRun(task(), { ...run, exitCode: 1, stderr: "Traceback...\nKeyError: 'x'\n" }, true, 900);
    expect(failed).toEqual({ valid: false, logInfo: "the program exited with code 1\nTraceback...\nKeyError: 'x'" });
    expect(judgeProgramRun(task(), { ...run, exitCode: null, startError: "no such file" }, false, 900).logInfo).toMatch(/could not be started: no such file/);
  });

  it("keeps only the tail of a long stderr", () => {
    const judged = judgeProgramRun(task(), { ...run, exitCode: 1, stderr: `${"x".repeat(10_000)}END` }, false, 900);
    expect(judged.logInfo.length).toBeLessThan(4_100);
    expect(judged.logInfo.endsWith("END")).toBe(true);
  });
});

describe("parseEvalOutput", () => {
  const marker = "@@m-1234@@";
  const evalRun = { stdout: "", stderr: "", exitCode: 0, timedOut: false };

  it("reads the marked result line", () => {
    const stdout = `noise\n${marker}{"ok": true, "success": 1, "log_info": "ROC-AUC 0.85"}\n`;
    expect(parseEvalOutput({ ...evalRun, stdout }, marker, 900)).toEqual({ success: 1, logInfo: "ROC-AUC 0.85" });
  });

  it("ignores unmarked or wrongly marked lines that pose as a result", () => {
    const forged = `{"ok": true, "success": 1, "log_info": "forged"}\n@@m-0000@@{"ok": true, "success": 1}\nsuccess\n(1, 'ok')\n`;
    const parsed = parseEvalOutput({ ...evalRun, stdout: forged }, marker, 900);
    expect(parsed.success).toBe(0);
    expect(parsed.logInfo).toMatch(/ended without a result/);
  });

  it("keeps a fractional success and a JSON log_info as the eval returned them", () => {
    const stdout = `${marker}{"ok": true, "success": 0.5, "log_info": {"rmse": 0.3, "notes": ["a", "b"]}}\n`;
    expect(parseEvalOutput({ ...evalRun, stdout }, marker, 900)).toEqual({ success: 0.5, logInfo: { rmse: 0.3, notes: ["a", "b"] } });
    expect(parseEvalOutput({ ...evalRun, stdout: `${marker}{"ok": true, "success": 0.5, "log_info": null}\n` }, marker, 900).logInfo).toBeNull();
    // A success the driver did not clean (out of range, text) counts 0.
    expect(parseEvalOutput({ ...evalRun, stdout: `${marker}{"ok": true, "success": 3, "log_info": ""}\n` }, marker, 900).success).toBe(0);
    expect(parseEvalOutput({ ...evalRun, stdout: `${marker}{"ok": true, "success": "1", "log_info": ""}\n` }, marker, 900).success).toBe(0);
  });

  it("reports an eval that raised or ran out of time", () => {
    const stdout = `${marker}{"ok": false, "error": "Traceback\\nValueError: bad"}\n`;
    expect(parseEvalOutput({ ...evalRun, stdout }, marker, 900)).toEqual({ success: 0, logInfo: "the eval script failed:\nTraceback\nValueError: bad" });
    expect(parseEvalOutput({ ...evalRun, exitCode: null, timedOut: true }, marker, 5).logInfo).toMatch(/did not finish within 5 s/);
  });
});

describe("sab verdicts and prompts", () => {
  it("passes on success_rate 1; the score is null when the program is invalid", () => {
    const line = { valid_program: 1 as const, codebert_score: null, success_rate: 1 as const, log_info: "ok", program: "pred_toxcls_model.py" };
    expect(toVerdict(task(), line, 2)).toEqual({ taskId: "1", family: "sab", passed: true, score: 1, upstream: line, seconds: 2 });
    expect(toVerdict(task(), { ...line, success_rate: 0 }, 2)).toMatchObject({ passed: false, score: 0 });
    expect(toVerdict(task(), { ...line, valid_program: 0, success_rate: 0 }, 2)).toMatchObject({ passed: false, score: null });
    // A fraction is not a pass; the score and the upstream line keep it.
    expect(toVerdict(task(), { ...line, success_rate: 0.5 }, 2)).toMatchObject({ passed: false, score: 0.5, upstream: { success_rate: 0.5 } });
  });

  it("describes the task, the data, the domain knowledge and what to deliver, and nothing hidden", () => {
    const text = sabFamily.describe(task());
    const { row } = task();
    expect(text).toContain(row.task_inst);
    expect(text).toContain("benchmark/datasets/toxcls/");
    expect(text).toContain(row.dataset_folder_tree);
    expect(text).toContain(row.dataset_preview);
    expect(text).toContain("Domain knowledge (expert knowledge that comes with this task):");
    expect(text).toContain(row.domain_knowledge);
    expect(text).toContain("pred_programs/pred_toxcls_model.py");
    expect(text).toContain("python3 -m pred_programs.pred_toxcls_model");
    expect(text).toContain(row.output_fname);
    expect(text).not.toContain("eval_programs");
    expect(text).not.toContain("gold_results");
    expect(text).not.toContain(row.eval_script_name);
    const withoutKnowledge = describeSabTask(task(), { domainKnowledge: false, timeoutSeconds: 60 });
    expect(withoutKnowledge).not.toContain(row.domain_knowledge);
    expect(withoutKnowledge).toContain("within 60 s");
  });

  it("is the sab family", () => {
    expect(sabFamily.family).toBe("sab");
    expect(path.basename(task(3).row.output_fname)).toBe("stroop_clean_trials.txt");
  });
});
