// `--slurm` and `--shard` against a real one-node Slurm cluster on localhost (slurmctld, slurmd,
// munged started by scripts/slurm-local-cluster.sh): a sharded eval equals an unsharded one, and
// a shard whose job is killed is submitted again and finishes without redoing anything.

import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionStore } from "../../src/actions/store.js";
import { demoReplies } from "../../src/demo/script.js";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { startLocalCluster, slurmWanted, type LocalCluster } from "../slurm-cluster.js";
import { temporaryFolders } from "../temporary-folders.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-slurm-test-");

interface DatasetRow {
  id: string;
  solution_patch: string;
}

/** Gold patches for even rows, empty ones for odd rows: two PASS, two FAIL. */
/** Gold patches and empty ones, alternating: an empty patch is upstream's PATCH FAILED "Empty patch". */
async function writeSubmissions(folder: string): Promise<string> {
  const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as DatasetRow[];
  const file = path.join(folder, "submissions.jsonl");
  await writeFile(file, rows.map((row, position) => JSON.stringify({ id: row.id, patch: position % 2 === 0 ? row.solution_patch : "" }) + "\n").join(""));
  return file;
}

type Row = Record<string, unknown>;

function storeRows(file: string): Row[] {
  const database = new Database(file, { readonly: true });
  try {
    return database.prepare("SELECT * FROM results ORDER BY kind, family, task_id, item").all() as Row[];
  } finally {
    database.close();
  }
}

/** What a run decided, without its timings and test logs (they name a random test file and the time taken). */
function verdictsOf(rows: Row[]): Row[] {
  return rows.map(({ kind, family, task_id, item, passed, score, upstream }) => ({ kind, family, task_id, item, passed, score, upstream: decided(JSON.parse(String(upstream)) as Row) }));
}

function decided(line: Row): Row {
  const { test_suite_feedback: _feedback, ...rest } = line;
  return rest;
}

/** A validation's checks without the time each step took. */
function withoutTimings(checks: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(checks, (key, value: unknown) => (key === "seconds" ? undefined : value)));
}

/** The upstream result lines a command printed, as verdicts. */
function linesOf(stdout: string): Row[] {
  return stdout.trim().split("\n").map((line) => decided(JSON.parse(line) as Row));
}

