// MLAgentBench material as upstream ships it (issue 8), through the real CLI and real Docker,
// with upstream-shaped fixtures written here: final snapshots without read-only files
// (environment.py save()), eval.py importing the pristine ../env, plot.py's settings for a timing
// task, an eval.py nobody can import, a benchmarks/ folder with an ungradable task, run logs with
// several runs (MLAgentBench/eval.py), and prepare.py that needs a network and a consent answer.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { temporaryFolders } from "../temporary-folders.js";
import type { MlabResultLine } from "../../src/families/mlab/grader.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-mlab-upstream-");

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

async function runCli(args: string[], cache: string, environment: Record<string, string> = {}) {
  return execa("node", [cli, ...args], { reject: false, env: { DYNABOX_CACHE_DIR: cache, ...environment } });
}

type Line = MlabResultLine & Record<string, unknown>;

function resultLines(stdout: string): Line[] {
  return stdout
    .trim()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Line);
}

/**
 * Shaped like upstream's house-price/amp-parkinsons: read-only data, hidden answers, and an
 * eval.py that puts ../env on sys.path and imports the benchmark's own metric module from it.
 */
const HOUSE_TASK: Record<string, string> = {
  "env/train.csv": "x,y\n1,10\n2,20\n3,30\n",
  "env/test.csv": "x\n4\n5\n",
  "env/data_description.txt": "x: a number; y: ten times x\n",
  "env/metric.py": "def mean_absolute_error(truth, predicted):\n    return sum(abs(a - b) for a, b in zip(truth, predicted)) / len(truth)\n",
  "env/train.py": "import csv\nrows = list(csv.DictReader(open('test.csv')))\nopen('submission.csv', 'w').write('y\\n' + ''.join('%d\\n' % (9 * int(r['x'])) for r in rows))\n",
  "scripts/research_problem.txt": "Predict y for test.csv into submission.csv.\n",
  "scripts/read_only_files.txt": "./train.csv\n./test.csv\n./data_description.txt\n",
  "scripts/answer.csv": "y\n40\n50\n",
  "scripts/prepared": "success",
  "scripts/task.json": '{"direction": "lower"}',
  "scripts/eval.py": [
    "import os, sys",
    "sys.path.insert(0, os.path.dirname(__file__) + '/../env')",
    "from metric import mean_absolute_error",
    "",
    "def get_score(submission_folder='../env'):",
    "    truth = [float(v) for v in open(os.path.join(os.path.dirname(__file__), 'answer.csv')).read().split()[1:]]",
    "    predicted = [float(v) for v in open(os.path.join(submission_folder, 'submission.csv')).read().split()[1:]]",
    "    return mean_absolute_error(truth, predicted)",
    "",
  ].join("\n"),
};

/** Shaped like upstream's vectorization: no task.json, no data, a time as the score, 1e10 without a submission. */
const VECTORIZATION_TASK: Record<string, string> = {
  "env/train.py": "import time\nstart = time.time()\nsum(i * i for i in range(200000))\nopen('submission.csv', 'w').write('%f\\n' % (time.time() - start))\n",
  "scripts/research_problem.txt": "Make train.py faster; it writes its run time to submission.csv.\n",
  "scripts/eval.py": [
    "import os",
    "",
    "def get_score(submission_folder='../env'):",
    "    try:",
    "        return float(open(os.path.join(submission_folder, 'submission.csv')).read())",
    "    except FileNotFoundError:",
    "        return 1e10",
    "",
  ].join("\n"),
};

