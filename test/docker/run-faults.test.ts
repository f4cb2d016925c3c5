// Faults of the model endpoint and of the Docker engine during `dynabox run`, end to end: the
// real CLI, the real openai client against the scripted server, real sandboxes and graders.
// None of them may turn into a task's failure, change a figure, crash the command or leave a
// container behind.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { demoReplies } from "../../src/demo/script.js";
import { ResultsStore } from "../../src/runs/store.js";
import type { ScriptedStep } from "../../src/testing/index.js";
import { cleanupsAfterEach, scratchFolder } from "../cleanups.js";
import { startSocketProxy } from "./socket-proxy.js";
import { cli, runEnd as everyLineRunEnd, runEvents, scriptedServer, type RunEnd, type RunEndTask } from "./run-fixture.js";
import { docker } from "./sandbox-fixture.js";

const cleanups = cleanupsAfterEach();
const scratch = (): Promise<string> => scratchFolder(cleanups, "dynabox-run-faults-");

// A run whose engine is cut may print other lines: only the JSON ones are events here.
const events = (stdout: string) => runEvents(stdout, { skipOtherLines: true });
const runEnd = (stdout: string): RunEnd => everyLineRunEnd(stdout, { skipOtherLines: true });

/** The wrong answer to sab/4 in two steps: a failure that is the agent's. */
const wrongAnswer: ScriptedStep[] = [
  { reply: { thought: "write a wrong program", code: "import os\nos.makedirs('pred_programs', exist_ok=True)\nopen('pred_programs/pred_stroop_trial_filter.py', 'w').write('print(1)')" } },
  { reply: "```python\nsubmit()\n```" },
];

function runArgs(url: string, folder: string, ...more: string[]): string[] {
  return [cli, "run", "tasks/sab/tasks.jsonl", "--model", "scripted", "--base-url", url, "--api-key", "right-key", "--max-steps", "3", "--concurrency", "1", "--library", path.join(folder, "actions.sqlite"), "--run-dir", path.join(folder, "run"), "--json", ...more];
}

