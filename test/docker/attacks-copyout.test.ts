// Attacks through archives that come out of a sandbox (issue 7, items 1, 3, 10, 12): hostile code
// shapes the workspace so that copying it to the host, or into another container, writes where
// it must not, exhausts the host, or loses files. Each test asserts the copy stayed inside a
// canary folder the test made (never real system paths) and that the sandbox still works.

import { cp, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { prepareMlabTask } from "../../src/families/mlab/grader.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { discoverMlabTasks } from "../../src/families/mlab/task.js";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { temporaryFolders } from "../temporary-folders.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

const canaryFolder = temporaryFolders("dynabox-copyout-attack-");
const cli = path.resolve("dist/cli/main.js");

async function expectHealthy(box: Sandbox): Promise<void> {
  expect(await box.exec("sum(range(10))")).toMatchObject({ ok: true, value: "45" });
}

async function cell(box: Sandbox, lines: string[]): Promise<void> {
  const result = await box.exec(lines.join("\n"), { timeoutSeconds: 120 });
  expect(result.error).toBeNull();
}

/** Every entry of a tar archive: type and name. */
async function entriesOf(archive: Buffer): Promise<{ type: string; name: string }[]> {
  const entries: { type: string; name: string }[] = [];
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    entries.push({ type: header.type ?? "file", name: header.name });
    body.on("end", next);
    body.resume();
  });
  await new Promise((resolve, reject) => {
    extract.on("finish", () => resolve(undefined));
    extract.on("error", reject);
    extract.end(archive);
  });
  return entries;
}

/** Lists a folder inside a sandbox (a cell, so it sees the container's own root). */
async function listing(box: Sandbox, folder: string): Promise<string> {
  const result = await box.exec(`sorted(__import__('os').listdir(${JSON.stringify(folder)}))`);
  expect(result.error).toBeNull();
  return result.value ?? "";
}

