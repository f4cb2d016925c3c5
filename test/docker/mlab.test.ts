// The mlab family against real Docker: the prepared-task cache, the baseline measured once,
// every bundled task's proof of validity, the agent hooks and the grader's verdicts.

import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import type { GradingContext } from "../../src/grading/context.js";
import { mlabBaseline, mlabFamily, prepareMlabTask, submissionFromFolder } from "../../src/families/mlab/grader.js";
import { discoverMlabTasks, type MlabTask } from "../../src/families/mlab/task.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

const BUNDLED = path.resolve("tasks/mlab");

/** A Docker client that counts the containers it creates. */
function countingDocker(): { client: Dockerode; created: () => number } {
  let created = 0;
  const client = Object.create(docker, {
    createContainer: {
      value: (...args: Parameters<Dockerode["createContainer"]>) => {
        created += 1;
        return docker.createContainer(...args);
      },
    },
  }) as Dockerode;
  return { client, created: () => created };
}

let cacheDirectory: string;
let tasks: MlabTask[];
const byId = (id: string): MlabTask => tasks.find((task) => task.id === id)!;
const context = (client: Dockerode = docker): GradingContext => ({ docker: client, sandboxImage: image(), cacheDirectory, runId: "test-mlab" });

beforeAll(async () => {
  cacheDirectory = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-cache-"));
  tasks = await discoverMlabTasks(BUNDLED);
});
afterAll(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

describe("mlab prepare and baseline", () => {
  it("prepares a task once, in the cache, without touching the task folder", async () => {
    const task = byId("digits-mini");
    const before = (await readdir(path.join(task.directory, "scripts"))).sort();
    const first = countingDocker();
    const prepared = await prepareMlabTask(context(first.client), task);
    expect(first.created()).toBe(1);
    expect(prepared.directory.startsWith(path.join(cacheDirectory, "mlab", "digits-mini-"))).toBe(true);
    expect(await readFile(path.join(prepared.scripts, "prepared"), "utf8")).toBe("success");
    expect((await stat(path.join(prepared.scripts, "answer.csv"))).size).toBeGreaterThan(0);
    expect((await stat(path.join(prepared.env, "data", "train.csv"))).size).toBeGreaterThan(0);
    expect(Object.keys(prepared.readOnlyFiles).sort()).toEqual(["data/test.csv", "data/train.csv", "data_description.txt"]);
    expect((await readdir(path.join(task.directory, "scripts"))).sort()).toEqual(before);

    const second = countingDocker();
    expect(await prepareMlabTask(context(second.client), task)).toEqual(prepared);
    expect(second.created()).toBe(0);
  });

  it("shares one preparation between concurrent calls", async () => {
    const task = byId("house-price-mini");
    const counting = countingDocker();
    const [first, second] = await Promise.all([prepareMlabTask(context(counting.client), task), prepareMlabTask(context(counting.client), task)]);
    expect(first).toEqual(second);
    expect(counting.created()).toBe(1);
    const staging = (await readdir(path.join(cacheDirectory, "mlab"))).filter((name) => name.startsWith("."));
    expect(staging).toEqual([]);
  });

  it("measures the baseline once and keeps it in the cache", async () => {
    const task = byId("wine-mini");
    const first = countingDocker();
    const measured = await mlabBaseline(context(first.client), task);
    expect(measured.source).toBe("measured");
    expect(measured.baseline).toBeCloseTo(0.6667, 3);
    expect(first.created()).toBe(2); // prepare, then the starter run and its scoring in one container
    const second = countingDocker();
    expect(await mlabBaseline(context(second.client), task)).toEqual(measured);
    expect(second.created()).toBe(0);
  });

  it("uses a fixed baseline from task.json without running anything", async () => {
    const fixed = countingDocker();
    const task = { ...byId("house-price-mini"), baseline: 1e10 };
    expect(await mlabBaseline(context(fixed.client), task)).toEqual({ baseline: 1e10, source: "task.json" });
    expect(fixed.created()).toBe(0);
  });
});

describe("mlab validate", () => {
  it.each(["digits-mini", "house-price-mini", "sentiment-mini", "wine-mini"])("%s: starter = baseline, reference succeeds", async (id) => {
    const task = byId(id);
    const started = performance.now();
    const result = await mlabFamily.validate(context(), task);
    const seconds = (performance.now() - started) / 1000;
    expect(result.checks.problems).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.checks.starter_score).toBe(result.checks.baseline);
    expect(result.checks.reference_success).toBe(true);
    expect(result.checks.reference_improvement as number).toBeGreaterThan(0.1);
    process.stderr.write(`[mlab validate] ${id}: ${JSON.stringify(result.checks)} (${seconds.toFixed(1)} s)\n`);
  });

  it("reports a task whose reference does not beat the baseline", async () => {
    const task = { ...byId("wine-mini"), baseline: 0.95 };
    const result = await mlabFamily.validate(context(), task);
    expect(result.valid).toBe(false);
    expect(result.checks).toMatchObject({ baseline: 0.95, baseline_source: "task.json", reference_success: false });
    expect(String(result.checks.problems)).toContain("not more than 10 %");
  });
});