describe("a model endpoint that fails", () => {
  it("a wrong key stops the run before any task (exit 3) and stores nothing", async () => {
    const folder = await scratch();
    const server = await scriptedServer(cleanups, { replies: wrongAnswer, requireApiKey: "right-key" });
    const args = runArgs(server.url, folder, "--task", "sab/4");
    args[args.indexOf("right-key")] = "wrong-key";
    const result = await execa("node", args, { reject: false });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain("refused the key (HTTP 401)");
    expect(result.stderr).toContain("--api-key");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(server.requests).toHaveLength(0);
    expect(existsSync(path.join(folder, "run", "results.sqlite"))).toBe(false);
  }, 120_000);

  it("a key refused later in the run (401 on a completion) stops the run too, storing nothing as a failure", async () => {
    const folder = await scratch();
    const server = await scriptedServer(cleanups, { replies: [{ status: 401, message: "Incorrect API key provided." }] });
    const result = await execa("node", runArgs(server.url, folder, "--task", "sab/4", "--task", "sab/3"), { reject: false });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain("refused the key (HTTP 401)");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // The second task never started, and the first is no result.
    expect(server.requests).toHaveLength(1);
    using store = ResultsStore.open(path.join(folder, "run", "results.sqlite"));
    expect(store.list("run")).toEqual([]);
  }, 120_000);

  it("5xx answers are retried with backoff, each retry an event and a trajectory line; the task's result is unchanged", async () => {
    const folder = await scratch();
    const server = await scriptedServer(cleanups, {
      replies: [
        { status: 503, message: "overloaded", headers: { "retry-after-ms": "20" } },
        wrongAnswer[0]!,
        { status: 500, message: "oops", headers: { "retry-after-ms": "20" } },
        wrongAnswer[1]!,
      ],
    });
    const result = await execa("node", runArgs(server.url, folder, "--task", "sab/4"), { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const retries = events(result.stdout).filter((event) => event.type === "model-retry");
    expect(retries.map((event) => [event.step, event.status])).toEqual([
      [1, 503],
      [2, 500],
    ]);
    expect(runEnd(result.stdout).tasks).toMatchObject([{ id: "4", outcome: "failed", steps: 2 }]);
    const trajectory = (await readFile(path.join(folder, "run", "trajectories", "sab", "4", "attempt-1.jsonl"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(trajectory.filter((line) => line.type === "model-retry").map((line) => line.status)).toEqual([503, 500]);
    server.assertDone();
  }, 180_000);

  it("a hung endpoint is bounded by the wall time: an infrastructure error, not a failure (exit 3)", async () => {
    const folder = await scratch();
    const server = await scriptedServer(cleanups, { replies: [{ reply: "never sent", hang: true }] });
    const started = Date.now();
    const result = await execa("node", runArgs(server.url, folder, "--task", "sab/4", "--wall-time", "6", "--step-timeout", "5", "--request-timeout", "300", "--infra-retries", "0"), { reject: false });
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(result.exitCode, result.stderr).toBe(3);
    const end = runEnd(result.stdout);
    expect(end.tasks).toMatchObject([{ id: "4", outcome: "error", error_kind: "model" }]);
    expect(end.tasks[0]?.reason).toContain("wall time");
    // Not a failure: the family's metrics count no task.
    expect(end.families[0]).toMatchObject({ family: "sab", tasks: 0, errors: 1 });
    using store = ResultsStore.open(path.join(folder, "run", "results.sqlite"));
    expect(store.list("run").map((row) => (row.detail as RunEndTask).outcome)).toEqual(["error"]);
  }, 180_000);

  it("retries an errored task within the run, then a rerun retries only the errored task; other settings are refused", async () => {
    const folder = await scratch();
    // sab/4 finishes; every call of sab/3 gets a 500 (the script has nothing left for it).
    const first = await scriptedServer(cleanups, { replies: wrongAnswer });
    const args = (url: string, ...more: string[]): string[] => runArgs(url, folder, "--task", "sab/4", "--task", "sab/3", "--max-retries", "0", "--infra-retries", "1", ...more);
    const env = { ...process.env, DYNABOX_RETRY_DELAY_MS: "100" };
    const result = await execa("node", args(first.url), { reject: false, env });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(events(result.stdout).filter((event) => event.type === "task-retry")).toMatchObject([{ taskId: "3", kind: "model", retry: 1, of: 1 }]);
    const end = runEnd(result.stdout);
    expect(end.tasks.map((task) => [task.id, task.outcome, task.error_kind, task.retries])).toEqual([
      ["4", "failed", undefined, undefined],
      ["3", "error", "model", 1],
    ]);
    expect(end.families[0]).toMatchObject({ tasks: 1, errors: 1, SR: 0 });
    expect(end.totals.errors).toBe(1);
    const summary = JSON.parse(await readFile(path.join(folder, "run", "summary.json"), "utf8")) as RunEnd;
    expect(summary.tasks[1]).toMatchObject({ id: "3", outcome: "error", error_kind: "model" });
    expect(summary.tasks[1]?.reason).toContain("HTTP 500");

    // The rerun's server knows only sab/3's replies: redoing sab/4 would be an unexpected call.
    const second = await scriptedServer(cleanups, {
      replies: [{ reply: { thought: "nothing to write", code: "print('giving up')" } }, { reply: "```python\nsubmit()\n```" }],
    });
    const rerun = await execa("node", args(second.url), { reject: false, env });
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('"type":"task-skip","family":"sab","taskId":"4"');
    expect(runEnd(rerun.stdout).tasks.map((task) => [task.id, task.outcome])).toEqual([
      ["4", "failed"],
      ["3", "failed"],
    ]);
    second.assertDone();

    // The last --max-steps wins: other limits than the folder's run had.
    const otherModel = await execa("node", args(second.url, "--max-steps", "5"), { reject: false, env });
    expect(otherModel.exitCode, otherModel.stderr).toBe(2);
    expect(otherModel.stderr).toMatch(/other settings \(limits .*; use another --run-dir/);
  }, 300_000);
});

/** Runs sab/3 and sab/4 through a proxy to the engine, cutting it for 8 s when `when` first matches the NDJSON seen so far. */
async function runWithOutage(folder: string, when: RegExp): Promise<{ result: Awaited<ReturnType<typeof execa>>; pid: number; cut: boolean; proxyCuts: number }> {
  const proxy = await startSocketProxy(path.join(folder, "engine.sock"), "/var/run/docker.sock");
  cleanups.push(() => proxy.close());
  const all = await demoReplies(path.resolve("tasks"));
  // Twice over: a task cut short by the outage asks for its replies again.
  const server = await scriptedServer(cleanups, { replies: [...all, ...all] });
  const child = execa("node", [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/3", "--task", "sab/4", "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--concurrency", "1", "--engine-wait", "60", "--library", path.join(folder, "actions.sqlite"), "--run-dir", path.join(folder, "run"), "--json"], {
    reject: false,
    env: { ...process.env, DOCKER_HOST: `unix://${proxy.socket}`, DYNABOX_RETRY_DELAY_MS: "500" },
  });
  let seen = "";
  let cut = false;
  child.stdout?.on("data", (chunk: Buffer) => {
    seen += chunk.toString();
    if (!cut && when.test(seen)) {
      cut = true;
      proxy.cut();
      setTimeout(() => proxy.restore(), 8_000);
    }
  });
  const result = await child;
  return { result, pid: child.pid!, cut, proxyCuts: proxy.cutConnections };
}

describe("an engine outage during grading", () => {
  it("grades the same submission again once the engine answers, without running the agent again", async () => {
    const folder = await scratch();
    const { result, pid, cut, proxyCuts } = await runWithOutage(folder, /"type":"task-progress","family":"sab","taskId":"4","message":"grading"/);
    expect(cut).toBe(true);
    expect(proxyCuts).toBeGreaterThan(0);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const all = events(String(result.stdout));
    expect(all.filter((event) => event.type === "task-retry")).toEqual([]);
    expect(all.some((event) => event.type === "task-progress" && String(event.message).startsWith("grading failed"))).toBe(true);
    expect(runEnd(String(result.stdout)).tasks.map((task) => [task.id, task.outcome])).toEqual([
      ["3", "passed"],
      ["4", "passed"],
    ]);
    expect(await docker.listContainers({ all: true, filters: { label: [`dynabox.owner.pid=${pid}`] } })).toEqual([]);
  }, 400_000);
});

describe("an engine outage mid-run", () => {
  it("does not crash the run: the task is retried once the engine answers, figures unchanged, nothing left behind", async () => {
    const folder = await scratch();
    // Cut as soon as the first task ended: the second one is starting then.
    const { result, pid, cut, proxyCuts } = await runWithOutage(folder, /"type":"task-end","family":"sab","taskId":"3"/);
    expect(cut).toBe(true);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
    const end = runEnd(String(result.stdout));
    expect(end.tasks.map((task) => [task.id, task.outcome])).toEqual([
      ["3", "passed"],
      ["4", "passed"],
    ]);
    expect(end.families[0]).toMatchObject({ family: "sab", tasks: 2, SR: 1, VER: 1, errors: 0 });
    expect(proxyCuts).toBeGreaterThan(0);
    // The outage hit the second task, which was tried again once the engine answered.
    expect(events(String(result.stdout)).filter((event) => event.type === "task-retry").map((event) => event.taskId)).toContain("4");
    expect(await docker.listContainers({ all: true, filters: { label: [`dynabox.owner.pid=${pid}`] } })).toEqual([]);
  }, 400_000);
});