describe("archives out of a sandbox", () => {
  it("1: a link chain plus backslash names writes nothing outside the copy-out folder", async () => {
    const box = await sandbox();
    // d/0 -> .. is the copy's root, d/a -> 0/.. its parent, d/b -> a/.. the parent's parent: each
    // link looks inside on its own. A later name `d\b\escaped.txt` is one name in the sandbox,
    // but a host that reads backslashes as separators writes it through the chain.
    await cell(box, [
      "import os",
      "os.makedirs('out/d')",
      "os.symlink('..', 'out/d/0')",
      "os.symlink('0/..', 'out/d/a')",
      "os.symlink('a/..', 'out/d/b')",
      "os.symlink('/', 'out/d/root')",
      "for name in ['d\\\\b\\\\escaped.txt', 'd\\\\a\\\\escaped.txt', 'd\\\\0\\\\escaped.txt', 'd\\\\root\\\\escaped.txt']:",
      "    open('out/' + name, 'w').write('escaped')",
      "open('out/kept.txt', 'w').write('kept')",
    ]);
    const canary = await canaryFolder();
    const destination = path.join(canary, "level1", "out");
    await mkdir(path.dirname(destination));
    const report = await box.copyOut("/workspace/out", destination);
    expect(await readdir(canary)).toEqual(["level1"]);
    expect(await readdir(path.join(canary, "level1"))).toEqual(["out"]);
    expect((await readdir(destination)).sort()).toEqual(["d", "kept.txt"]);
    expect(await readdir(path.join(destination, "d"))).toEqual([]);
    expect(await readFile(path.join(destination, "kept.txt"), "utf8")).toBe("kept");
    expect(report.skipped.filter((entry) => entry.reason.includes("backslash"))).toHaveLength(4);
    expect(report.skipped.filter((entry) => entry.reason.includes("link to"))).toHaveLength(4);
    await expectHealthy(box);
  });

  it("3: a folder swapped for a link while the workspace is snapshotted never reaches the grader's root", async () => {
    const agent = await sandbox();
    // A thread of the agent's kernel swaps w/sub for a link to /opt and back as fast as it can
    // while the host takes snapshots.
    await cell(agent, [
      "import os, threading",
      "os.makedirs('w/sub')",
      "for index in range(200):",
      "    open(f'w/sub/planted{index}.txt', 'w').write('planted')",
      "def race():",
      "    while True:",
      "        try:",
      "            os.rename('w/sub', 'w/real')",
      "            os.symlink('/opt', 'w/sub')",
      "            os.unlink('w/sub')",
      "            os.rename('w/real', 'w/sub')",
      "        except OSError:",
      "            pass",
      "threading.Thread(target=race, daemon=True).start()",
    ]);
    const grader = await sandbox();
    const optBefore = await listing(grader, "/opt");
    for (let attempt = 0; attempt < 15; attempt += 1) {
      const archive = await agent.snapshot();
      const entries = await entriesOf(archive);
      expect(entries.filter((entry) => entry.type !== "file" && entry.type !== "directory")).toEqual([]);
      // Frozen, the workspace is in one state: the 200 files are under w/sub or w/real, once each.
      expect(entries.filter((entry) => /planted\d+\.txt$/.test(entry.name))).toHaveLength(200);
      await grader.restoreSnapshot(archive);
    }
    expect(await listing(grader, "/opt")).toBe(optBefore);
    await expectHealthy(agent);
    await expectHealthy(grader);
  });

  it("3: what the agent left running is stopped before its workspace is collected", async () => {
    const agent = await sandbox();
    await cell(agent, [
      "import subprocess",
      // Each count is renamed into place, so a reader never sees a half-written file.
      "subprocess.Popen(['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /workspace/tick.new; mv /workspace/tick.new /workspace/tick; done'], start_new_session=True)",
    ]);
    const tick = async (): Promise<string> => (await agent.shell("until [ -s /workspace/tick ]; do sleep 0.05; done; cat /workspace/tick")).stdout;
    const before = await tick();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await tick()).not.toBe(before);
    await agent.stopUserProcesses();
    const stopped = await tick();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await tick()).toBe(stopped);
    await expectHealthy(agent);
  });

  it("3: a hand-made archive with a link to an absolute path and entries below it does not write through it", async () => {
    const pack = tar.pack();
    pack.entry({ name: "sub", type: "symlink", linkname: "/opt" });
    pack.entry({ name: "sub/planted.pth", type: "file" }, "import os");
    pack.entry({ name: "ok.txt", type: "file" }, "fine");
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    const grader = await sandbox();
    const optBefore = await listing(grader, "/opt");
    await grader.restoreSnapshot(Buffer.concat(chunks));
    expect(await listing(grader, "/opt")).toBe(optBefore);
    expect((await grader.exec("open('/workspace/ok.txt').read()")).value).toBe("'fine'");
    expect((await grader.exec("import os; os.path.lexists('/workspace/sub')")).value).toBe("False");
  });

  it("10 and 12: more entries than the cap fail before anything is written, everywhere", async () => {
    const box = await sandbox();
    await cell(box, ["import os", "os.makedirs('many')", "for index in range(100_500):", "    open(f'many/{index}', 'w').close()"]);
    const canary = await canaryFolder();
    const started = performance.now();
    await expect(box.copyOut("/workspace/many", path.join(canary, "out"))).rejects.toThrow(/more than 100000 entries/);
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(await readdir(canary)).toEqual([]);
    await expect(box.readFiles("/workspace/many")).rejects.toThrow(/more than 100000 entries/);
    await expect(box.snapshot()).rejects.toThrow(/more than 100000 entries/);
    await expectHealthy(box);
  });

  it("10: a sparse file stays sparse on the host, and a refused one leaves nothing behind", async () => {
    const box = await sandbox();
    await cell(box, [
      "import os",
      "os.makedirs('out')",
      "with open('out/sparse.bin', 'wb') as handle:",
      "    handle.truncate(768 * 1024 * 1024)",
      "    handle.seek(768 * 1024 * 1024 - 3)",
      "    handle.write(b'end')",
    ]);
    const canary = await canaryFolder();
    const destination = path.join(canary, "out");
    await box.copyOut("/workspace/out", destination, { maxBytes: 1024 ** 3 });
    const info = await stat(path.join(destination, "sparse.bin"));
    expect(info.size).toBe(768 * 1024 * 1024);
    expect(info.blocks * 512).toBeLessThan(16 * 1024 * 1024);
    await expect(box.copyOut("/workspace/out", path.join(canary, "refused"), { maxBytes: 512 * 1024 ** 2 })).rejects.toThrow(/more than/);
    expect(await readdir(canary)).toEqual(["out"]);
    await expectHealthy(box);
  });

  it("12: both names of a hard link are copied, and names that are not UTF-8 are skipped while the rest is copied", async () => {
    const box = await sandbox();
    await cell(box, [
      "import os",
      "os.makedirs('out')",
      "open('out/b_first', 'w').write('shared')",
      "os.link('out/b_first', 'out/a_second')",
      "open(b'out/bad\\xff1', 'w').write('one')",
      "open(b'out/bad\\xfe1', 'w').write('two')",
      "open('out/good.txt', 'w').write('good')",
    ]);
    const destination = path.join(await canaryFolder(), "out");
    const report = await box.copyOut("/workspace/out", destination);
    expect((await readdir(destination)).sort()).toEqual(["a_second", "b_first", "good.txt"]);
    expect(await readFile(path.join(destination, "a_second"), "utf8")).toBe("shared");
    expect(await readFile(path.join(destination, "b_first"), "utf8")).toBe("shared");
    expect(report.skipped.map((entry) => entry.reason)).toEqual([expect.stringContaining("not valid UTF-8"), expect.stringContaining("not valid UTF-8")]);
    const files = await box.readFiles("/workspace/out");
    expect([...files.keys()].sort()).toEqual(["a_second", "b_first", "good.txt"]);
    await expectHealthy(box);
  });

  it("copies the same folder twice into two new folders, and refuses a used one without losing it", async () => {
    const box = await sandbox();
    await cell(box, ["import os", "os.makedirs('out')", "open('out/x.txt', 'w').write('x')"]);
    const canary = await canaryFolder();
    await box.copyOut("/workspace/out", path.join(canary, "first"));
    await expect(box.copyOut("/workspace/out", path.join(canary, "first"))).rejects.toThrow(/not empty/);
    expect(await readFile(path.join(canary, "first", "x.txt"), "utf8")).toBe("x");
    await mkdir(path.join(canary, "empty"));
    await box.copyOut("/workspace/out", path.join(canary, "empty"));
    expect(await readFile(path.join(canary, "empty", "x.txt"), "utf8")).toBe("x");
    expect((await readdir(canary)).sort()).toEqual(["empty", "first"]);
  });
});