describe("mlab agent hooks and grading", () => {
  it("gives the agent the prepared env/ only, and grades what it leaves", async () => {
    const task = byId("sentiment-mini");
    const agent = await sandbox();
    await mlabFamily.setUpWorkspace(context(), task, agent);
    const listing = await agent.shell("find . -type f | sort");
    expect(listing.stdout.split("\n").filter(Boolean)).toEqual(["./data_description.txt", "./test.csv", "./train.csv", "./train.py"]);

    const untouched = await mlabFamily.grade(context(), task, await mlabFamily.collectSubmission(context(), task, agent));
    expect(untouched).toMatchObject({ passed: false, score: null });
    expect(untouched.upstream).toMatchObject({ task: "sentiment-mini", score: -1, success: false, improvement: null });
    expect(String(untouched.upstream.error)).toContain("submission.csv");

    expect((await agent.shell("python3 -u train.py")).exitCode).toBe(0);
    const starter = await mlabFamily.grade(context(), task, await mlabFamily.collectSubmission(context(), task, agent));
    expect(starter.passed).toBe(false);
    expect(starter.upstream).toMatchObject({ improvement: 0, success: false, error: null });
    expect(starter.score).toBe(starter.upstream.baseline);

    await agent.putDirectory(path.join(task.directory, "solution"));
    expect((await agent.shell("python3 -u train.py")).exitCode).toBe(0);
    const solved = await mlabFamily.grade(context(), task, await mlabFamily.collectSubmission(context(), task, agent));
    expect(solved.passed).toBe(true);
    expect(solved.upstream.improvement as number).toBeGreaterThan(0.1);
    expect(Object.keys(solved.upstream).sort()).toEqual(["baseline", "error", "improvement", "score", "success", "task"]);
  });

  it("grades a host folder; lower is better for house prices", async () => {
    const task = byId("house-price-mini");
    const prepared = await prepareMlabTask(context(), task);
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-sub-"));
    try {
      await cp(prepared.env, folder, { recursive: true });
      const answers = (await readFile(path.join(prepared.scripts, "answer.csv"), "utf8")).trim().split("\n");
      // The exact answers: MAE 0 is a score <= 0, which upstream counts as invalid.
      await writeFile(path.join(folder, "submission.csv"), answers.join("\n") + "\n");
      const perfect = await mlabFamily.grade(context(), task, await submissionFromFolder(folder));
      expect(perfect.upstream).toMatchObject({ score: -1, success: false });
      expect(String(perfect.upstream.error)).toContain("<= 0");
      // Off by 1000 everywhere: MAE 1000, far better than the baseline.
      const [header, ...rows] = answers;
      const shifted = rows.map((row) => {
        const [id, price] = row.split(",");
        return `${id},${Number(price) + 1000}`;
      });
      await writeFile(path.join(folder, "submission.csv"), [header, ...shifted].join("\n") + "\n");
      const good = await mlabFamily.grade(context(), task, await submissionFromFolder(folder));
      expect(good.score).toBeCloseTo(1000, 6);
      expect(good.passed).toBe(true);
      expect(good.upstream.improvement as number).toBeGreaterThan(0.9);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("says why a task without a usable baseline can not be graded", async () => {
    const copy = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-task-"));
    try {
      const folder = path.join(copy, "wine-broken");
      await cp(byId("wine-mini").directory, folder, { recursive: true });
      await writeFile(path.join(folder, "env", "train.py"), "import sys\nsys.exit('no model today')\n");
      const [task] = await discoverMlabTasks(folder);
      const error = await mlabBaseline(context(), task!).catch((caught: unknown) => caught);
      expect(UserError.isInstance(error)).toBe(true);
      expect((error as UserError).message).toMatch(/no valid score \(train\.py exited with 1: no model today\).*set "baseline" in scripts\/task\.json/s);
      const validation = await mlabFamily.validate(context(), task!);
      expect(validation.valid).toBe(false);
      expect(validation.checks).toMatchObject({ baseline: null, starter_score: null });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
