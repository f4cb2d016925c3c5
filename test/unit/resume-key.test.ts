import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GRADER_VERSIONS, resumeKey, taskFingerprint } from "../../src/runs/resume-key.js";
import type { TaskBase } from "../../src/families/types.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-resume-key-");
const task = { id: "0_0", family: "resq" as const, origin: "/nowhere/dataset.json", row: { test_script: "print(1)", base_commit: "abc1234" } };

describe("resume keys", () => {
  it("are the same for the same content, whatever the key order", () => {
    const one = resumeKey({ kind: "eval", family: "resq", task, submission: "patch", settings: { timeout: 60, limits: { a: 1, b: 2 } } });
    const two = resumeKey({ kind: "eval", family: "resq", task: { row: { base_commit: "abc1234", test_script: "print(1)" }, origin: task.origin, family: "resq", id: "0_0" }, submission: "patch", settings: { limits: { b: 2, a: 1 }, timeout: 60 } });
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(two).toBe(one);
  });

  it("change with the submission, the task, the settings, the kind and the family", () => {
    const base = { kind: "eval", family: "resq" as const, task, submission: "patch", settings: { timeout: 60 } };
    const key = resumeKey(base);
    expect(resumeKey({ ...base, submission: "patch\n" })).not.toBe(key);
    expect(resumeKey({ ...base, task: { ...task, row: { ...task.row, test_script: "print(2)" } } })).not.toBe(key);
    expect(resumeKey({ ...base, settings: { timeout: 61 } })).not.toBe(key);
    expect(resumeKey({ ...base, kind: "validate" })).not.toBe(key);
    expect(resumeKey({ ...base, family: "sab" })).not.toBe(key);
  });

  it("tell apart values that print alike (strings and numbers, nesting, bytes)", () => {
    const key = (submission: unknown) => resumeKey({ kind: "eval", family: "mlab", task: null, submission });
    expect(key("1")).not.toBe(key(1));
    expect(key(["a", "b"])).not.toBe(key(["ab"]));
    expect(key({ a: "b" })).not.toBe(key(["a", "b"]));
    expect(key(Buffer.from("x"))).not.toBe(key("x"));
    expect(key({ archive: Buffer.from([1, 2, 3]) })).toBe(key({ archive: Buffer.from([1, 2, 3]) }));
    expect(key({ archive: Buffer.from([1, 2, 3]) })).not.toBe(key({ archive: Buffer.from([1, 2, 4]) }));
  });

  it("carry a grader version per family", () => {
    expect(Object.keys(GRADER_VERSIONS).sort()).toEqual(["mlab", "resq", "sab"]);
  });

  it("fingerprint a task folder by its files: a changed script changes it, an unchanged copy does not", async () => {
    const folder = await scratch();
    await mkdir(path.join(folder, "scripts"));
    await writeFile(path.join(folder, "scripts", "eval.py"), "def get_score(folder):\n    return 1.0\n");
    const folderTask: TaskBase = { id: "t", family: "mlab", origin: folder };
    const first = resumeKey({ kind: "validate", family: "mlab", task: await taskFingerprint(folderTask) });
    expect(resumeKey({ kind: "validate", family: "mlab", task: await taskFingerprint(folderTask) })).toBe(first);
    await writeFile(path.join(folder, "scripts", "eval.py"), "def get_score(folder):\n    return 2.0\n");
    expect(resumeKey({ kind: "validate", family: "mlab", task: await taskFingerprint(folderTask) })).not.toBe(first);
  });

  it("do not depend on a row's place in its file", async () => {
    const first = await taskFingerprint({ ...task, rowIndex: 0 } as TaskBase);
    const moved = await taskFingerprint({ ...task, rowIndex: 7 } as TaskBase);
    expect(resumeKey({ kind: "eval", family: "resq", task: moved })).toBe(resumeKey({ kind: "eval", family: "resq", task: first }));
  });
});