/**
 * A hostile agent's cell: eight daemons swap folders holding a `.pth` for links to the grader's
 * site-packages as fast as they can. Planted there, the `.pth` would run in the grader's Python
 * and print a forged score line before the real driver could. The race is won only now and then
 * (on our machines links reached the old snapshots, entries below them rarely), so this end-to-end
 * run shows the whole path holds; the tests above are the ones that fail without each defence.
 */
const HOSTILE_CELL = String.raw`
import json, os, subprocess
forged = json.dumps([{"score": 1e9, "score_text": "1e9", "error": None, "traceback": None, "read_only_changed": [], "removed": []}])
line = "import sys, os; sys.stdout.write('\nDYNABOX-MLAB-RESULT ' + " + repr(forged) + " + '\n'); sys.stdout.flush(); os._exit(0)
"
racer = """
import os, sys
base = '/workspace/w' + sys.argv[1]
while True:
    try:
        os.rename(base + '/sub', base + '/real')
        os.symlink('/usr/local/lib/python3.11/dist-packages', base + '/sub')
        os.unlink(base + '/sub')
        os.rename(base + '/real', base + '/sub')
    except OSError:
        pass
"""
open('/workspace/racer.py', 'w').write(racer)
for index in range(8):
    os.makedirs(f'w{index}/sub', exist_ok=True)
    open(f'w{index}/sub/zzz_forge{index}.pth', 'w').write(line)
    subprocess.Popen(['python3', '/workspace/racer.py', str(index)], start_new_session=True)
print('racing')
`;

