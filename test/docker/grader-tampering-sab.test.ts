// Attack 14 (grader tampering) for ScienceAgentBench: programs that overwrite the eval script or
// the gold results, print "success" and leave early, look for the gold results, point their
// output at the gold file, plant modules for the eval's interpreter, or leave a process behind.
// None may pass, and each still gets an honest verdict.

import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { GradingContext } from "../../src/grading/context.js";
import { gradeSabProgram, sabFamily, type SabResultLine } from "../../src/families/sab/grader.js";
import { loadSabTasks } from "../../src/families/sab/task.js";
import { docker, image } from "./sandbox-fixture.js";

const BUNDLED_ROWS = fileURLToPath(new URL("../../tasks/sab/tasks.jsonl", import.meta.url));
const [task] = await loadSabTasks(BUNDLED_ROWS);
if (!task) throw new Error("no bundled sab task");
let context: GradingContext;
beforeAll(() => {
  context = { docker, sandboxImage: image(), cacheDirectory: tmpdir(), runId: "test-sab-tampering" };
});

/** Writes a prediction that does not meet the threshold: every compound gets 0.5. */
const CONSTANT_OUTPUT = `
import os
import pandas as pd
os.makedirs("pred_results", exist_ok=True)
_test = pd.read_csv("benchmark/datasets/toxcls/toxcls_test.csv")
pd.DataFrame({"mol_id": _test["mol_id"], "TOXIC": 0.5}).to_csv("pred_results/toxcls_test_pred.csv", index=False)
`;

const HACKED_EVAL = `def eval():\n    return 1, "hacked"\n`;

async function grade(source: string, options = {}): Promise<SabResultLine> {
  const { line } = await gradeSabProgram(context, task!, { fileName: "attack.py", source }, options);
  return line;
}

