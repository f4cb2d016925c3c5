// mlab task environments against real Docker: a copy of wine-mini whose task.json names the
// Debian package jq, and whose prepare.py and eval.py call it. Prepare, baseline, validation,
// grading and the agent's sandbox all run in the task image; a second call builds nothing.

import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withGraderSandbox, type GradingContext } from "../../src/grading/context.js";
import { mlabFamily, mlabTaskImage } from "../../src/families/mlab/grader.js";
import { loadMlabTask, type MlabTask } from "../../src/families/mlab/task.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

/** A Docker client that counts the builds and containers it starts. */
function countingDocker(): { client: Dockerode; builds: () => number; containers: () => number } {
  let builds = 0;
  let containers = 0;
  const client = Object.create(docker, {
    buildImage: {
      value: (...args: Parameters<Dockerode["buildImage"]>) => {
        builds += 1;
        return docker.buildImage(...args);
      },
    },
    createContainer: {
      value: (...args: Parameters<Dockerode["createContainer"]>) => {
        containers += 1;
        return docker.createContainer(...args);
      },
    },
  }) as Dockerode;
  return { client, builds: () => builds, containers: () => containers };
}

/** Python that fails unless jq is installed (it computes 1+1 with jq). */
const NEEDS_JQ = [
  "import subprocess as _subprocess",
  "assert _subprocess.run(['jq', '-n', '1+1'], capture_output=True, text=True, check=True).stdout.strip() == '2'",
  "",
].join("\n");

let root: string;
let task: MlabTask;
let plain: MlabTask;
const context = (client: Dockerode = docker, onProgress?: (line: string) => void): GradingContext => ({
  docker: client,
  sandboxImage: image(),
  cacheDirectory: path.join(root, "cache"),
  runId: "test-mlab-environment",
  ...(onProgress ? { onProgress } : {}),
});

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-environment-"));
  const folder = path.join(root, "wine-jq");
  await cp(path.resolve("tasks/mlab/wine-mini"), folder, {
    recursive: true,
    filter: (source) => !["prepared", "__pycache__"].includes(path.basename(source)),
  });
  await cp(path.resolve("tasks/mlab/wine-mini"), path.join(root, "wine-plain"), { recursive: true });
  for (const script of ["prepare.py", "eval.py"]) {
    const file = path.join(folder, "scripts", script);
    await writeFile(file, NEEDS_JQ + (await readFile(file, "utf8")));
  }
  await writeFile(
    path.join(folder, "scripts", "task.json"),
    JSON.stringify({ direction: "higher", baseline: null, timeout_seconds: 300, environment: { debian_packages: ["jq"] } }),
  );
  task = await loadMlabTask(folder);
  plain = await loadMlabTask(path.join(root, "wine-plain"));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe("mlab task environments", () => {
  it("the sandbox image alone has no jq (so the rest proves the task image is used)", async () => {
    const run = await withGraderSandbox(context(), {}, (grader) => grader.shell("command -v jq"));
    expect(run.exitCode).not.toBe(0);
  });

  it("a task without an environment runs in the sandbox image and builds nothing", async () => {
    expect(plain.environment).toBeNull();
    const counting = countingDocker();
    expect(await mlabFamily.agentImage?.(context(counting.client), plain)).toBe(image());
    expect(counting.builds()).toBe(0);
  });

  it("validates with jq in every container: prepare, starter, reference and scoring", async () => {
    expect(task.environment).toEqual({ debianPackages: ["jq"] });
    const lines: string[] = [];
    const result = await mlabFamily.validate(context(docker, (line) => lines.push(line)), task);
    expect(result.valid, JSON.stringify({ checks: result.checks, lines: lines.slice(-30) }, null, 2)).toBe(true);
    expect(result.checks).toMatchObject({ baseline_source: "measured", reference_success: true });

    const tag = await mlabTaskImage(context(), task);
    expect(tag).toMatch(/^dynabox-task:[0-9a-f]{16}$/);
    const inspected = await docker.getImage(tag).inspect();
    expect(inspected.Config.User).toBe("1000:1000");
    expect(inspected.Config.Labels?.["dynabox.task-environment"]).toBe(tag.split(":")[1]);
  });

  it("reuses the image: a second call builds nothing", async () => {
    const counting = countingDocker();
    const lines: string[] = [];
    const first = await mlabTaskImage(context(counting.client, (line) => lines.push(line)), task);
    expect(await mlabTaskImage(context(counting.client), task)).toBe(first);
    expect(counting.builds()).toBe(0);
    expect(counting.containers()).toBe(0);
    expect(lines.some((line) => line.startsWith("building"))).toBe(false);
  });

  it("gives the agent the task image, and grades its work there", async () => {
    const tag = await mlabFamily.agentImage!(context(), task);
    expect(tag).toBe(await mlabTaskImage(context(), task));
    const agent = await sandbox({ image: tag });
    expect((await agent.shell("jq -n '2*3'")).stdout.trim()).toBe("6");
    await mlabFamily.setUpWorkspace(context(), task, agent);
    await agent.putDirectory(path.join(task.directory, "solution"));
    expect((await agent.shell("python3 -u train.py")).exitCode).toBe(0);
    const counting = countingDocker();
    const verdict = await mlabFamily.grade(context(counting.client), task, await mlabFamily.collectSubmission(context(), task, agent));
    expect(verdict.upstream).toMatchObject({ error: null, success: true });
    expect(counting.builds()).toBe(0);
    expect(counting.containers()).toBe(1);
  });
});
