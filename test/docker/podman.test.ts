// dynabox against Podman's Docker-compatible API: the suite starts `podman system service` on a
// private socket with its own storage, copies the sandbox image there (docker save -> podman load,
// through dynabox's own image transfer), and runs `exec` and one grading through DOCKER_HOST.
// Everything it started is stopped and removed afterwards, also when a test fails.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImageOn } from "../../src/engines/image-transfer.js";
import { engineKind } from "../../src/engines/kind.js";
import { connectDocker } from "../../src/sandbox/docker.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const havePodman = existsSync("/usr/bin/podman") || existsSync("/usr/local/bin/podman");
if (!havePodman && process.env.CI) throw new Error("CI=true: podman is missing; .ci/run installs it with scripts/ensure-podman.sh");

let folder = "";
let service: ChildProcess | undefined;
let socket = "";

function podmanArgs(...rest: string[]): string[] {
  return ["--root", path.join(folder, "storage"), "--runroot", path.join(folder, "run"), ...rest];
}

async function hardOpenFilesLimit(): Promise<string> {
  const { stdout } = await execa("bash", ["-c", "ulimit -Hn"]);
  return stdout.trim();
}

describe.skipIf(!havePodman)("dynabox on Podman", () => {
  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), "dynabox-podman-"));
    socket = path.join(folder, "podman.sock");
    // Rootful Podman raises the open-files limit of each container to 1048576; where root may not
    // (a nested or restricted host) container start fails, so the limit is capped at the host's.
    const limit = await hardOpenFilesLimit();
    const config = path.join(folder, "containers.conf");
    await writeFile(config, `[containers]\ndefault_ulimits = ["nofile=${limit}:${limit}"]\n`);
    service = spawn("podman", podmanArgs("system", "service", "--time=0", `unix://${socket}`), {
      env: { ...process.env, CONTAINERS_CONF: config },
      stdio: "ignore",
      detached: true,
    });
    const podman = connectDocker({ socketPath: socket });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await podman.ping();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`podman system service did not answer on ${socket}`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    await ensureImageOn(docker, podman, image(), { targetName: `unix://${socket}` });
  }, 600_000);

  afterAll(async () => {
    if (service?.pid !== undefined) {
      try {
        process.kill(-service.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (folder) {
      // Unmounts and deletes the private storage (this suite's images and containers only).
      await execa("podman", podmanArgs("system", "reset", "--force"), { reject: false });
      await rm(folder, { recursive: true, force: true });
    }
  }, 120_000);

  it("is detected as Podman", async () => {
    expect((await engineKind(connectDocker({ socketPath: socket }))).kind).toBe("podman");
    const doctor = await execa("node", [cli, "doctor", "--json"], { env: { DOCKER_HOST: `unix://${socket}` }, reject: false });
    const report = JSON.parse(doctor.stdout) as { checks: { name: string; detail: string }[] };
    expect(report.checks.find((check) => check.name === "engine")?.detail).toMatch(/^Podman 4\./);
  });

  it("runs `exec` in a locked-down sandbox", async () => {
    const result = await execa(
      "node",
      [cli, "exec", "--json", "-c", "import os\nprint(os.getuid())\nopen('/etc/x', 'w')"],
      { env: { DOCKER_HOST: `unix://${socket}` }, reject: false },
    );
    const parsed = JSON.parse(result.stdout) as { ok: boolean; stdout: string; error: { name: string } };
    expect(parsed.stdout).toBe("1000\n");
    expect(parsed.ok).toBe(false);
    expect(parsed.error.name).toMatch(/OSError|PermissionError/);
    const network = await execa("node", [cli, "exec", "-c", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)"], {
      env: { DOCKER_HOST: `unix://${socket}` },
      reject: false,
    });
    expect(network.exitCode).toBe(1);
  });

  it("grades bundled RES-Q patches with the same verdicts as Docker: gold PASS, empty PATCH FAILED", async () => {
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { id: string; solution_patch: string }[];
    const submissions = path.join(folder, "submissions.jsonl");
    await writeFile(
      submissions,
      [{ id: rows[0]!.id, patch: rows[0]!.solution_patch }, { id: rows[1]!.id, patch: "" }].map((row) => JSON.stringify(row)).join("\n") + "\n",
    );
    const result = await execa(
      "node",
      [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(folder, "eval-run"), "--json"],
      { env: { DOCKER_HOST: `unix://${socket}` }, reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.id, line.success, line.message])).toEqual([
      [rows[0]!.id, true, "PASS"],
      [rows[1]!.id, false, "PATCH FAILED"],
    ]);
  });
});
