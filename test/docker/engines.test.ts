// Several Docker engines from one command: a second dockerd (own data root, exec root, socket,
// network namespace; scripts/extra-dockerd.sh) next to the host's. An eval of the bundled RES-Q
// tasks spread over both gives the verdicts of one engine; an engine stopped mid-run has its
// tasks placed again on the other. The daemon and its namespace are removed afterwards.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnginePool, type EngineEvent } from "../../src/engines/pool.js";
import { parseEngineSpec } from "../../src/engines/spec.js";
import { startSandbox } from "../../src/sandbox/sandbox.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const script = path.resolve("scripts/extra-dockerd.sh");
const name = `t${process.pid}`;
let folder = "";
let scratch = "";
let socket = "";

async function stopSecondEngine(): Promise<void> {
  if (folder) await execa("bash", [script, "stop", name, folder], { reject: false });
}

describe("several engines", () => {
  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), "dynabox-engine2-"));
    scratch = await mkdtemp(path.join(tmpdir(), "dynabox-engines-"));
    try {
      socket = (await execa("bash", [script, "start", name, folder])).stdout.trim();
    } catch (error) {
      await stopSecondEngine();
      throw error;
    }
  }, 120_000);

  afterAll(async () => {
    await stopSecondEngine();
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
    await stopSecondEngine();
    const values = await running;
    expect(values).toEqual(Array.from({ length: 6 }, (_, index) => String(index * 7)));
    expect(events.some((event) => event.type === "engine-down" && event.engine.includes(socket))).toBe(true);
    expect(events.filter((event) => event.type === "engine-retry").length).toBeGreaterThan(0);
    expect(pool.engines[1]!.down).toBe(true);
    expect(pool.engines[0]!.finished).toBe(6);
  });
});
