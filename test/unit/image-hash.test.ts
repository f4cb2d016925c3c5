import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import tar from "tar-stream";
import {
  acquireBuildLock,
  computeInputsHash,
  createBuildContext,
  listImageInputs,
  projectRoot,
  sandboxImageTag,
} from "../../src/sandbox/image.js";

let root: string;

function makeRoot(): string {
  const folder = mkdtempSync(join(tmpdir(), "dynabox-hash-"));
  writeFileSync(join(folder, "Dockerfile"), "FROM scratch\nCOPY sandbox/ /opt/dynabox/\n");
  mkdirSync(join(folder, "sandbox/lib"), { recursive: true });
  writeFileSync(join(folder, "sandbox/kernel.py"), "print('kernel')\n");
  writeFileSync(join(folder, "sandbox/lib/helpers.py"), "def helper():\n    return 1\n");
  return folder;
}

beforeEach(() => {
  root = makeRoot();
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("sandbox image tag", () => {
  it("has the form dynabox-sandbox:<16 hex> and is stable while nothing changes", () => {
    const tag = sandboxImageTag(root);
    expect(tag).toMatch(/^dynabox-sandbox:[0-9a-f]{16}$/);
    expect(sandboxImageTag(root)).toBe(tag);
    expect(computeInputsHash(root)).toMatch(/^[0-9a-f]{64}$/);
    expect(tag.endsWith(computeInputsHash(root).slice(0, 16))).toBe(true);
  });

  it("is the same for an identical copy in another folder", () => {
    const copy = mkdtempSync(join(tmpdir(), "dynabox-hash-copy-"));
    try {
      cpSync(root, copy, { recursive: true });
      expect(sandboxImageTag(copy)).toBe(sandboxImageTag(root));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("changes when the Dockerfile changes", () => {
    const before = sandboxImageTag(root);
    writeFileSync(join(root, "Dockerfile"), "FROM scratch\nCOPY sandbox/ /opt/dynabox/\nUSER 1000\n");
    expect(sandboxImageTag(root)).not.toBe(before);
  });

  it("changes when a sandbox file changes, is added, is renamed or becomes executable", () => {
    const tags = new Set([sandboxImageTag(root)]);
    writeFileSync(join(root, "sandbox/kernel.py"), "print('kernel v2')\n");
    tags.add(sandboxImageTag(root));
    writeFileSync(join(root, "sandbox/lib/more.py"), "x = 1\n");
    tags.add(sandboxImageTag(root));
    cpSync(join(root, "sandbox/lib/more.py"), join(root, "sandbox/lib/other.py"));
    rmSync(join(root, "sandbox/lib/more.py"));
    tags.add(sandboxImageTag(root));
    chmodSync(join(root, "sandbox/kernel.py"), 0o755);
    tags.add(sandboxImageTag(root));
    expect(tags.size).toBe(5);
  });

  it("ignores Python and pytest caches", () => {
    const before = sandboxImageTag(root);
    mkdirSync(join(root, "sandbox/__pycache__"));
    writeFileSync(join(root, "sandbox/__pycache__/kernel.cpython-311.pyc"), "junk");
    writeFileSync(join(root, "sandbox/lib/stray.pyc"), "junk");
    mkdirSync(join(root, "sandbox/.pytest_cache"));
    writeFileSync(join(root, "sandbox/.pytest_cache/state"), "junk");
    expect(sandboxImageTag(root)).toBe(before);
  });

  it("does not depend on files outside Dockerfile and sandbox/", () => {
    const before = sandboxImageTag(root);
    writeFileSync(join(root, "README.md"), "docs\n");
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src/index.ts"), "export {};\n");
    expect(sandboxImageTag(root)).toBe(before);
  });

  it("lists inputs in a stable order, Dockerfile first, and the build context holds exactly them", async () => {
    symlinkSync("kernel.py", join(root, "sandbox/entry.py"));
    const inputs = listImageInputs(root);
    expect(inputs.map((input) => input.relativePath)).toEqual([
      "Dockerfile",
      "sandbox/entry.py",
      "sandbox/kernel.py",
      "sandbox/lib/helpers.py",
    ]);
    const context = await createBuildContext(inputs);
    const extract = tar.extract();
    const entries: Array<{ name: string; type: string; uid: number; linkname: string | null | undefined }> = [];
    await new Promise<void>((resolve, reject) => {
      extract.on("entry", (header, stream, next) => {
        entries.push({ name: header.name, type: header.type ?? "file", uid: header.uid ?? -1, linkname: header.linkname });
        stream.on("end", next);
        stream.resume();
      });
      extract.on("finish", resolve);
      extract.on("error", reject);
      extract.end(context);
    });
    expect(entries.map((entry) => entry.name)).toEqual(inputs.map((input) => input.relativePath));
    expect(entries.every((entry) => entry.uid === 0)).toBe(true);
    expect(entries[1]).toMatchObject({ type: "symlink", linkname: "kernel.py" });
  });

  it("finds the real project root from the module's location and hashes it", () => {
    const found = projectRoot();
    expect(existsSync(join(found, "Dockerfile"))).toBe(true);
    expect(sandboxImageTag()).toMatch(/^dynabox-sandbox:[0-9a-f]{16}$/);
  });
});

describe("image build lock", () => {
  it("is exclusive, and free again after release", async () => {
    const path = join(root, "build.lock");
    const first = await acquireBuildLock({ path });
    const controller = new AbortController();
    const waits: string[] = [];
    const second = acquireBuildLock({ path, signal: controller.signal, pollMilliseconds: 20, onWait: (line) => waits.push(line) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await expect(second).rejects.toThrow();
    expect(waits).toHaveLength(1);
    expect(waits[0]).toContain(String(process.pid));
    first.release();
    expect(existsSync(path)).toBe(false);
    const third = await acquireBuildLock({ path });
    third.release();
  });

  it("breaks a lock whose owner died", async () => {
    const path = join(root, "build.lock");
    const child = spawnSync(process.execPath, ["-e", ""]);
    expect(child.status).toBe(0);
    writeFileSync(path, JSON.stringify({ pid: child.pid, startTime: "1", host: (await import("node:os")).hostname() }));
    const lock = await acquireBuildLock({ path, pollMilliseconds: 20 });
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it("waits for a live owner and gets the lock once it is released", async () => {
    const path = join(root, "build.lock");
    const first = await acquireBuildLock({ path });
    setTimeout(() => first.release(), 150);
    const started = Date.now();
    const second = await acquireBuildLock({ path, pollMilliseconds: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    second.release();
  });
});
