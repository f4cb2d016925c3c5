import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { EnvironmentError } from "../../src/errors.js";
import { assertDockerReachable, connectDocker } from "../../src/sandbox/docker.js";
import { packFiles } from "../../src/sandbox/archive.js";
import { LABEL_INPUTS, buildImage, computeInputsHash, ensureSandboxImage, sandboxImageTag } from "../../src/sandbox/image.js";
import { LABEL_MANAGED } from "../../src/sandbox/labels.js";

const docker = connectDocker();

describe("the Docker engine check", () => {
  it("reports the engine's version", async () => {
    const engine = await assertDockerReachable(docker);
    expect(engine.version).toMatch(/^\d+\.\d+/);
    expect(engine.apiVersion).toMatch(/^1\.\d+$/);
  });

  it("fails fast, with the fix, when the socket does not exist", async () => {
    const missing = connectDocker({ socketPath: "/nonexistent/docker.sock" });
    const started = Date.now();
    const error = await assertDockerReachable(missing).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).code).toBe("DYNABOX_DOCKER_UNAVAILABLE");
    expect((error as EnvironmentError).message).toContain("scripts/ensure-docker.sh");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("gives up after its timeout on an engine that never answers", async () => {
    // A non-routable address: the connection neither succeeds nor is refused.
    const silent = connectDocker({ host: "10.255.255.1", port: 2375, protocol: "http" });
    const started = Date.now();
    const error = await assertDockerReachable(silent, undefined, 1_000).catch((caught: unknown) => caught);
    expect((error as EnvironmentError).code).toBe("DYNABOX_DOCKER_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("ensureSandboxImage", () => {
  const tag = inject("sandboxImage");

  it("built the image for the current inputs, labelled with their hash", async () => {
    expect(tag).toBe(sandboxImageTag());
    const info = await docker.getImage(tag).inspect();
    expect(info.Config.Labels?.[LABEL_INPUTS]).toBe(computeInputsHash());
    expect(info.Config.Labels?.[LABEL_MANAGED]).toBe("true");
    expect(info.Config.User).toBe("1000:1000");
  });

  it("reuses the image: a second call builds nothing and is fast", async () => {
    const lines: string[] = [];
    const result = await ensureSandboxImage(docker, { onProgress: (line) => lines.push(line) });
    expect(result).toMatchObject({ tag, built: false });
    expect(result.seconds).toBeLessThan(5);
    expect(lines).toEqual([]);
  });

  it("serves concurrent callers without building", async () => {
    const results = await Promise.all([ensureSandboxImage(docker), ensureSandboxImage(docker), ensureSandboxImage(docker)]);
    expect(results.map((result) => result.built)).toEqual([false, false, false]);
  });

  it("names the failing step when a build fails", async () => {
    const root = mkdtempSync(join(tmpdir(), "dynabox-broken-"));
    try {
      writeFileSync(join(root, "Dockerfile"), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo about to fail && exit 7\n");
      mkdirSync(join(root, "sandbox"));
      writeFileSync(join(root, "sandbox/kernel.py"), "");
      const error = await ensureSandboxImage(docker, { root }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(EnvironmentError);
      expect((error as EnvironmentError).code).toBe("DYNABOX_IMAGE_BUILD_FAILED");
      expect((error as EnvironmentError).message).toContain("RUN echo about to fail && exit 7");
      expect((error as EnvironmentError).message).toContain("about to fail");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("holds the Python data stack, runnable as the sandbox user", async () => {
    const container = await docker.createContainer({
      Image: tag,
      Entrypoint: ["python3", "-c", "import numpy, pandas, scipy, sklearn, matplotlib, os; print(os.getuid())"],
      HostConfig: { NetworkMode: "none" },
    });
    try {
      await container.start();
      const outcome = await container.wait();
      const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
      expect(outcome.StatusCode, logs).toBe(0);
      expect(logs).toContain("1000");
    } finally {
      await container.remove({ force: true });
    }
  });
});

describe("buildImage", () => {
  const base = inject("sandboxImage");
  const contextOf = (dockerfile: string): Promise<Buffer> => packFiles([{ path: "Dockerfile", content: dockerfile }]);
  // A fresh instruction each time, so the layer cache can not answer it.
  const slow = (): string => `FROM ${base}\nRUN echo ${Date.now()}-${Math.random()} && sleep 60\n`;

  it("stops a build that outlives its timeout, and says so", async () => {
    const started = Date.now();
    const error = await buildImage(docker, { context: await contextOf(slow()), tag: "dynabox-test-timeout:never", timeoutMs: 1_500 }).catch(
      (caught: unknown) => caught,
    );
    expect((error as EnvironmentError).code).toBe("DYNABOX_IMAGE_BUILD_FAILED");
    expect((error as Error).message).toMatch(/took longer than 1\.5 s and was stopped/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("rethrows the caller's abort reason", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop now")), 1_000);
    const error = await buildImage(docker, { context: await contextOf(slow()), tag: "dynabox-test-abort:never", signal: controller.signal }).catch(
      (caught: unknown) => caught,
    );
    expect((error as Error).message).toBe("stop now");
  });
});
