// An ablation end to end: the same two bundled tasks run with the action library off and on
// (real sandboxes, real graders, the scripted model replaying the demo's replies), then
// `dynabox compare` on the two run folders, checked against figures worked out by hand from the
// runs' own summaries. A third run with the library frozen uses it and adds nothing.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ActionStore } from "../../src/actions/store.js";
import { demoReplies } from "../../src/demo/script.js";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { cleanupsAfterEach } from "../cleanups.js";
import { cli } from "./run-fixture.js";

const cleanups = cleanupsAfterEach();

interface Summary {
  tasks: { id: string; family: string; outcome: string; steps: number; tokens: number; cost_usd: number; actions_used: string[] }[];
  library_mode: string;
}

async function sabRun(folder: string, name: string, mode: string, library: string, tasks: string[] = ["sab/3", "sab/4"]): Promise<Summary> {
  const all = await demoReplies(path.resolve("tasks"));
  const sab = all.filter((step) => /PM2|Stroop/.test(String((step as { when?: { anyMessage?: RegExp } }).when?.anyMessage)));
  const wanted = tasks.includes("sab/3") ? sab : sab.filter((step) => /Stroop/.test(String((step as { when?: { anyMessage?: RegExp } }).when?.anyMessage)));
  // The server reports its window on /v1/models, as vLLM does; the run budgets for it.
  const server = await startScriptedOpenAIServer({ replies: wanted, contextWindow: 30_000 });
  cleanups.push(() => server.close());
  const runDirectory = path.join(folder, name);
  const result = await execa(
    "node",
    [cli, "run", "tasks/sab/tasks.jsonl", ...tasks.flatMap((task) => ["--task", task]), "--model", "scripted", "--base-url", server.url, "--api-key", "x",
      "--concurrency", "1", "--library", library, "--library-mode", mode, "--run-dir", runDirectory, "--json"],
    { reject: false },
  );
  expect(result.exitCode, result.stderr).toBe(0);
  server.assertDone();
  const manifest = JSON.parse(await readFile(path.join(runDirectory, "manifest.json"), "utf8")) as Record<string, unknown>;
  expect(manifest).toMatchObject({ library_mode: mode, reply_format: "json", context_window: { tokens: 30_000, source: "server" } });
  return JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Summary;
}

describe("an ablation of the action library", () => {
  it("runs with the library off and on, and compare reports the paired difference", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-compare-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const off = await sabRun(folder, "off", "off", path.join(folder, "off.sqlite"));
    const on = await sabRun(folder, "on", "on", path.join(folder, "on.sqlite"));
    // Without the library, the second task can not call the first task's helpers and fails.
    expect(off.tasks.map((task) => [task.id, task.outcome])).toEqual([["3", "passed"], ["4", "failed"]]);
    expect(on.tasks.map((task) => [task.id, task.outcome])).toEqual([["3", "passed"], ["4", "passed"]]);
    using offLibrary = ActionStore.open(path.join(folder, "off.sqlite"));
    expect(offLibrary.list({ all: true })).toEqual([]);

    const compared = await execa("node", [cli, "compare", path.join(folder, "off"), path.join(folder, "on"), "--json"], { reject: false });
    expect(compared.exitCode, compared.stderr).toBe(0);
    const report = JSON.parse(compared.stdout) as Record<string, unknown>;
    const sum = (summary: Summary, field: "tokens" | "steps") => summary.tasks.reduce((total, task) => total + task[field], 0);
    expect(report).toMatchObject({
      a: { library_mode: "off", tasks: 2 },
      b: { library_mode: "on", tasks: 2 },
      paired: 2,
      // By hand: success 1/2 against 2/2; differences {0, 1}, so resampled means are 0, 1/2 or 1
      // and the 95 % interval is [0, 1]; one flip, to pass: McNemar p = 2 x 1/2 = 1.
      families: [
        {
          family: "sab",
          tasks: 2,
          success_a: 0.5,
          success_b: 1,
          success_difference: { difference: 0.5, low: 0, high: 1 },
          mcnemar: { only_a: 0, only_b: 1, p_value: 1 },
        },
      ],
      totals: { a: { tokens: sum(off, "tokens"), steps: sum(off, "steps") }, b: { tokens: sum(on, "tokens"), steps: sum(on, "steps") } },
      flipped_to_pass: ["sab/4"],
      flipped_to_fail: [],
    });
    const text = await execa("node", [cli, "compare", path.join(folder, "off"), path.join(folder, "on")], { reject: false });
    expect(text.stdout).toMatch(/sab\s+2\s+50\.0 %\s+100\.0 %\s+\+50\.0 pt\s+\[\+0\.0, \+100\.0\]\s+1\.000\s+0 \/ 1/);
    expect(text.stdout).toContain("passed in B only (1): sab/4");

    // Frozen: the second task uses the library the "on" run built, and the library does not change.
    using onLibrary = ActionStore.open(path.join(folder, "on.sqlite"));
    const before = onLibrary.list({ all: true });
    const frozen = await sabRun(folder, "frozen", "frozen", path.join(folder, "on.sqlite"), ["sab/4"]);
    expect(frozen.tasks.map((task) => [task.id, task.outcome])).toEqual([["4", "passed"]]);
    expect(frozen.tasks[0]?.actions_used.sort()).toEqual(["preview_csv", "save_and_run_program"]);
    expect(onLibrary.list({ all: true })).toEqual(before);
  }, 400_000);
});
