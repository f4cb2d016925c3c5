// Ctrl-C stops an eval batch within seconds (issue 8): the abort signal reaches the grader's
// running step and its file copies, the grading container is removed, and what finished is
// written. Real Docker, the built CLI, an upstream-shaped MLAgentBench task whose get_score takes
// minutes on some submissions.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { LABEL_OWNER_PID } from "../../src/sandbox/labels.js";
import { temporaryFolders } from "../temporary-folders.js";
import { longRunningGrader } from "./grader-containers.js";
import { docker } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-eval-interrupt-");

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** A task whose grader scores a "slow" submission only after ten minutes (a long eval, as real ones can be). */
const SLEEPY_TASK: Record<string, string> = {
  "env/train.py": "open('submission.csv', 'w').write('fast 1\\n')\n",
  "scripts/research_problem.txt": "Write submission.csv.\n",
  "scripts/prepared": "success",
  "scripts/task.json": '{"direction": "higher", "baseline": 1, "timeout_seconds": 900}',
  "scripts/eval.py": [
    "import os, time",
    "",
    "def get_score(submission_folder='../env'):",
    "    kind, value = open(os.path.join(submission_folder, 'submission.csv')).read().split()",
    "    if kind == 'slow':",
    "        time.sleep(600)",
    "    return float(value)",
    "",
  ].join("\n"),
};

describe("Ctrl-C during dynabox eval", () => {
  it("stops a batch of long mlab gradings within seconds: exit 130, finished results written, no container left", async () => {
    const root = await scratch();
    const task = path.join(root, "sleepy");
    await writeTree(task, SLEEPY_TASK);
    const logs = path.join(root, "logs");
    const trace = JSON.stringify({ steps: [{ action: { name: "Final Answer" } }] });
    await writeTree(logs, {
      "sleepy/0001/env_log/trace.json": trace,
      "sleepy/0001/env_log/traces/step_final_files/submission.csv": "fast 2\n",
      "sleepy/0002/env_log/trace.json": trace,
      "sleepy/0002/env_log/traces/step_final_files/submission.csv": "slow 3\n",
      "sleepy/0003/env_log/trace.json": trace,
      "sleepy/0003/env_log/traces/step_final_files/submission.csv": "slow 4\n",
    });
    const runDirectory = path.join(root, "run");
    const child = execa("node", [cli, "eval", "--mlab", task, "--logs", logs, "--run-dir", runDirectory, "--concurrency", "1"], {
      reject: false,
      env: { DYNABOX_CACHE_DIR: path.join(root, "cache") },
    });
    let ended = false;
    void child.finally(() => (ended = true));
    // The fast run is graded (its progress line is out); then the first slow one has been scoring
    // for a while when Ctrl-C comes. Waiting for the line keeps this right on a loaded machine.
    let progress = "";
    child.stderr!.on("data", (chunk: Buffer) => (progress += chunk.toString()));
    // Each run's line names its run: "✓ mlab/sleepy [<run>] passed".
    while (!ended && !/✓ mlab\/sleepy \[[^\]]+\] passed/.test(progress)) await new Promise((resolve) => setTimeout(resolve, 100));
    const slow = await longRunningGrader(child.pid!, 2000, () => ended);
    expect(slow, "no grading container ran long: the batch ended before the slow item").not.toBeNull();
    const interruptedAt = performance.now();
    child.kill("SIGINT");
    const result = await child;
    const secondsToStop = (performance.now() - interruptedAt) / 1000;
    expect(result.exitCode, result.stderr).toBe(130);
    expect(secondsToStop, result.stderr).toBeLessThan(10);
    expect(result.stderr).toContain("interrupted");
    const lines = (await readFile(path.join(runDirectory, "results.jsonl"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.run, line.score, line.success])).toEqual([["sleepy/0001/env_log", 2, true]]);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toMatchObject({ interrupted: true, graded_now: 1 });
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER_PID}=${child.pid}`] } });
    expect(left).toHaveLength(0);
  });
});
