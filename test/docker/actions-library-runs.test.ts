// The library's rules at the edges of a task: nothing is promoted from a verdict flagged for
// review (through the real runner, a real sab grader whose verdict carries a flag), and a stored
// action that can not be defined when a task starts is skipped and reported, not the task's end.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TaskLibrary } from "../../src/actions/promote.js";
import { ActionStore } from "../../src/actions/store.js";
import type { ActionCandidate } from "../../src/actions/types.js";
import { runAgent } from "../../src/agent/loop.js";
import { createModelClient } from "../../src/agent/model-client.js";
import { demoReplies } from "../../src/demo/script.js";
import { runAgentTasks } from "../../src/runs/agent-run.js";
import { ResultsStore } from "../../src/runs/store.js";
import { SandboxPool } from "../../src/sandbox/pool.js";
import type { AnyFamilyModule } from "../../src/families/registry.js";
import { discoverTasks } from "../../src/families/registry.js";
import { startScriptedOpenAIServer, type ScriptedStep } from "../../src/testing/index.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
async function scratch(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), "dynabox-library-runs-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  return folder;
}
async function scriptedModel(replies: ScriptedStep[]) {
  const server = await startScriptedOpenAIServer({ replies });
  cleanups.push(() => server.close());
  return createModelClient({ model: "scripted", baseURL: server.url, apiKey: "x", retryBaseDelayMs: 1 });
}

describe("a verdict flagged for review", () => {
  it("promotes nothing from its task, though the task passed", async () => {
    const folder = await scratch();
    const demo = await demoReplies(path.resolve("tasks"));
    const model = await scriptedModel(demo.filter((step) => String((step as { when?: { anyMessage?: RegExp } }).when?.anyMessage).includes("PM2")));
    const [pm25] = (await discoverTasks([path.resolve("tasks/sab/tasks.jsonl")])).filter(({ task }) => task.id === "3");
    expect(pm25).toBeDefined();
    // The real sab grader; its verdict carries a review flag, as the RES-Q grader sets for a patch
    // that shadows the standard library.
    const real = pm25!.module;
    const flagging: AnyFamilyModule = {
      ...real,
      grade: async (context, task, submission) => ({ ...(await real.grade(context, task, submission)), reviewFlags: ["the submission read the test's own source"] }),
    };
    const library = ActionStore.open(path.join(folder, "actions.sqlite"));
    cleanups.push(() => library.close());
    const results = ResultsStore.open(path.join(folder, "results.sqlite"));
    cleanups.push(() => results.close());
    const pool = new SandboxPool(docker, { size: 0 });
    cleanups.push(() => pool.dispose());
    const summaries = await runAgentTasks([{ task: pm25!.task, module: flagging }], {
      context: { docker, sandboxImage: image(), cacheDirectory: path.join(folder, "cache"), runId: `flagged-${Date.now()}` },
      model,
      limits: { maxSteps: 4, wallSeconds: 300, stepTimeoutSeconds: 120 },
      pool,
      store: results,
      runDirectory: folder,
      attempts: 1,
      concurrency: 1,
      library,
    });
    expect(summaries.map((summary) => [summary.outcome, summary.error, summary.actions_created])).toEqual([["passed", null, []]]);
    expect(library.list({ all: true })).toEqual([]);
  }, 300_000);
});

describe("a stored action that can not be defined when a task starts", () => {
  it("is skipped and reported; the task goes on with its initial actions and the other actions", async () => {
    const folder = await scratch();
    const library = ActionStore.open(path.join(folder, "actions.sqlite"));
    cleanups.push(() => library.close());
    const row = (name: string, source: string, docstring: string, imports: string[] = []): ActionCandidate => ({
      name, isAsync: false, signature: `${name}(rows)`, docstring, source, imports, dependencies: [], freeNames: [], normalHash: name,
      origin: { taskId: "earlier", step: 1 },
    });
    // Written straight into the store, as an older dynabox or a damaged file could hold them.
    library.recordCandidates("old-run", [
      row("load_rows", "def load_rows(rows):\n    return rows\nimport os; os._exit(3)", "Load the rows of a table."),
      row("rows_total", "def rows_total(rows):\n    return nope.total(rows)", "Total of the rows of a table.", ["import nope_not_installed as nope"]),
      row("count_rows", "def count_rows(rows):\n    return len(rows)", "Count the rows of a table."),
    ]);
    library.promote("old-run", "earlier");

    const warnings: string[] = [];
    const extractor = await sandbox({ role: "action-extractor" });
    const taskLibrary = new TaskLibrary(library, { runId: "run-2", taskId: "count", extractor, onWarning: (message) => warnings.push(message) });
    const model = await scriptedModel([{ reply: { thought: "use the library", code: "print(count_rows([1, 2, 3]))\nsubmit(count_rows([1]))" } }]);
    const outcome = await runAgent({
      taskId: "count",
      family: "test",
      description: "Count the rows of a table.",
      sandbox: await sandbox(),
      model,
      limits: { maxSteps: 3, wallSeconds: 120, stepTimeoutSeconds: 30 },
      trajectoryFile: path.join(folder, "trajectory.jsonl"),
      library: taskLibrary,
    });
    expect(outcome).toMatchObject({ stopReason: "submitted", answer: 1, error: null });
    expect(outcome.actionsOffered).toEqual(["count_rows"]);
    expect(outcome.actionsUsed).toEqual(["count_rows"]);
    expect(warnings.sort()).toEqual([
      expect.stringMatching(/^library action load_rows not loaded: breaks the library's rule: the source must be exactly one function definition/),
      expect.stringMatching(/^library action rows_total not loaded: ModuleNotFoundError/),
    ]);
    // Not deleted: a stored action that breaks the rule stays in the file, it is only not loaded.
    expect(library.list().map((action) => action.name)).toEqual(["count_rows", "load_rows", "rows_total"]);
  }, 120_000);
});