describe.runIf(slurmWanted())("dynabox --slurm on a one-node cluster", () => {
  let cluster: LocalCluster;
  beforeAll(() => {
    cluster = startLocalCluster();
  });
  afterAll(() => cluster?.stop());

  const environment = (): Record<string, string> => ({ ...cluster.environment, DYNABOX_SLURM_POLL_SECONDS: "0.5" });

  /** Kills (SIGKILL, as a lost node would) the first array element that runs, before it can finish its shard. */
  async function killFirstRunningElement(): Promise<string> {
    for (let poll = 0; poll < 600; poll++) {
      const queue = await execa("squeue", ["--noheader", "--array", "--format=%i %T"], { env: environment(), reject: false });
      const running = queue.stdout.split("\n").map((line) => line.trim().split(/\s+/)).find((words) => words[1] === "RUNNING" && /^\d+_\d+$/.test(words[0] ?? ""));
      if (running) {
        await execa("scancel", ["--signal=KILL", running[0]!], { env: environment() });
        return running[0]!;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("no array element ran within 60 s");
  }

  it("a sharded eval over the bundled RES-Q tasks equals an unsharded one, and its merged store is exactly the shards' rows", async () => {
    const folder = await scratch();
    const submissions = await writeSubmissions(folder);
    const common = ["eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--concurrency", "1"];
    const local = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "local")], { reject: false });
    expect(local.exitCode, local.stderr).toBe(0);
    const sharded = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "sharded"), "--slurm", "--slurm-shards", "3"], { reject: false, env: environment() });
    expect(sharded.exitCode, sharded.stderr).toBe(0);
    expect(sharded.stderr).toMatch(/submitted job array \d+ with shard\(s\) 1, 2, 3 of 3/);
    expect(linesOf(sharded.stdout)).toEqual(linesOf(local.stdout));
    expect(linesOf(sharded.stdout).map((line) => line.message)).toEqual(["PASS", "PATCH FAILED", "PASS", "PATCH FAILED"]);
    expect(await readFile(path.join(folder, "sharded", "results.jsonl"), "utf8")).toBe(sharded.stdout + "\n");
    // The same summary, except where the verdicts came from: the submitting command reads them
    // all from the merged store, the local run graded them itself.
    const summaryOf = async (run: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(path.join(folder, run, "summary.json"), "utf8")) as Record<string, unknown>;
    const { from_store: shardedFromStore, graded_now: shardedGradedNow, ...shardedSummary } = await summaryOf("sharded");
    const { from_store: localFromStore, graded_now: localGradedNow, ...localSummary } = await summaryOf("local");
    expect(shardedSummary).toEqual(localSummary);
    expect([shardedFromStore, shardedGradedNow, localFromStore, localGradedNow]).toEqual([4, 0, 0, 4]);
    const merged = storeRows(path.join(folder, "sharded", "results.sqlite"));
    expect(verdictsOf(merged)).toEqual(verdictsOf(storeRows(path.join(folder, "local", "results.sqlite"))));
    // Exact: every column of every shard's rows, timings included, and nothing else.
    const fromShards = ["1-of-3", "2-of-3", "3-of-3"].flatMap((name) => storeRows(path.join(folder, "sharded", "shards", name, "results.sqlite")));
    expect(fromShards).toHaveLength(4);
    const key = (row: Row): string => `${String(row.family)}/${String(row.task_id)}/${String(row.item)}`;
    expect(merged).toEqual([...fromShards].sort((left, right) => key(left).localeCompare(key(right))));

    // A rerun submits nothing: every shard finished.
    const again = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "sharded"), "--slurm", "--slurm-shards", "3"], { reject: false, env: environment() });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain("3 of 3 shard(s) finished before");
    expect(again.stderr).not.toContain("submitted job array");
    expect(again.stdout).toBe(sharded.stdout);

    // Another split of the same batch grades nothing again: every row keeps its finish time.
    const resplit = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "sharded"), "--slurm", "--slurm-shards", "2"], { reject: false, env: environment() });
    expect(resplit.exitCode, resplit.stderr).toBe(0);
    expect(resplit.stderr).toMatch(/submitted job array \d+ with shard\(s\) 1, 2 of 2/);
    expect(linesOf(resplit.stdout)).toEqual(linesOf(local.stdout));
    expect(storeRows(path.join(folder, "sharded", "results.sqlite"))).toEqual(merged);
  }, 600_000);

  it("submits a shard whose job was killed again, and merges the same verdicts", async () => {
    const folder = await scratch();
    const submissions = await writeSubmissions(folder);
    const runDirectory = path.join(folder, "run");
    const common = ["eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--concurrency", "1"];
    const reference = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "local")], { reject: false });
    expect(reference.exitCode, reference.stderr).toBe(0);
    const submitting = execa("node", [cli, ...common, "--run-dir", runDirectory, "--slurm", "--slurm-shards", "2", "--slurm-retries", "1"], { reject: false, env: environment() });
    const killed = await killFirstRunningElement();
    const result = await submitting;
    expect(result.exitCode, result.stderr).toBe(0);
    const shardIndex = killed.split("_")[1]!;
    expect(result.stderr).toContain(`shard ${shardIndex}/2: infrastructure failure, job ${killed} ended`);
    expect(result.stderr).toMatch(new RegExp(`submitted job array \\d+ with shard\\(s\\) ${shardIndex} of 2`));
    expect(linesOf(result.stdout)).toEqual(linesOf(reference.stdout));
    expect(verdictsOf(storeRows(path.join(runDirectory, "results.sqlite")))).toEqual(verdictsOf(storeRows(path.join(folder, "local", "results.sqlite"))));
  }, 600_000);

  it("--shard i/n by hand grades every n-th item in its own folder; with every shard done, --slurm only merges", async () => {
    const folder = await scratch();
    const submissions = await writeSubmissions(folder);
    const runDirectory = path.join(folder, "run");
    const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--run-dir", runDirectory, "--shard", "2/2"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as DatasetRow[];
    expect(result.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([rows[1]!.id, rows[3]!.id]);
    expect(storeRows(path.join(runDirectory, "shards", "2-of-2", "results.sqlite")).map((row) => row.task_id)).toEqual([rows[1]!.id, rows[3]!.id]);
    expect(JSON.parse(await readFile(path.join(runDirectory, "shards", "2-of-2", "shard-done.json"), "utf8"))).toMatchObject({ shard: { index: 2, count: 2 }, items: 2 });

    // The other shard by hand, then the merge: with every shard done, --slurm submits nothing
    // (no Slurm command runs: SLURM_CONF points nowhere) and reports the whole batch.
    const first = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--run-dir", runDirectory, "--shard", "1/2"], { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    const merged = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--run-dir", runDirectory, "--slurm", "--slurm-shards", "2"], {
      reject: false,
      env: { SLURM_CONF: path.join(folder, "no-such-slurm.conf") },
    });
    expect(merged.exitCode, merged.stderr).toBe(0);
    expect(merged.stderr).toContain("2 of 2 shard(s) finished before");
    expect(linesOf(merged.stdout).map((line) => [line.id, line.message])).toEqual(rows.map((row, position) => [row.id, position % 2 === 0 ? "PASS" : "PATCH FAILED"]));
  });

  it("a sharded run with a scripted model gives the unsharded run's outcomes, and merges the shards' actions into the user's library", async () => {
    const folder = await scratch();
    const replies = await demoReplies(path.resolve("tasks"));
    const outcomes = async (url: string, name: string, extra: string[], env: Record<string, string> = {}) => {
      const args = [cli, "run", "tasks", "--task", "sab/3", "--task", "resq/0_0", "--model", "scripted", "--base-url", url, "--api-key", "x", "--concurrency", "1", "--library", path.join(folder, `${name}.sqlite`), "--run-dir", path.join(folder, name), "--json", ...extra];
      const result = await execa("node", args, { reject: false, env });
      expect(result.exitCode, result.stderr).toBe(0);
      const end = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { type: string; tasks: Array<{ family: string; id: string; outcome: string; steps: number; actions_created: string[] }> };
      expect(end.type).toBe("run-end");
      using library = ActionStore.open(path.join(folder, `${name}.sqlite`));
      return {
        tasks: end.tasks.map(({ family, id, outcome, steps, actions_created }) => ({ family, id, outcome, steps, actions_created })),
        library: library.latest().map((action) => ({ name: action.name, version: action.version, hash: action.normalHash })),
        stderr: result.stderr,
      };
    };
    const localServer = await startScriptedOpenAIServer({ replies });
    const clusterServer = await startScriptedOpenAIServer({ replies });
    try {
      const local = await outcomes(localServer.url, "local", []);
      const sharded = await outcomes(clusterServer.url, "sharded", ["--slurm", "--slurm-shards", "2"], environment());
      expect(sharded.stderr).toMatch(/submitted job array \d+ with shard\(s\) 1, 2 of 2/);
      expect(sharded.tasks).toEqual(local.tasks);
      expect(local.tasks.some((task) => task.actions_created.length > 0)).toBe(true);
      expect(sharded.library).toEqual(local.library);
      expect(sharded.library.length).toBeGreaterThan(0);
      // Trajectories of every shard sit in the run's own folder, as in an unsharded run.
      for (const task of sharded.tasks) {
        expect(existsSync(path.join(folder, "sharded", "trajectories", task.family, task.id, "attempt-1.jsonl"))).toBe(true);
      }
    } finally {
      await localServer.close();
      await clusterServer.close();
    }
  }, 600_000);

  it("gives a shard up after its retries, reports the missing items and exits 1; the same command again submits only that shard", async () => {
    const folder = await scratch();
    const submissions = await writeSubmissions(folder);
    const runDirectory = path.join(folder, "run");
    const args = [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--concurrency", "1", "--run-dir", runDirectory, "--slurm", "--slurm-shards", "2", "--slurm-retries", "0"];
    const submitting = execa("node", args, { reject: false, env: environment() });
    const killed = await killFirstRunningElement();
    const shardIndex = Number(killed.split("_")[1]);
    const first = await submitting;
    expect(first.exitCode).toBe(1);
    expect(first.stderr).toContain(`shard ${shardIndex}/2: infrastructure failure`);
    expect(first.stderr).toContain("given up after 1 submission(s)");
    expect(first.stderr).toContain("2 item(s) have no result because their shard failed on the cluster");
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as DatasetRow[];
    const other = shardIndex === 1 ? [rows[1]!.id, rows[3]!.id] : [rows[0]!.id, rows[2]!.id];
    expect(linesOf(first.stdout).map((line) => line.id)).toEqual(other);
    const finishedRows = storeRows(path.join(runDirectory, "shards", `${3 - shardIndex}-of-2`, "results.sqlite"));

    const second = await execa("node", args, { reject: false, env: environment() });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toContain("1 of 2 shard(s) finished before: not submitted again");
    expect(second.stderr).toMatch(new RegExp(`submitted job array \\d+ with shard\\(s\\) ${shardIndex} of 2\\n`));
    expect(linesOf(second.stdout).map((line) => [line.id, line.message])).toEqual(rows.map((row, position) => [row.id, position % 2 === 0 ? "PASS" : "PATCH FAILED"]));
    // The shard that finished was not graded again: its rows are untouched.
    expect(storeRows(path.join(runDirectory, "shards", `${3 - shardIndex}-of-2`, "results.sqlite"))).toEqual(finishedRows);
  }, 600_000);

  it("doctor reports the cluster's partitions, and warns when Slurm's controller does not answer", async () => {
    const up = await execa("node", [cli, "doctor", "--json"], { reject: false, env: environment() });
    const checks = (JSON.parse(up.stdout) as { checks: Array<{ name: string; status: string; detail: string }> }).checks;
    expect(checks.find((check) => check.name === "slurm")).toMatchObject({ status: "ok", detail: expect.stringMatching(/22\.05.*partitions: debug\* \(up, 1 node\(s\)/) });
    const folder = await scratch();
    await writeFile(path.join(folder, "slurm.conf"), "ClusterName=nowhere\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=9\n");
    const down = await execa("node", [cli, "doctor", "--json"], { reject: false, env: { SLURM_CONF: path.join(folder, "slurm.conf") } });
    const slurm = (JSON.parse(down.stdout) as { checks: Array<{ name: string; status: string; fix?: string }> }).checks.find((check) => check.name === "slurm");
    expect(slurm).toMatchObject({ status: "warn", fix: expect.stringContaining("SLURM_CONF") });
  });

  it("validate --slurm reports what an unsharded validate reports", async () => {
    const folder = await scratch();
    const common = ["validate", "tasks/resq", "--json", "--concurrency", "1"];
    const local = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "local")], { reject: false });
    expect(local.exitCode, local.stderr).toBe(0);
    const sharded = await execa("node", [cli, ...common, "--run-dir", path.join(folder, "sharded"), "--slurm", "--slurm-shards", "2", "--slurm-array-limit", "1"], { reject: false, env: environment() });
    expect(sharded.exitCode, sharded.stderr).toBe(0);
    expect(sharded.stderr).toMatch(/submitted job array \d+ with shard\(s\) 1, 2 of 2/);
    const reports = (stdout: string) => (JSON.parse(stdout) as Array<{ id: string; family: string; valid: boolean; checks: Record<string, unknown> }>).map(({ id, family, valid, checks }) => ({ id, family, valid, checks: withoutTimings(checks) }));
    expect(reports(sharded.stdout)).toEqual(reports(local.stdout));
    expect(reports(sharded.stdout).every((report) => report.valid)).toBe(true);
  }, 600_000);

  it("Ctrl-C on the submitting command cancels its job array", async () => {
    const folder = await scratch();
    const submissions = await writeSubmissions(folder);
    const submitting = execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--json", "--run-dir", path.join(folder, "run"), "--slurm", "--slurm-shards", "4", "--slurm-array-limit", "1"], { reject: false, env: environment() });
    // The command's own job array: another test's jobs still leaving the queue must not be
    // taken for it (a SIGINT before the command has submitted would find no handler yet).
    let stderr = "";
    submitting.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let jobId: string | undefined;
    for (let poll = 0; poll < 600 && jobId === undefined; poll++) {
      jobId = /submitted job array (\d+)/.exec(stderr)?.[1];
      if (jobId === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(jobId, `no "submitted job array" line; stderr:\n${stderr}`).toBeDefined();
    const queued = async (): Promise<string[]> =>
      (await execa("squeue", ["--noheader", "--array", "--format=%i %T", "--jobs", jobId!], { env: environment(), reject: false })).stdout
        .split("\n")
        .filter((line) => line.trim() !== "");
    for (let poll = 0; poll < 600 && !(await queued()).some((line) => line.includes("RUNNING")); poll++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await queued()).length).toBeGreaterThan(0);
    submitting.kill("SIGINT");
    const result = await submitting;
    expect(result.exitCode, `signal ${result.signal}; stderr:\n${result.stderr}`).toBe(130);
    let left = await queued();
    // scancel is immediate; without it the other shards would wait their turn for many seconds.
    for (let poll = 0; poll < 15 && left.length > 0; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      left = await queued();
    }
    expect(left).toEqual([]);
  });
});
