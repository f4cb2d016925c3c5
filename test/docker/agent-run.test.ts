// `dynabox run` and `dynabox demo` end to end: the real openai client against the scripted
// server, real sandboxes, real graders, and the action library across tasks.

import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ActionStore } from "../../src/actions/store.js";
import { demoReplies } from "../../src/demo/script.js";
import { cleanupsAfterEach, scratchFolder } from "../cleanups.js";
import { cli, runEnd, scriptedServer } from "./run-fixture.js";
import { docker } from "./sandbox-fixture.js";

const cleanups = cleanupsAfterEach();
const scratch = (): Promise<string> => scratchFolder(cleanups, "dynabox-agent-run-");

describe("dynabox demo", () => {
  it("solves four bundled tasks of all three families, and a later task calls an action an earlier one made", async () => {
    const runDirectory = path.join(await scratch(), "demo");
    const result = await execa("node", [cli, "demo", "--json", "--run-dir", runDirectory], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const end = runEnd(result.stdout);
    expect(end.tasks.map((task) => [task.family, task.id, task.outcome])).toEqual([
      ["sab", "3", "passed"],
      ["sab", "4", "passed"],
      ["resq", "0_0", "passed"],
      ["mlab", "wine-mini", "passed"],
    ]);
    expect(end.tasks[0]?.actions_created.sort()).toEqual(["preview_csv", "save_and_run_program"]);
    expect(end.tasks[1]?.actions_used.sort()).toEqual(["preview_csv", "save_and_run_program"]);
    using library = ActionStore.open(path.join(runDirectory, "actions.sqlite"));
    const promoted = library.list().map((action) => [action.name, action.status, action.successes]);
    expect(promoted).toContainEqual(["save_and_run_program", "promoted", 1]);
    const trajectory = (await readFile(path.join(runDirectory, "trajectories", "sab", "4", "attempt-1.jsonl"), "utf8")).trim().split("\n");
    expect(trajectory.length).toBe(5);
    expect(trajectory[1]).toContain("search_actions");
  }, 300_000);
});

describe("dynabox run", () => {
  it("records a failed task, keeps its functions out of the library, and resumes without redoing finished tasks", async () => {
    const folder = await scratch();
    const server = await scriptedServer(cleanups, {
      replies: [
        {
          reply: {
            thought: "write a wrong answer",
            code: "def wrong_answer() -> str:\n    \"\"\"Return a wrong answer.\"\"\"\n    return 'x'\n\nimport os\nos.makedirs('pred_programs', exist_ok=True)\nopen('pred_programs/pred_stroop_trial_filter.py', 'w').write('print(1)')",
          },
        },
        { reply: "```python\nsubmit()\n```" },
      ],
    });
    const libraryFile = path.join(folder, "actions.sqlite");
    const args = [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/4", "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--max-steps", "3", "--library", libraryFile, "--run-dir", path.join(folder, "run"), "--json"];
    const first = await execa("node", args, { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain('"type":"step-end"');
    const end = runEnd(first.stdout);
    expect(end.tasks).toHaveLength(1);
    expect(end.tasks[0]).toMatchObject({ id: "4", outcome: "failed", steps: 2, actions_created: [] });
    server.assertDone();
    using library = ActionStore.open(libraryFile);
    expect(library.list({ all: true }).filter((action) => action.status !== "candidate")).toEqual([]);
    const again = await execa("node", args, { reject: false });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain("task-skip");
    expect(runEnd(again.stdout).tasks[0]).toMatchObject({ id: "4", outcome: "failed" });
  }, 300_000);
});

describe("a run killed with SIGKILL", () => {
  it("leaves no container, and the next run resumes without redoing finished tasks", async () => {
    const folder = await scratch();
    const all = await demoReplies(path.resolve("tasks"));
    const isStroop = (step: unknown): boolean => String((step as { when?: { anyMessage?: RegExp } }).when?.anyMessage).includes("Stroop");
    const first = await scriptedServer(cleanups, { replies: all });
    const runId = `kill-${Date.now()}`;
    const args = (url: string): string[] => [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/3", "--task", "sab/4", "--model", "scripted", "--base-url", url, "--api-key", "x", "--concurrency", "1", "--library", path.join(folder, "actions.sqlite"), "--run-dir", path.join(folder, "run"), "--json"];
    const child = spawn("node", args(first.url), { env: { ...process.env, DYNABOX_RUN_ID: runId }, stdio: ["ignore", "pipe", "ignore"] });
    const firstTaskDone = new Promise<void>((resolve, reject) => {
      let seen = "";
      child.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (/"type":"task-end","family":"sab","taskId":"3"/.test(seen)) resolve();
      });
      child.on("exit", () => reject(new Error(`the run ended before its first task did:\n${seen}`)));
    });
    await firstTaskDone;
    child.kill("SIGKILL");
    const ofKilledRun = async (): Promise<unknown[]> =>
      docker.listContainers({ all: true, filters: { label: [`dynabox.owner.pid=${child.pid}`] } });
    // Started sandboxes go away by themselves (their kernel sees stdin close); one caught between
    // create and start can not, and the next start sweeps it.
    const deadline = Date.now() + 20_000;
    while ((await ofKilledRun()).some((container) => (container as { State?: string }).State !== "created") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await ofKilledRun()).filter((container) => (container as { State?: string }).State !== "created")).toEqual([]);

    // The second server only knows the second task: redoing the first would be an unexpected call.
    const second = await scriptedServer(cleanups, { replies: all.filter(isStroop) });
    const rerun = await execa("node", args(second.url), { reject: false });
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('"type":"task-skip","family":"sab","taskId":"3"');
    const end = runEnd(rerun.stdout);
    expect(end.tasks.map((task) => [task.id, task.outcome])).toEqual([
      ["3", "passed"],
      ["4", "passed"],
    ]);
    expect(end.tasks[1]?.actions_used.sort()).toEqual(["preview_csv", "save_and_run_program"]);
    second.assertDone();
    expect(await ofKilledRun()).toEqual([]);
  }, 300_000);
});
