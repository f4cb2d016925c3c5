// The `dynabox exec` command end to end, as a user runs it: the built CLI in a child process.

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { LABEL_RUN } from "../../src/sandbox/labels.js";
import { docker } from "./sandbox-fixture.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-cli-exec-");

const cli = path.resolve("dist/cli/main.js");

async function containersOfRun(runId: string, state?: string): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_RUN}=${runId}`] } });
  return containers.filter((container) => state === undefined || container.State === state).map((container) => container.Id);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

describe("dynabox exec", () => {
  it("prints the output of code run in a locked-down sandbox", async () => {
    const result = await execa("node", [cli, "exec", "-c", "print(1+1)"], { reject: false });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("2");
    expect(result.stderr).toMatch(/dynabox: ok in [\d.]+ ms/);
  });

  it("prints one JSON object with --json, and exits 124 on a timeout", async () => {
    const result = await execa("node", [cli, "exec", "--json", "--timeout", "1", "-c", "import time\ntime.sleep(30)"], {
      reject: false,
    });
    expect(result.exitCode).toBe(124);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(
      ["ok", "stdout", "stderr", "value", "error", "timed_out", "oom", "kernel_restarted", "wall_ms", "cpu_ms", "peak_mem_mb", "stdout_bytes", "stderr_bytes"].sort(),
    );
    expect(parsed).toMatchObject({ ok: false, timed_out: true });
  });

  it("names the problem when the input is wrong", async () => {
    const result = await execa("node", [cli, "exec", "/no/such/file.py"], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("can not read /no/such/file.py");
  });

  it("leaves no container after a kill -9 in the middle of a run, and clean removes leftovers", async () => {
    const runId = `test-kill-${randomUUID().slice(0, 8)}`;
    const child = spawn("node", [cli, "exec", "-c", "import time\ntime.sleep(600)"], {
      env: { ...process.env, DYNABOX_RUN_ID: runId },
      stdio: "ignore",
    });
    try {
      // Killed between create and start, a container could not remove itself (the next start
      // sweeps it); once it runs, the host is attached to its kernel.
      expect(await waitFor(async () => (await containersOfRun(runId, "running")).length === 1, 60_000)).toBe(true);
      child.kill("SIGKILL");
      // The kernel sees its stdin close when the host dies, exits, and AutoRemove takes the container.
      expect(await waitFor(async () => (await containersOfRun(runId)).length === 0, 20_000)).toBe(true);
    } finally {
      child.kill("SIGKILL");
      const clean = await execa("node", [cli, "clean", "--run", runId, "--json"], { reject: false });
      expect(clean.exitCode).toBe(0);
      expect(await containersOfRun(runId)).toEqual([]);
    }
  });

  it("refuses a --copy-out folder that is used, a file, or under /proc before running anything, and keeps what was there", async () => {
    const folder = await scratch();
    const used = path.join(folder, "used");
    await mkdir(used);
    await writeFile(path.join(used, "mine.txt"), "mine");
    const marker = "import time; time.sleep(120)";
    for (const [target, message] of [
      [used, /not empty; give a new or empty folder/],
      [path.join(used, "mine.txt"), /not a folder/],
      ["/proc/self/copy-out", /--copy-out: \/proc\/self\/copy-out is under \/proc, which holds no ordinary files; give a folder on a normal disk/],
    ] as const) {
      const started = performance.now();
      const result = await execa("node", [cli, "exec", "--copy-out", target, "-c", marker], { reject: false, timeout: 60_000 });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(performance.now() - started).toBeLessThan(30_000);
    }
    expect(await readdir(used)).toEqual(["mine.txt"]);
    expect(await readFile(path.join(used, "mine.txt"), "utf8")).toBe("mine");
  });

  it("copies the workspace out into a new folder, reporting links and odd names on one escaped line each", async () => {
    const folder = await scratch();
    const output = path.join(folder, "new", "output");
    const code = ["import os", "open('kept.txt', 'w').write('kept')", "os.symlink('/etc', 'link\\n\\x1b[31mred')"].join("\n");
    const result = await execa("node", [cli, "exec", "--copy-out", output, "-c", code], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await readdir(output)).toEqual(["kept.txt"]);
    expect(result.stderr).toContain("dynabox: not copied out: workspace/link\\x0a\\x1b[31mred (symbolic link to /etc;");
    expect(result.stderr).not.toContain("\x1b[31m");
  });

  it("prints the run's output even when the copy-out is refused, and leaves no partial folder", async () => {
    const folder = await scratch();
    const output = path.join(folder, "output");
    const code = ["import os", "os.makedirs('many')", "for index in range(100_001):", "    open(f'many/{index}', 'w').close()", "print('the output')"].join("\n");
    const result = await execa("node", [cli, "exec", "--copy-out", output, "-c", code], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("the output");
    expect(result.stderr).toMatch(/dynabox: nothing was copied out: the archive has more than 100000 entries/);
    expect(await readdir(folder)).toEqual([]);
  });

  it("adds what was copied out to the --json object", async () => {
    const output = path.join(await scratch(), "output");
    const result = await execa("node", [cli, "exec", "--json", "--copy-out", output, "-c", "import os\nopen('a.txt', 'w').write('abc')\nos.symlink('a.txt', 'b')"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { copy_out: unknown };
    expect(parsed.copy_out).toEqual({ folder: output, ok: true, files: 1, bytes: 3, skipped: [{ path: "workspace/b", reason: expect.stringContaining("symbolic link to a.txt") }] });
  });
});
