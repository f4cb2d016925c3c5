// GPUs end to end on this GPU-less engine: a task that declares a GPU, run or graded with
// `--gpus all`, fails with an infrastructure error naming the NVIDIA container toolkit (dockerd's
// own words: could not select device driver "nvidia"); without --gpus it runs on the CPU with a
// warning in its result; a task that declares none ignores --gpus. The DeviceRequests the engine
// stores for a task's container are inspected on a created (never started) container.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { deviceRequests, parseGpus } from "../../src/environments/gpus.js";
import { contextForTask } from "../../src/grading/context.js";
import { SandboxPool } from "../../src/sandbox/pool.js";
import { buildCreateOptions, DEFAULT_LIMITS } from "../../src/sandbox/profile.js";
import { currentOwner, ownerLabels } from "../../src/sandbox/labels.js";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { temporaryFolders } from "../temporary-folders.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-gpus-");

/** A small mlab task: get_score reads submission.txt; a fixed baseline, so grading is one container. */
async function mlabTask(root: string, name: string, gpu: boolean): Promise<string> {
  const folder = path.join(root, name);
  await mkdir(path.join(folder, "env"), { recursive: true });
  await mkdir(path.join(folder, "scripts"), { recursive: true });
  await mkdir(path.join(folder, "solution"), { recursive: true });
  await writeFile(path.join(folder, "env", "train.py"), "open('submission.txt', 'w').write('1')\n");
  await writeFile(path.join(folder, "solution", "train.py"), "open('submission.txt', 'w').write('3')\n");
  await writeFile(path.join(folder, "scripts", "research_problem.txt"), "Write a number larger than 1 to submission.txt.\n");
  await writeFile(path.join(folder, "scripts", "read_only_files.txt"), "");
  await writeFile(
    path.join(folder, "scripts", "eval.py"),
    "import os\n\ndef get_score(submission_folder):\n    return float(open(os.path.join(submission_folder, 'submission.txt')).read())\n",
  );
  await writeFile(
    path.join(folder, "scripts", "task.json"),
    JSON.stringify({ direction: "higher", baseline: 1, timeout_seconds: 60, ...(gpu ? { gpu: true } : {}) }),
  );
  return folder;
}

async function workspace(root: string): Promise<string> {
  const folder = path.join(root, "workspace");
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, "submission.txt"), "3");
  return folder;
}

/** dockerd's words (quotes escaped in JSON lines) and dynabox's fix. */
const NVIDIA = /could not select device driver \\?"nvidia\\?"[\s\S]*NVIDIA container toolkit/;

