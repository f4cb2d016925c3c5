// TaskFolder: task files are read only from inside the task folder. Real files and links on a
// real file system; links that resolve inside are followed, links that leave are refused.

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { TaskFolder } from "../../src/families/task-files.js";

const temporary: string[] = [];
afterEach(async () => {
  await Promise.all(temporary.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function scratch(): Promise<{ task: string; outside: string }> {
  const root = await mkdtemp(path.join(tmpdir(), "dynabox-task-files-"));
  temporary.push(root);
  const task = path.join(root, "task");
  const outside = path.join(root, "outside");
  await mkdir(path.join(task, "env", "data"), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(task, "env", "train.py"), "print(1)\n");
  await writeFile(path.join(task, "env", "data", "a.csv"), "x\n1\n");
  await writeFile(path.join(outside, "canary.txt"), "CANARY-SECRET\n");
  return { task, outside };
}

async function refusal(pending: Promise<unknown>): Promise<UserError> {
  const error = await pending.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(UserError.isInstance(error), String(error)).toBe(true);
  return error as UserError;
}

async function tarEntries(archive: Buffer): Promise<Array<{ name: string; type: string; content: string }>> {
  const entries: Array<{ name: string; type: string; content: string }> = [];
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on("data", (chunk: unknown) => chunks.push(Buffer.from(chunk as Uint8Array)));
    body.on("end", () => {
      entries.push({ name: header.name, type: header.type ?? "file", content: Buffer.concat(chunks).toString() });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    extract.on("finish", resolve);
    extract.on("error", reject);
    Readable.from([archive]).pipe(extract);
  });
  return entries;
}

describe("TaskFolder", () => {
  it("reads, walks and packs the task's own files, following links that stay inside as regular files", async () => {
    const { task } = await scratch();
    await symlink("data/a.csv", path.join(task, "env", "alias.csv"));
    await symlink("../env/data", path.join(task, "env", "shared"));
    await symlink("..", path.join(task, "env", "data", "loop")); // back to env/: left out, not walked forever
    const folder = await TaskFolder.open(task);
    expect(await folder.readText("env/alias.csv")).toBe("x\n1\n");
    expect(await folder.kind("env/shared")).toBe("directory");
    expect(await folder.kind("env/missing.txt")).toBe("missing");
    const entries = await tarEntries(await folder.pack("env"));
    expect(entries.map((entry) => `${entry.type} ${entry.name}`)).toEqual([
      "file alias.csv",
      "directory data",
      "file data/a.csv",
      "directory shared",
      "file shared/a.csv",
      "file train.py",
    ]);
    expect(entries.find((entry) => entry.name === "alias.csv")?.content).toBe("x\n1\n");
  });

  it("refuses every way of reaching a file outside: a linked folder, a linked file, a link in a parent, a relative climb, a dangling link out", async () => {
    const variants: Array<[string, (task: string, outside: string) => Promise<void>, string]> = [
      ["env linked to a folder outside", async (task, outside) => {
        await rm(path.join(task, "env"), { recursive: true });
        await symlink(outside, path.join(task, "env"));
      }, "env"],
      ["a file linked to a file outside", async (task, outside) => symlink(path.join(outside, "canary.txt"), path.join(task, "env", "key.txt")), "env/key.txt"],
      ["a relative link that climbs out", async (task) => symlink("../../outside/canary.txt", path.join(task, "env", "key.txt")), "env/key.txt"],
      ["a folder inside linked out", async (task, outside) => symlink(outside, path.join(task, "env", "data", "more")), "env/data/more"],
      ["a dangling link out", async (task) => symlink("/nonexistent/dynabox-canary", path.join(task, "env", "gone")), "env/gone"],
    ];
    for (const [name, arrange, culprit] of variants) {
      const { task, outside } = await scratch();
      await arrange(task, outside);
      const folder = await TaskFolder.open(task);
      const attempts = [() => folder.walk("env"), () => folder.pack("env"), () => folder.copyTo("env", path.join(outside, "copy")), () => folder.hash("env")];
      for (const attempt of attempts) {
        const error = await refusal(attempt());
        expect(error.code, name).toBe("DYNABOX_TASK_INVALID");
        expect(error.message, name).toContain(`the task file ${culprit} in ${folder.root} is a link to`);
        expect(error.message, name).not.toContain("CANARY-SECRET");
      }
    }
  });

  it("refuses reading a linked-out file directly, and a FIFO", async () => {
    const { task, outside } = await scratch();
    await mkdir(path.join(task, "scripts"));
    await symlink(path.join(outside, "canary.txt"), path.join(task, "scripts", "research_problem.txt"));
    execFileSync("mkfifo", [path.join(task, "env", "pipe")]);
    const folder = await TaskFolder.open(task);
    expect((await refusal(folder.readText("scripts/research_problem.txt"))).message).toContain("outside the task folder");
    expect((await refusal(folder.walk("env"))).message).toContain("env/pipe in");
    expect(await readFile(path.join(outside, "canary.txt"), "utf8")).toBe("CANARY-SECRET\n");
  });
});