describe("MLAgentBench as upstream ships it", () => {
  it("grades an upstream final snapshot without its read-only files, and imports the pristine ../env, never the agent's", async () => {
    const root = await scratch();
    const task = path.join(root, "house-price-like");
    await writeTree(task, HOUSE_TASK);
    // As environment.py save() leaves it: no train.csv, test.csv or data_description.txt; the
    // agent's own metric.py (which would make any submission perfect) and a changed train.py.
    const snapshot = path.join(root, "step_final_files");
    await writeTree(snapshot, {
      "submission.csv": "y\n41\n52\n",
      "metric.py": "def mean_absolute_error(truth, predicted):\n    return 1e-9\n",
      "train.py": "print('mine')\n",
    });
    const graded = await runCli(["eval", "--mlab", task, "--workspace", snapshot, "--run-dir", path.join(root, "run"), "--json"], path.join(root, "cache"));
    expect(graded.exitCode, graded.stderr).toBe(0);
    const [line] = resultLines(graded.stdout);
    // |40-41| and |50-52|: 1.5 by the benchmark's metric; the starter writes 9x (36, 45): MAE 4.5.
    expect(line).toMatchObject({ task: "house-price-like", score: 1.5, baseline: 4.5, success: true, error: null });

    // A read-only file that is present and changed still makes the verdict invalid.
    await writeFile(path.join(snapshot, "train.csv"), "x,y\n1,99\n");
    const changed = await runCli(["eval", "--mlab", task, "--workspace", snapshot, "--run-dir", path.join(root, "run-changed"), "--json"], path.join(root, "cache"));
    expect(resultLines(changed.stdout)[0]).toMatchObject({ score: -1, success: false, error: "read-only files were changed: train.csv" });
  });

  it("vectorization: plot.py's direction and fixed baseline apply; untouched fails, faster succeeds, validate passes twice in a row", async () => {
    const root = await scratch();
    const benchmarks = path.join(root, "benchmarks");
    await writeTree(path.join(benchmarks, "vectorization"), VECTORIZATION_TASK);
    // Like upstream's bibtex-generation: no eval.py, so it can not be graded.
    await writeTree(path.join(benchmarks, "bibtex-generation"), { "env/README.md": "no data\n", "scripts/research_problem.txt": "Write a tool.\n" });
    const cache = path.join(root, "cache");

    for (const attempt of [1, 2]) {
      const validated = await runCli(["validate", benchmarks, "--json", "--force", "--run-dir", path.join(root, "validate")], cache);
      expect(validated.exitCode, `${attempt}: ${validated.stderr}\n${validated.stdout}`).toBe(0);
      const reports = JSON.parse(validated.stdout) as { id: string; valid: boolean; checks: Record<string, unknown> }[];
      expect(reports.map((report) => report.id)).toEqual(["vectorization"]);
      expect(reports[0]!.checks).toMatchObject({ baseline: 6.1742, baseline_source: "upstream", direction: "lower" });
      expect(validated.stderr).toContain("skipped 1 mlab task(s)");
      expect(validated.stderr).toContain("bibtex-generation (scripts/eval.py is missing");
    }

    // Asked to measure the baseline instead, a timing task still validates twice: a second time is a warning, not a problem.
    const measured = path.join(root, "measured", "vectorisation");
    await writeTree(measured, { ...VECTORIZATION_TASK, "scripts/task.json": '{"direction": "lower", "baseline": null}' });
    const first = await runCli(["validate", measured, "--json", "--force", "--run-dir", path.join(root, "validate-measured")], cache);
    expect(first.exitCode, first.stdout).toBe(0);
    const again = await runCli(["validate", measured, "--json", "--force", "--run-dir", path.join(root, "validate-measured")], cache);
    expect(again.exitCode, again.stdout).toBe(0);
    const [againReport] = JSON.parse(again.stdout) as { checks: { baseline: number; cached_starter_score: number; validation_warnings?: string[] } }[];
    expect(againReport!.checks.baseline).toBe(againReport!.checks.cached_starter_score);

    const untouched = path.join(root, "untouched");
    await writeTree(untouched, { "train.py": VECTORIZATION_TASK["env/train.py"]! });
    const task = path.join(benchmarks, "vectorization");
    const failed = await runCli(["eval", "--mlab", task, "--workspace", untouched, "--run-dir", path.join(root, "run-untouched"), "--json"], cache);
    const [failedLine] = resultLines(failed.stdout);
    expect(failedLine).toMatchObject({ score: 1e10, baseline: 6.1742, success: false, error: null });
    expect(failedLine!.improvement).toBeLessThan(0);
    expect(String(failedLine!.warnings)).toContain('assumed upstream\'s settings for "vectorization"');
    expect(failed.stderr).toContain("assumed upstream's settings");

    const faster = path.join(root, "faster");
    await writeTree(faster, { "submission.csv": "0.0276\n" });
    const succeeded = await runCli(["eval", "--mlab", task, "--workspace", faster, "--run-dir", path.join(root, "run-faster"), "--json"], cache);
    expect(resultLines(succeeded.stdout)[0]).toMatchObject({ score: 0.0276, success: true, error: null });
    expect(resultLines(succeeded.stdout)[0]!.improvement).toBeCloseTo(1 - 0.0276 / 6.1742, 10);
  });

  it("validate fails a task whose eval.py can not be imported (spaceship-titanic's `import datasets`), though its baseline is fixed", async () => {
    const root = await scratch();
    const task = path.join(root, "spaceship-titanic");
    await writeTree(task, {
      "env/train.csv": "a,b\n1,2\n",
      "env/train.py": "import csv\nprint(train_accuracy)\n", // a skeleton, as upstream's
      "scripts/research_problem.txt": "Predict Transported.\n",
      "scripts/eval.py": "import os\nfrom datasets import load_dataset\n\ndef get_score(submission_folder='../env'):\n    return 0.7\n",
    });
    const validated = await runCli(["validate", task, "--json", "--run-dir", path.join(root, "validate")], path.join(root, "cache"));
    expect(validated.exitCode).toBe(1);
    const [report] = JSON.parse(validated.stdout) as { valid: boolean; checks: { problems: string[]; baseline: number } }[];
    expect(report!.valid).toBe(false);
    expect(report!.checks.baseline).toBe(0.5);
    expect(report!.checks.problems.join("\n")).toMatch(/scripts\/eval\.py can not be loaded in the task's environment \(loading scripts\/eval\.py failed: ModuleNotFoundError: No module named 'datasets'\)/);

    // Importable, but nothing shows a submission can be scored (skeleton starter, no solution/): not valid either.
    await writeFile(path.join(task, "scripts", "eval.py"), "import os\n\ndef get_score(submission_folder='../env'):\n    return float(open(os.path.join(submission_folder, 'submission.csv')).read())\n");
    const unproven = await runCli(["validate", task, "--json", "--run-dir", path.join(root, "validate-2")], path.join(root, "cache"));
    const [second] = JSON.parse(unproven.stdout) as { valid: boolean; checks: { problems: string[]; warnings: string[] } }[];
    expect(second!.valid).toBe(false);
    expect(second!.checks.problems.join("\n")).toContain("no reference submission could be scored");
    expect(second!.checks.warnings).toContain("solution/ is missing: validate can not prove the task is solvable");
    // With solution/ it is.
    await writeTree(task, { "solution/train.py": "open('submission.csv', 'w').write('0.9')\n" });
    const proven = await runCli(["validate", task, "--json", "--run-dir", path.join(root, "validate-3")], path.join(root, "cache"));
    expect(proven.exitCode, proven.stdout).toBe(0);
  });

  it("grades every run of an upstream log folder, one result line each, like MLAgentBench.eval", async () => {
    const root = await scratch();
    const task = path.join(root, "vectorization");
    await writeTree(task, VECTORIZATION_TASK);
    const logs = path.join(root, "logs");
    const trace = (final: boolean) => JSON.stringify({ steps: [{ action: { name: "Execute Script" } }, ...(final ? [{ action: { name: "Final Answer" } }] : [])] });
    await writeTree(logs, {
      "vectorization/0001/env_log/trace.json": trace(true),
      "vectorization/0001/env_log/traces/step_final_files/submission.csv": "3.0\n",
      "vectorization/0001/env_log/traces/step_0_files/submission.csv": "9.0\n",
      "vectorization/0002/env_log/trace.json": trace(false),
      "vectorization/0002/env_log/traces/step_final_files/submission.csv": "6.0\n",
      "vectorization/0003/env_log/trace.json": trace(false),
    });
    const runDirectory = path.join(root, "run");
    const graded = await runCli(["eval", "--mlab", task, "--logs", logs, "--run-dir", runDirectory, "--json"], path.join(root, "cache"));
    expect(graded.exitCode, graded.stderr).toBe(0);
    const lines = resultLines(graded.stdout);
    expect(lines.map((line) => [line.run, line.score, line.success, line.submitted_final_answer])).toEqual([
      ["vectorization/0001/env_log", 3, true, true],
      ["vectorization/0002/env_log", 6, false, false],
      ["vectorization/0003/env_log", -1, false, false],
    ]);
    expect(lines[2]!.error).toContain("no traces/step_final_files");
    // validate's warning about solution/ (upstream's tasks have none) is not on every graded run.
    expect(JSON.stringify(lines.map((line) => line.warnings ?? []))).not.toContain("solution/");
    expect((await readFile(path.join(runDirectory, "results.jsonl"), "utf8")).trim().split("\n")).toHaveLength(3);
    // On the terminal each run's line names the run, so the three lines of one task differ.
    const again = await runCli(["eval", "--mlab", task, "--logs", logs, "--run-dir", runDirectory], path.join(root, "cache"));
    expect(again.exitCode, again.stderr).toBe(0);
    for (const run of ["vectorization/0001/env_log", "vectorization/0002/env_log", "vectorization/0003/env_log"]) {
      expect(again.stderr).toContain(`mlab/vectorization [${run}]`);
    }
    // --workspace given a log folder is recognised as one.
    const asWorkspace = await runCli(["eval", "--mlab", task, "--workspace", path.join(logs, "vectorization", "0001"), "--run-dir", path.join(root, "run-2"), "--json"], path.join(root, "cache"));
    expect(resultLines(asWorkspace.stdout).map((line) => line.score)).toEqual([3]);
  });

  it("a run whose trace.json is not JSON is left out as upstream's run_eval does (`except: continue`), named, not scored", async () => {
    const root = await scratch();
    const task = path.join(root, "vectorization");
    await writeTree(task, VECTORIZATION_TASK);
    const logs = path.join(root, "logs");
    await writeTree(logs, {
      "0001/env_log/trace.json": JSON.stringify({ steps: [{ action: { name: "Final Answer" } }] }),
      "0001/env_log/traces/step_final_files/submission.csv": "3.0\n",
      // Killed while writing its trace: upstream gives this run no result, whatever its snapshot holds.
      "0002/env_log/trace.json": '{"steps": [{"action": {"na',
      "0002/env_log/traces/step_final_files/submission.csv": "3.0\n",
    });
    const runDirectory = path.join(root, "run");
    const graded = await runCli(["eval", "--mlab", task, "--logs", logs, "--run-dir", runDirectory, "--json"], path.join(root, "cache"));
    expect(graded.exitCode, graded.stderr).toBe(4);
    const lines = resultLines(graded.stdout);
    expect(lines.map((line) => [line.run, line.score ?? null, line.code ?? null])).toEqual([
      ["0001/env_log", 3, null],
      ["0002/env_log", null, "DYNABOX_INVALID_INPUT"],
    ]);
    expect(lines[1]!.not_graded).toMatch(/^0002\/env_log\/trace\.json is not valid JSON .*upstream's MLAgentBench\.eval skips such a run/);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
    expect([summary.tasks, summary.success_rate, summary.errors]).toEqual([1, 1, 1]);
  });

  it("prepare.py gets a network, an answer to its consent prompt and Kaggle credentials only when asked; grading stays offline", async () => {
    const root = await scratch();
    const task = path.join(root, "kaggle-like");
    await writeTree(task, {
      "env/train.py": "open('submission.csv', 'w').write('1')\n",
      "scripts/research_problem.txt": "Predict.\n",
      "scripts/task.json": '{"direction": "higher", "baseline": 1}',
      // Upstream's Kaggle prepare.py asks first, then downloads; here it records what it was given.
      "scripts/prepare.py": [
        "import json, os",
        "input('Consent to the competition at https://www.kaggle.com/competitions/x/data; Press any key')",
        "json.dump({'interfaces': sorted(os.listdir('/sys/class/net')), 'kaggle': os.environ.get('KAGGLE_KEY')}, open('../env/prepare.json', 'w'))",
        "",
      ].join("\n"),
      "scripts/eval.py": [
        "import json, os",
        "",
        "def get_score(submission_folder):",
        "    seen = json.load(open(os.path.join(os.path.dirname(__file__), '../env/prepare.json')))",
        "    grading = sorted(os.listdir('/sys/class/net'))",
        "    raise ValueError(json.dumps({'prepare': seen, 'grading': grading, 'grading_kaggle': os.environ.get('KAGGLE_KEY')}))",
        "",
      ].join("\n"),
    });
    const cache = path.join(root, "cache");
    const workspace = path.join(root, "workspace");
    await writeTree(workspace, { "submission.csv": "2\n" });

    const refused = await runCli(["eval", "--mlab", task, "--workspace", workspace, "--run-dir", path.join(root, "run-0")], cache);
    // The task can not be prepared: that item is not graded (its own error, exit 4), the batch ends.
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain("EOFError");
    expect(refused.stderr).toContain("--prepare-consent");
    expect(refused.stderr).toContain("--prepare-network");
    const lonelyCredentials = await runCli(["eval", "--mlab", task, "--workspace", workspace, "--kaggle-credentials"], cache);
    expect(lonelyCredentials.exitCode).toBe(2);
    expect(lonelyCredentials.stderr).toContain("--kaggle-credentials needs --prepare-network");

    const kaggle = { KAGGLE_USERNAME: "someone", KAGGLE_KEY: "test-kaggle-key" };
    const graded = await runCli(
      ["eval", "--mlab", task, "--workspace", workspace, "--prepare-network", "--prepare-consent", "--kaggle-credentials", "--run-dir", path.join(root, "run"), "--json"],
      cache,
      kaggle,
    );
    expect(graded.exitCode, graded.stderr).toBe(0);
    const error = resultLines(graded.stdout)[0]!.error!;
    const seen = JSON.parse(error.slice(error.indexOf("{"), error.lastIndexOf("}") + 1)) as {
      prepare: { interfaces: string[]; kaggle: string | null };
      grading: string[];
      grading_kaggle: string | null;
    };
    // A bridge network gives prepare an eth0; the grader has only loopback, and no key.
    expect(seen.prepare.interfaces).toContain("eth0");
    expect(seen.prepare.kaggle).toBe("test-kaggle-key");
    expect(seen.grading).toEqual(["lo"]);
    expect(seen.grading_kaggle).toBeNull();
  });
});