describe("--gpus with dynabox eval (grader containers)", () => {
  it("a task that declares a GPU, with --gpus all, is an infrastructure error naming the NVIDIA container toolkit", async () => {
    const root = await scratch();
    const task = await mlabTask(root, "needs-gpu", true);
    const result = await execa("node", [cli, "eval", "--mlab", task, "--workspace", await workspace(root), "--gpus", "all", "--run-dir", path.join(root, "run"), "--json"], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(`${result.stdout}\n${result.stderr}`).toMatch(NVIDIA);
    expect(`${result.stdout}\n${result.stderr}`).toContain("nvidia-ctk runtime configure");
  });

  it("the same task without --gpus is graded on the CPU, with the warning in its result", async () => {
    const root = await scratch();
    const task = await mlabTask(root, "needs-gpu", true);
    const result = await execa("node", [cli, "eval", "--mlab", task, "--workspace", await workspace(root), "--run-dir", path.join(root, "run"), "--json"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ task: "needs-gpu", score: 3, success: true });
    expect(result.stderr).toMatch(/needs-gpu declares a GPU, but --gpus was not given: it runs on the CPU/);
    expect(result.stderr).toMatch(/1 warning/);
  });

  it("a task that declares no GPU ignores --gpus all", async () => {
    const root = await scratch();
    const task = await mlabTask(root, "cpu-only", false);
    const result = await execa("node", [cli, "eval", "--mlab", task, "--workspace", await workspace(root), "--gpus", "all", "--run-dir", path.join(root, "run"), "--json"], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ task: "cpu-only", score: 3, success: true });
  });

  it("--gpus-for all gives the devices to a task that declares none (RES-Q and ScienceAgentBench rows)", async () => {
    const root = await scratch();
    const task = await mlabTask(root, "cpu-only", false);
    const result = await execa(
      "node",
      [cli, "eval", "--mlab", task, "--workspace", await workspace(root), "--gpus", "1", "--gpus-for", "all", "--run-dir", path.join(root, "run"), "--json"],
      { reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(3);
    expect(`${result.stdout}\n${result.stderr}`).toMatch(NVIDIA);
  });
});

describe("--gpus with dynabox run (the agent's sandbox)", () => {
  it("the agent's sandbox of a task that declares a GPU asks for it: an infrastructure error before the model is called", async () => {
    const root = await scratch();
    const task = await mlabTask(root, "needs-gpu", true);
    const server = await startScriptedOpenAIServer({ replies: [{ reply: "```python\nsubmit()\n```" }] });
    try {
      const result = await execa(
        "node",
        [cli, "run", task, "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--max-steps", "2", "--gpus", "all", "--library", path.join(root, "actions.sqlite"), "--run-dir", path.join(root, "run"), "--json"],
        { reject: false },
      );
      expect(result.exitCode, result.stderr).toBe(3);
      expect(`${result.stdout}\n${result.stderr}`).toMatch(NVIDIA);
      expect(server.requests.length).toBe(0);
      // A missing runtime is not retried (it would not appear by waiting).
      expect(result.stdout).not.toContain('"type":"task-retry"');
    } finally {
      await server.close();
    }
  }, 300_000);
});

describe("the containers a task gets", () => {
  it("the engine stores the DeviceRequests of a GPU task's container, and refuses to start it without the NVIDIA runtime", async () => {
    const requests = contextForTask({ docker, sandboxImage: image(), cacheDirectory: "/nonexistent", environment: { gpus: "0,1" } }, { id: "t", gpu: true }).taskDevices;
    expect(requests).toEqual(deviceRequests(parseGpus("0,1")));
    const container = await docker.createContainer({
      ...buildCreateOptions({ image: image(), limits: DEFAULT_LIMITS, network: false, labels: ownerLabels(currentOwner(), "test-gpus", "grader"), deviceRequests: requests! }),
      HostConfig: {
        ...buildCreateOptions({ image: image(), limits: DEFAULT_LIMITS, network: false, labels: {}, deviceRequests: requests! }).HostConfig,
        AutoRemove: false,
      },
    });
    try {
      const inspected = await container.inspect();
      expect(inspected.HostConfig.DeviceRequests).toEqual([{ Driver: "nvidia", Count: 0, DeviceIDs: ["0", "1"], Capabilities: [["gpu"]], Options: {} }]);
      const started = await container.start().then(
        () => "started",
        (error: Error) => error.message,
      );
      expect(started).toMatch(/could not select device driver "nvidia"/);
    } finally {
      await container.remove({ force: true });
    }
  });

  it("a task that declares no GPU gets a container without DeviceRequests, whatever --gpus says", async () => {
    const context = contextForTask({ docker, sandboxImage: image(), cacheDirectory: "/nonexistent", environment: { gpus: "all" } }, { id: "plain" });
    await using pool = new SandboxPool(docker, { size: 0 });
    const sandbox = await pool.acquire({ image: image(), runId: "test-gpus", role: "agent", ...(context.taskDevices!.length > 0 ? { deviceRequests: context.taskDevices! } : {}) });
    try {
      const inspected = await sandbox.container.inspect();
      expect(inspected.HostConfig.DeviceRequests ?? []).toEqual([]);
    } finally {
      await sandbox.dispose();
    }
  });
});