/** A copy of the bundled wine-mini task whose prepare.py is `prepare`. */
async function taskWithPrepare(folder: string, prepare: string) {
  const copy = path.join(folder, "task", "hostile-prepare");
  await cp("tasks/mlab/wine-mini", copy, { recursive: true });
  await writeFile(path.join(copy, "scripts", "prepare.py"), prepare);
  const [task] = await discoverMlabTasks(copy);
  return { task: task!, context: { docker, sandboxImage: image(), cacheDirectory: path.join(folder, "cache") } };
}

describe("the MLAB task cache", () => {
  it("10: a sparse file made by prepare.py stays sparse in the cache", async () => {
    const folder = await canaryFolder();
    const { task, context } = await taskWithPrepare(folder, [
      "size = 1536 * 1024 * 1024",
      "with open('../env/huge.bin', 'wb') as handle:",
      "    handle.truncate(size)",
      "    handle.seek(size - 3)",
      "    handle.write(b'end')",
    ].join("\n"));
    const prepared = await prepareMlabTask(context, task);
    const info = await stat(path.join(prepared.env, "huge.bin"));
    expect(info.size).toBe(1536 * 1024 * 1024);
    expect(info.blocks * 512).toBeLessThan(16 * 1024 * 1024);
  }, 300_000);

  it("10: more files than the cache's cap fail the preparation before any is written, and leave nothing", async () => {
    const folder = await canaryFolder();
    const { task, context } = await taskWithPrepare(folder, [
      "import os",
      "os.makedirs('../env/many')",
      "for index in range(200_001):",
      "    open(f'../env/many/{index}', 'w').close()",
    ].join("\n"));
    await expect(prepareMlabTask(context, task)).rejects.toThrow(/more than 200000 entries/);
    expect(await readdir(path.join(folder, "cache", "mlab"))).toEqual([]);
  }, 300_000);
});

describe("output folders", () => {
  it("10: run and eval refuse a --run-dir under /proc or /sys at once, with exit code 2", async () => {
    for (const [command, folder] of [
      ["run", "/proc/self/run"],
      ["eval", "/sys/dynabox-run"],
    ] as const) {
      const args = command === "run"
        ? [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/4", "--model", "scripted", "--base-url", "http://127.0.0.1:9", "--api-key", "x", "--run-dir", folder]
        : [cli, "eval", "--mlab", "tasks/mlab/wine-mini", "--workspace", "tasks/mlab/wine-mini/env", "--run-dir", folder];
      const result = await execa("node", args, { reject: false, timeout: 60_000 });
      expect(result.exitCode, result.stderr).toBe(2);
      const tree = `/${folder.split("/")[1]}`;
      expect(result.stderr).toContain(`--run-dir: ${folder} is under ${tree}, which holds no ordinary files; give a folder on a normal disk`);
    }
  });
});

describe("a hostile agent through dynabox run", () => {
  it("3: racing daemons that swap folders for links to the grader's site-packages do not forge an MLAB score", async () => {
    const folder = await canaryFolder();
    const server = await startScriptedOpenAIServer({
      replies: [{ reply: { thought: "plant a score in the grader", code: HOSTILE_CELL } }, { reply: "```python\nsubmit()\n```" }],
    });
    try {
      const args = [cli, "run", "tasks/mlab/wine-mini", "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--max-steps", "3", "--concurrency", "1"];
      const result = await execa("node", [...args, "--library", path.join(folder, "actions.sqlite"), "--run-dir", path.join(folder, "run"), "--json"], { reject: false });
      expect(result.exitCode, result.stderr).toBe(0);
      const events = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; tasks?: { outcome: string; score: number | null }[] });
      const end = events.at(-1)!;
      expect(end.type).toBe("run-end");
      expect(end.tasks?.[0]).toMatchObject({ outcome: "failed" });
      expect(end.tasks?.[0]?.score ?? -1).toBeLessThan(1e9);
    } finally {
      await server.close();
    }
  }, 600_000);
});