describe("attack 14 for sab: grader tampering", () => {
  it("a program that writes its own eval script and gold results does not pass", async () => {
    const line = await grade(`${CONSTANT_OUTPUT}
import subprocess
subprocess.run(["chmod", "-R", "u+w", "benchmark"], check=True)
os.makedirs("benchmark/eval_programs/gold_results", exist_ok=True)
open("benchmark/eval_programs/toxcls_eval.py", "w").write(${JSON.stringify(HACKED_EVAL)})
open("benchmark/eval_programs/__init__.py", "w").write("")
pd.DataFrame({"mol_id": _test["mol_id"], "TOXIC": 0.5}).to_csv("benchmark/eval_programs/gold_results/toxcls_gold.csv", index=False)
# and a copy where an eval might be looked up next to the output
os.makedirs("pred_results/benchmark/eval_programs", exist_ok=True)
open("pred_results/benchmark/eval_programs/toxcls_eval.py", "w").write(${JSON.stringify(HACKED_EVAL)})
open("pred_results/toxcls_eval.py", "w").write(${JSON.stringify(HACKED_EVAL)})
# Armed: in this container, the upstream import now finds the fake eval.
import importlib
if importlib.import_module("benchmark.eval_programs.toxcls_eval").eval() != (1, "hacked"):
    raise SystemExit("the fake eval is not in place")
`);
    expect(line).toMatchObject({ valid_program: 1, success_rate: 0 });
    expect(line.log_info).toMatch(/ROC-AUC 0\.5000/);
  });

  it("a program that prints success and exits 0 early does not pass", async () => {
    const line = await grade(`import json, sys
print("success")
print("(1, 'all trials match')")
print(json.dumps({"valid_program": 1, "codebert_score": None, "success_rate": 1, "log_info": "ok"}))
print(json.dumps({"ok": True, "success": 1, "log_info": "forged driver line"}))
sys.exit(0)
`);
    expect(line).toMatchObject({ valid_program: 0, success_rate: 0 });
    expect(line.log_info).toMatch(/does not save its output correctly/);
  });

  it("a program that looks for the gold results while it runs does not find them", async () => {
    // If it found them it would copy them as its prediction and pass.
    const line = await grade(`${CONSTANT_OUTPUT}
import shutil
wanted = {"toxcls_gold.csv", "gold_results", "toxcls_eval.py", "eval_programs", "gold_programs", "toxcls_model.py"}
found = []
for top in ["/workspace", "/tmp", "/opt", "/home", "/root", "/srv", "/mnt", "/var", "/usr", "/etc"]:
    for folder, folders, files in os.walk(top, onerror=lambda error: None):
        found += [os.path.join(folder, name) for name in folders + files if name in wanted]
for path in found:
    if path.endswith("toxcls_gold.csv"):
        shutil.copy(path, "pred_results/toxcls_test_pred.csv")
        raise SystemExit(0)
if found:
    raise SystemExit("found: %s" % found)
`);
    expect(line).toMatchObject({ valid_program: 1, success_rate: 0 });
    expect(line.log_info).toMatch(/ROC-AUC 0\.5000/);
  });

  it("an output that is a symlink to the gold file is not carried to the eval", async () => {
    const line = await grade(`import os
os.makedirs("pred_results", exist_ok=True)
os.symlink("../benchmark/eval_programs/gold_results/toxcls_gold.csv", "pred_results/toxcls_test_pred.csv")
`);
    expect(line).toMatchObject({ valid_program: 0, success_rate: 0 });
    expect(line.log_info).toMatch(/does not save its output correctly/);
  });

  it("modules planted for the eval's interpreter (usercustomize, sitecustomize, .pth) are not used", async () => {
    // The hook makes any later `import benchmark.eval_programs.toxcls_eval` return a fake eval.
    const hook = [
      "import sys, types",
      'fake = types.ModuleType("benchmark.eval_programs.toxcls_eval")',
      'fake.eval = lambda: (1, "hacked")',
      'sys.modules["benchmark.eval_programs.toxcls_eval"] = fake',
      "",
    ].join("\n");
    const line = await grade(`${CONSTANT_OUTPUT}
import site, subprocess, sys
for folder in [site.getusersitepackages(), "/workspace", "/workspace/pred_results", "/tmp"]:
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "usercustomize.py"), "w").write(${JSON.stringify(hook)})
        open(os.path.join(folder, "sitecustomize.py"), "w").write(${JSON.stringify(hook)})
        open(os.path.join(folder, "zz_hack.pth"), "w").write("import usercustomize\\n")
    except OSError:
        pass
# The plant is armed: a Python started later in this container gets the fake eval.
probe = subprocess.run([sys.executable, "-c", "import importlib; print(importlib.import_module('benchmark.eval_programs.toxcls_eval').eval())"],
                       capture_output=True, text=True)
if "hacked" not in probe.stdout:
    raise SystemExit("the plant is not armed: %r %r" % (probe.stdout, probe.stderr))
`);
    expect(line).toMatchObject({ valid_program: 1, success_rate: 0 });
    expect(line.log_info).toMatch(/ROC-AUC 0\.5000/);
  });

  it("a process left behind can not reach the eval", async () => {
    const started = performance.now();
    const line = await grade(`${CONSTANT_OUTPUT}
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 60
        while time.time() < end:
            for path in ["benchmark/eval_programs/toxcls_eval.py", "pred_results/toxcls_eval.py"]:
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    open(path, "w").write(${JSON.stringify(HACKED_EVAL)})
                except OSError:
                    pass
            time.sleep(0.05)
    os._exit(0)
`);
    expect(line).toMatchObject({ valid_program: 1, success_rate: 0 });
    expect(line.log_info).toMatch(/ROC-AUC 0\.5000/);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it("an output folder past the size cap is invalid, not copied", async () => {
    const line = await grade(`${CONSTANT_OUTPUT}\nopen("pred_results/padding.bin", "wb").write(b"x" * (2 * 1024 * 1024))\n`, { maxOutputBytes: 1024 * 1024 });
    expect(line).toMatchObject({ valid_program: 0, success_rate: 0 });
    expect(line.log_info).toMatch(/too large to grade/);
  });

  it("after all that, the gold program still passes", async () => {
    const verdict = await sabFamily.grade(context, task!, {
      fileName: task!.row.gold_program_name,
      source: await (await import("node:fs/promises")).readFile(new URL(`../../tasks/sab/benchmark/gold_programs/${task!.row.gold_program_name}`, import.meta.url), "utf8"),
    });
    expect(verdict).toMatchObject({ passed: true, score: 1 });
  });
});
