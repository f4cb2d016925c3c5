// Several Docker engines from one command: a second dockerd (own data root, exec root, socket,
// network namespace; scripts/extra-dockerd.sh) next to the host's. An eval of the bundled RES-Q
// tasks spread over both gives the verdicts of one engine; an engine stopped mid-run has its
// tasks placed again on the other; a run with a scripted model and a validate (engines from the
// config file) spread over both give the outcomes of one engine. The daemon and its namespace are
// removed afterwards (test/docker/extra-engine.ts).

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnginePool, type EngineEvent } from "../../src/engines/pool.js";
import { parseEngineSpec } from "../../src/engines/spec.js";
import { startSandbox } from "../../src/sandbox/sandbox.js";
import { ActionStore } from "../../src/actions/store.js";
import { demoReplies } from "../../src/demo/script.js";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { startExtraEngine, type ExtraEngine } from "./extra-engine.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
let second: ExtraEngine | undefined;
let scratch = "";
let socket = "";

describe("several engines", () => {
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "dynabox-engines-"));
    second = await startExtraEngine(`t${process.pid}`);
    socket = second.socket;
  }, 120_000);

  afterAll(async () => {
    await second?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 120_000);

  it("an eval spread over two engines gives the verdicts of one engine", async () => {
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { id: string; solution_patch: string }[];
    const submissions = path.join(scratch, "submissions.jsonl");
    await writeFile(
      submissions,
      rows.map((row, index) => JSON.stringify({ id: row.id, patch: index % 2 === 0 ? row.solution_patch : "" })).join("\n") + "\n",
    );
    const evalArgs = (run: string, ...engines: string[]) => [
      cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(scratch, run), "--json",
      ...engines.flatMap((engine) => ["--engine", engine]),
    ];
    const one = await execa("node", evalArgs("one"), { reject: false });
    expect(one.exitCode, one.stderr).toBe(0);
    const two = await execa("node", evalArgs("two", "unix:///var/run/docker.sock?concurrency=1", `unix://${socket}?concurrency=1`), { reject: false });
    expect(two.exitCode, two.stderr).toBe(0);
    const verdicts = (text: string) =>
      text.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>).map((line) => [line.id, line.success, line.message]);
    expect(verdicts(two.stdout)).toEqual(verdicts(one.stdout));
    expect(verdicts(one.stdout).filter((verdict) => verdict[1] === true)).toHaveLength(Math.ceil(rows.length / 2));
  });

  it("a run with a scripted model spread over two engines gives the outcomes of one engine", async () => {
    const replies = await demoReplies(path.resolve("tasks"));
    const outcomes = async (url: string, name: string, engines: string[]) => {
      const args = [
        cli, "run", "tasks", "--task", "sab/3", "--task", "resq/0_0", "--model", "scripted", "--base-url", url, "--api-key", "x",
        "--concurrency", "1", "--library", path.join(scratch, `${name}.sqlite`), "--run-dir", path.join(scratch, name), "--json",
        ...engines.flatMap((engine) => ["--engine", engine]),
      ];
      const result = await execa("node", args, { reject: false });
      expect(result.exitCode, result.stderr).toBe(0);
      const end = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as {
        type: string;
        tasks: Array<{ family: string; id: string; outcome: string; steps: number; actions_created: string[] }>;
        engines?: { name: string; finished: number; down: boolean }[];
      };
      expect(end.type).toBe("run-end");
      using library = ActionStore.open(path.join(scratch, `${name}.sqlite`));
      return {
        tasks: end.tasks.map(({ family, id, outcome, steps, actions_created }) => ({ family, id, outcome, steps, actions_created })),
        library: library.latest().map((action) => ({ name: action.name, version: action.version, hash: action.normalHash })),
        engines: end.engines,
        manifest: JSON.parse(await readFile(path.join(scratch, name, "manifest.json"), "utf8")) as { engines?: { name: string }[] },
      };
    };
    const oneServer = await startScriptedOpenAIServer({ replies });
    const twoServer = await startScriptedOpenAIServer({ replies });
    try {
      const one = await outcomes(oneServer.url, "run-one", []);
      const two = await outcomes(twoServer.url, "run-two", ["unix:///var/run/docker.sock?concurrency=1", `unix://${socket}?concurrency=2`]);
      expect(two.tasks).toEqual(one.tasks);
      expect(one.tasks.some((task) => task.outcome === "passed")).toBe(true);
      expect(two.library).toEqual(one.library);
      expect(two.manifest.engines?.map((engine) => engine.name)).toEqual(["unix:///var/run/docker.sock", `unix://${socket}`]);
      // Two attempts at once over free capacity 1 + 2: the second engine, with more free slots, took one.
      expect(two.engines).toEqual([
        { name: "unix:///var/run/docker.sock", finished: 1, down: false },
        { name: `unix://${socket}`, finished: 1, down: false },
      ]);
      expect(one.engines).toBeUndefined();
    } finally {
      await oneServer.close();
      await twoServer.close();
    }
  });

  it("a validate spread over two engines (named in the config file) gives the verdicts of one engine", async () => {
    const validate = async (name: string, cwd: string) => {
      const result = await execa("node", [cli, "validate", path.resolve("tasks/resq"), path.resolve("tasks/sab"), "--json", "--run-dir", path.join(scratch, name)], { reject: false, cwd });
      expect(result.exitCode, result.stderr).toBe(0);
      // Times differ between runs; everything else of each verdict must be the same.
      const withoutTimes = (value: unknown): unknown =>
        Array.isArray(value) ? value.map(withoutTimes)
        : value !== null && typeof value === "object" ? Object.fromEntries(Object.entries(value).filter(([key]) => key !== "seconds").map(([key, inner]) => [key, withoutTimes(inner)]))
        : value;
      const reports = (JSON.parse(result.stdout) as { id: string; family: string; valid: boolean; checks: Record<string, unknown> }[]).map(({ id, family, valid, checks }) => ({ id, family, valid, checks: withoutTimes(checks) }));
      return { reports, stderr: result.stderr };
    };
    const one = await validate("validate-one", process.cwd());
    // The engines from the config file, as a user would keep them for every command.
    const configured = path.join(scratch, "configured");
    await mkdir(configured);
    await writeFile(path.join(configured, "dynabox.config.json"), JSON.stringify({ engines: ["unix:///var/run/docker.sock?concurrency=1", `unix://${socket}?concurrency=1`] }));
    const two = await validate("validate-two", configured);
    expect(two.reports).toEqual(one.reports);
    expect(one.reports.length).toBeGreaterThan(2);
    expect(one.reports.every((report) => report.valid)).toBe(true);
    expect(two.stderr).toMatch(new RegExp(`engine unix://${socket.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: [1-9]\\d* task\\(s\\) finished there`));
  });

  it("places tasks on both engines, and retries elsewhere the tasks of an engine stopped mid-run", async () => {
    const events: EngineEvent[] = [];
    const pool = await EnginePool.open(
      [parseEngineSpec("unix:///var/run/docker.sock?concurrency=2"), parseEngineSpec(`unix://${socket}?concurrency=2`)],
      docker,
      image(),
      { onEvent: (event) => events.push(event), healthTimeoutMs: 2_000 },
    );
    expect(pool.capacity).toBe(4);
    const placed: string[] = [];
    const task = (index: number) =>
      pool.run(async (engine) => {
        placed.push(engine.name);
        const box = await startSandbox(engine.docker, { image: pool.image, role: "test" });
        try {
          const result = await box.exec(`import time\ntime.sleep(3)\n${index} * 7`, { timeoutSeconds: 30 });
          if (!result.ok) throw new Error(`cell failed: ${result.error?.message ?? "?"}`);
          return result.value;
        } finally {
          await box.dispose().catch(() => undefined);
        }
      });
    const running = Promise.all(Array.from({ length: 6 }, (_, index) => task(index)));
    // Stop the second engine while its first tasks sleep in their sandboxes.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(placed.filter((engine) => engine.includes(socket)).length).toBeGreaterThan(0);
    await second!.stop();
    const values = await running;
    expect(values).toEqual(Array.from({ length: 6 }, (_, index) => String(index * 7)));
    expect(events.some((event) => event.type === "engine-down" && event.engine.includes(socket))).toBe(true);
    expect(events.filter((event) => event.type === "engine-retry").length).toBeGreaterThan(0);
    expect(pool.engines[1]!.down).toBe(true);
    expect(pool.engines[0]!.finished).toBe(6);
  });
});
