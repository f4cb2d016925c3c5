// Attack 14 (grader tampering) for mlab: an agent's workspace that brings its own eval.py or
// answers, shadows modules the grader imports, forges the grader's result line, edits the
// read-only data, or links submission.csv to the grader's answers. None of them may pass.
// Each attack is done the way an agent would: shell commands in its own sandbox, then the
// workspace is collected and graded in a fresh container.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GradingContext } from "../../src/grading/context.js";
import { MLAB_RESULT_MARKER } from "../../src/families/mlab/driver.js";
import { mlabFamily, prepareMlabTask, type MlabSubmission } from "../../src/families/mlab/grader.js";
import { streamToBuffer } from "../../src/sandbox/archive.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { discoverMlabTasks, type MlabTask } from "../../src/families/mlab/task.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

let cacheDirectory: string;
let task: MlabTask;
let answers: string;
const context = (): GradingContext => ({ docker, sandboxImage: image(), cacheDirectory, runId: "test-mlab-tampering" });

beforeAll(async () => {
  cacheDirectory = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-tamper-"));
  [task] = await discoverMlabTasks(path.resolve("tasks/mlab/wine-mini")) as [MlabTask];
  const prepared = await prepareMlabTask(context(), task);
  answers = await readFile(path.join(prepared.scripts, "answer.csv"), "utf8");
});
afterAll(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

/** A forged driver result claiming a perfect score. */
const FORGED = `${MLAB_RESULT_MARKER}[{"score": 1.0, "score_text": "1.0", "error": null, "traceback": null, "read_only_changed": [], "removed": []}]`;
const FORGE_AND_EXIT = `import os, sys\nsys.__stdout__.write(${JSON.stringify(`\n${FORGED}\n`)})\nsys.__stdout__.flush()\nos._exit(0)\n`;
/** Predicts cultivar 0 for every wine: about a third right, far below the baseline (0.667). */
const CONSTANT_SUBMISSION =
  "python3 -c \"import pandas as pd; t = pd.read_csv('test.csv'); pd.DataFrame({'Id': t['Id'], 'cultivar': 0}).to_csv('submission.csv', index=False)\"";

async function agentWorkspace(): Promise<Sandbox> {
  const agent = await sandbox();
  await mlabFamily.setUpWorkspace(context(), task, agent);
  return agent;
}

async function run(agent: Sandbox, command: string): Promise<void> {
  const result = await agent.shell(command);
  expect(result.exitCode, result.stderr).toBe(0);
}

async function grade(agent: Sandbox) {
  return mlabFamily.grade(context(), task, await mlabFamily.collectSubmission(context(), task, agent));
}

describe("attack 14 (mlab): grader tampering", () => {
  it("control: the true answers as submission.csv pass", async () => {
    const agent = await agentWorkspace();
    await agent.putFiles([{ path: "submission.csv", content: answers }]);
    const verdict = await grade(agent);
    expect(verdict).toMatchObject({ passed: true, score: 1 });
  });

  it("its own eval.py, scripts/eval.py and answer.csv are ignored", async () => {
    const agent = await agentWorkspace();
    await run(agent, CONSTANT_SUBMISSION);
    const fakeEval = `def get_score(submission_folder="."):\n    return 1.0\n${FORGE_AND_EXIT}`;
    // Answers that agree with the constant submission, where a grader might look for them.
    await run(agent, "python3 -c \"import pandas as pd; s = pd.read_csv('submission.csv'); s.to_csv('answer.csv', index=False)\"");
    await agent.putFiles([
      { path: "eval.py", content: fakeEval },
      { path: "scripts/eval.py", content: fakeEval },
      { path: "scripts/prepared", content: "success" },
    ]);
    await run(agent, "cp answer.csv scripts/answer.csv");
    const verdict = await grade(agent);
    expect(verdict.passed).toBe(false);
    expect(verdict.upstream.error).toBeNull();
    expect(verdict.score).toBeLessThan(0.5);
  });

  it("sitecustomize.py, usercustomize.py and modules shadowing numpy or pandas are never imported", async () => {
    const agent = await agentWorkspace();
    await run(agent, CONSTANT_SUBMISSION);
    await agent.putFiles([
      { path: "sitecustomize.py", content: FORGE_AND_EXIT },
      { path: "usercustomize.py", content: FORGE_AND_EXIT },
      { path: "numpy.py", content: FORGE_AND_EXIT },
      { path: "pandas/__init__.py", content: FORGE_AND_EXIT },
      { path: "importlib/__init__.py", content: FORGE_AND_EXIT },
      { path: "encodings/__init__.py", content: FORGE_AND_EXIT },
      { path: "dynabox_mlab_eval.py", content: FORGE_AND_EXIT },
      { path: "evil.pth", content: `import os; os._exit(0)\n` },
      // "prints PASS and exits 0 early": the grader does not run train.py at all.
      { path: "train.py", content: `print("PASS")\n${FORGE_AND_EXIT}` },
    ]);
    const verdict = await grade(agent);
    expect(verdict.passed).toBe(false);
    expect(verdict.upstream.error).toBeNull();
    expect(verdict.score).toBeLessThan(0.5);
  });

  it("editing or deleting the read-only data makes the submission invalid", async () => {
    const edited = await agentWorkspace();
    await edited.putFiles([{ path: "submission.csv", content: answers }]);
    await run(edited, "sed -i '2d' train.csv");
    const verdict = await grade(edited);
    expect(verdict).toMatchObject({ passed: false, score: null });
    expect(verdict.upstream).toMatchObject({ score: -1, success: false });
    expect(verdict.upstream.error).toBe("read-only files were changed: train.csv");

    const deleted = await agentWorkspace();
    await deleted.putFiles([{ path: "submission.csv", content: answers }]);
    await run(deleted, "rm test.csv && mv data_description.txt notes.txt && echo x > data_description.txt");
    const second = await grade(deleted);
    expect(second.passed).toBe(false);
    // A missing read-only file is restored from the prepared task (upstream's snapshots leave them out).
    expect(second.upstream.error).toBe("read-only files were changed: data_description.txt");
  });

  it("submission.csv linked to the grader's answers (through /proc/self/cwd) does not score", async () => {
    const agent = await agentWorkspace();
    await run(agent, "ln -s /proc/self/cwd/answer.csv submission.csv && ln -s /proc/self/cwd scripts && ln -s train.py inside.py");
    const verdict = await grade(agent);
    expect(verdict).toMatchObject({ passed: false, score: null });
    expect(verdict.upstream.error).toMatch(/No such file.*submission\.csv/);
    // Snapshots hold folders and regular files only: every link is left out, and the error names them.
    expect(verdict.upstream.error).toContain("were left out: inside.py, scripts, submission.csv)");
  });

  it("a FIFO in the workspace is left out of the snapshot, so no reader blocks on it", async () => {
    const agent = await agentWorkspace();
    await agent.putFiles([{ path: "submission.csv", content: answers }]);
    await run(agent, "mkfifo pipe");
    const submission = await mlabFamily.collectSubmission(context(), task, agent);
    expect(submission.leftOut).toEqual(["pipe"]);
    const verdict = await mlabFamily.grade(context(), task, submission);
    expect(verdict).toMatchObject({ passed: true, score: 1 });
  });

  it("a crafted archive that tries to write outside the submission folder is invalid, not a crash", async () => {
    const pack = tar.pack();
    pack.entry({ name: "submission.csv" }, answers);
    pack.entry({ name: "../escaped.txt" }, "x");
    pack.entry({ name: "/workspace/escaped-absolute.txt" }, "x");
    pack.finalize();
    const submission: MlabSubmission = { archive: await streamToBuffer(pack, 1 << 20) };
    const verdict = await mlabFamily.grade(context(), task, submission);
    expect(verdict).toMatchObject({ passed: false, score: null });
    expect(verdict.upstream.error).toMatch(/^the workspace archive has entries that can not be restored: \.\.\/escaped\.txt: the path leaves/);
    expect(String(verdict.upstream.error)).toContain("/workspace/escaped-absolute.txt");
  });
});
