// Rootless Podman for real: `podman system service` run by an unprivileged user (subordinate ids
// through uidmap, its own XDG_RUNTIME_DIR, storage and socket; scripts/rootless-podman.sh).
// Containers do start rootless here, but on a cgroup v1 host rootless Podman can not set cgroup
// limits and silently drops them; this suite shows that (a container asked for 64 MiB gets no
// memory limit) and that dynabox therefore refuses such an engine, with doctor saying why and what
// to do. On a cgroup v2 host with delegated controllers it instead grades through the engine.
// The service and its pause process are stopped and the folder removed afterwards.

import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImageOn } from "../../src/engines/image-transfer.js";
import { engineKind, limitsBlocker } from "../../src/engines/kind.js";
import { BOOTSTRAPPED_BASE_IMAGE, DEBIAN_BASE_IMAGE } from "../../src/sandbox/base-image.js";
import { connectDocker, imageExists } from "../../src/sandbox/docker.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const script = path.resolve("scripts/rootless-podman.sh");
const havePodman = existsSync("/usr/bin/podman") || existsSync("/usr/local/bin/podman");
if (!havePodman && process.env.CI) throw new Error("CI=true: podman is missing; .ci/run installs it with scripts/ensure-podman.sh");

let folder = "";
let socket = "";

describe.skipIf(!havePodman)("rootless Podman", () => {
  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), "dynabox-rootless-"));
    // The unprivileged user must reach its folder.
    await chmod(folder, 0o755);
    const started = await execa("bash", [script, "start", folder], { reject: false });
    if (started.exitCode !== 0) throw new Error(`rootless podman did not start: ${started.stderr}`);
    socket = started.stdout.trim();
  }, 180_000);

  afterAll(async () => {
    if (folder) {
      await execa("bash", [script, "stop", folder], { reject: false });
      await rm(folder, { recursive: true, force: true });
    }
  }, 120_000);

  it("is Podman, run rootless by an unprivileged user with subordinate ids", async () => {
    const rootless = connectDocker({ socketPath: socket });
    expect((await engineKind(rootless)).kind).toBe("podman");
    const { stdout } = await execa("ps", ["-o", "user=", "-p", (await readFile(path.join(folder, "service.pid"), "utf8")).trim()]);
    expect(stdout.trim()).toBe("root"); // setsid and runuser; the service itself is the user's:
    const users = await execa("ps", ["-u", "dynabox-rootless", "-o", "args="]);
    expect(users.stdout).toContain(`system service --time=0 unix://${socket}`);
  });

  it("on cgroup v1 drops a container's limits, so dynabox refuses the engine and doctor says why; on cgroup v2 it grades", async () => {
    const rootless = connectDocker({ socketPath: socket });
    const cgroupVersion = ((await rootless.info()) as { CgroupVersion?: string }).CgroupVersion;
    const blocker = await limitsBlocker(rootless);
    if (cgroupVersion === "1") {
      // What the refusal rests on: a container asked for 64 MiB runs with no memory limit at all.
      const small = (await imageExists(docker, BOOTSTRAPPED_BASE_IMAGE)) ? BOOTSTRAPPED_BASE_IMAGE : DEBIAN_BASE_IMAGE;
      await ensureImageOn(docker, rootless, small, { targetName: socket });
      const container = await rootless.createContainer({
        Image: small,
        Cmd: ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"],
        HostConfig: { Memory: 64 * 2 ** 20, NetworkMode: "none" },
      });
      try {
        await container.start();
        await container.wait();
        const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
        expect(Number(logs.replace(/[^\d\n]/g, "").trim().split("\n").at(-1))).toBeGreaterThan(2 ** 40);
      } finally {
        await container.remove({ force: true }).catch(() => undefined);
      }
      expect(blocker).toMatch(/rootless on a cgroup v1 host/);
      const doctor = await execa("node", [cli, "doctor", "--json"], { env: { DOCKER_HOST: `unix://${socket}` }, reject: false });
      const report = JSON.parse(doctor.stdout) as { ready: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
      const engine = report.checks.find((check) => check.name === "engine");
      expect(engine?.status).toBe("fail");
      expect(engine?.detail).toMatch(/^Podman .*: the engine runs rootless on a cgroup v1 host/);
      expect(engine?.fix).toMatch(/rootful engine .* cgroup v2/);
      expect(report.ready).toBe(false);
      // A batch with it as an engine stops before any task, with the reason.
      const submissions = path.join(folder, "submissions.jsonl");
      await writeFile(submissions, `${JSON.stringify({ id: "0_0", patch: "" })}\n`);
      const refused = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(folder, "run"), "--engine", `unix://${socket}`], { reject: false });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain(`engine unix://${socket}: the engine runs rootless on a cgroup v1 host`);
    } else {
      expect(blocker).toBeUndefined();
      await ensureImageOn(docker, rootless, image(), { targetName: socket });
      const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { id: string; solution_patch: string }[];
      const submissions = path.join(folder, "submissions.jsonl");
      await writeFile(submissions, `${JSON.stringify({ id: rows[0]!.id, patch: rows[0]!.solution_patch })}\n`);
      const graded = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(folder, "run"), "--json"], {
        env: { DOCKER_HOST: `unix://${socket}` },
        reject: false,
      });
      expect(graded.exitCode, graded.stderr).toBe(0);
      expect(JSON.parse(graded.stdout.trim().split("\n")[0]!)).toMatchObject({ id: rows[0]!.id, message: "PASS" });
    }
  }, 300_000);
});
