import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readSubmission, saveSubmission, submissionDiff, submissionFile } from "../../src/report/submission-file.js";
import { packFiles } from "../../src/sandbox/archive.js";
import { temporaryFolders } from "../temporary-folders.js";

const folder = temporaryFolders("dynabox-report-submission-");

describe("submissions kept as diffs", () => {
  it("keeps a patch as it is and shows a program as a new file", async () => {
    expect(await submissionDiff("--- a/x\n+++ b/x\n", { family: "resq" })).toBe("--- a/x\n+++ b/x\n");
    const program = await submissionDiff({ fileName: "pred.py", source: "print(1)\n" }, { family: "sab" });
    expect(program).toBe("diff --git a/pred_programs/pred.py b/pred_programs/pred.py\nnew file mode 100644\n--- /dev/null\n+++ b/pred_programs/pred.py\n@@ -0,0 +1,1 @@\n+print(1)\n");
  });

  it("shows a workspace as its changes against the starter files: changed and new text, binary and big data named only, never through a starter symlink", async () => {
    const task = await folder();
    await mkdir(path.join(task, "env"), { recursive: true });
    await writeFile(path.join(task, "env", "train.py"), "model = 1\n");
    await writeFile(path.join(task, "env", "notes.txt"), "same\n");
    const secret = path.join(task, "secret.txt");
    await writeFile(secret, "host secret\n");
    await symlink(secret, path.join(task, "env", "linked.txt"));
    const archive = await packFiles([
      { path: "train.py", content: Buffer.from("model = 2\n") },
      { path: "notes.txt", content: Buffer.from("same\n") },
      { path: "weights.bin", content: Buffer.from([0, 1, 2, 3]) },
      { path: "data.csv", content: Buffer.from("a,b\n".repeat(20_000)) },
      { path: "linked.txt", content: Buffer.from("agent text\n") },
    ]);
    const diff = (await submissionDiff({ archive }, { family: "mlab", directory: task }))!;
    expect(diff).toContain("--- a/train.py\n+++ b/train.py\n@@ -1,1 +1,1 @@\n-model = 1\n+model = 2\n");
    expect(diff).not.toContain("notes.txt");
    expect(diff).toContain("Binary files /dev/null and b/weights.bin differ");
    expect(diff).toContain("Binary files /dev/null and b/data.csv differ");
    // The starter's symlink is not read: the agent's file shows as new, the host file never appears.
    expect(diff).toContain("+++ b/linked.txt\n@@ -0,0 +1,1 @@\n+agent text\n");
    expect(diff).not.toContain("host secret");

    const run = await folder();
    await saveSubmission(run, "mlab", "t", "attempt-1", { archive }, { family: "mlab", directory: task });
    expect(await readSubmission(run, "mlab", "t", "attempt-1")).toBe(diff);
    expect(await readSubmission(run, "mlab", "t", "attempt-2")).toBeNull();
  });

  it("keeps a dataset's task id or item that names another folder inside the run folder", async () => {
    const run = await folder();
    for (const [id, item] of [["../../escape", "attempt-1"], ["..", ".."], ["a/b", "../x"], ["ok", ""]] as const) {
      const file = submissionFile(run, "resq", id, item);
      expect(path.relative(path.join(run, "submissions", "resq"), file).split(path.sep)).toHaveLength(2);
      await saveSubmission(run, "resq", id, item, "patch", { family: "resq" });
      expect(await readSubmission(run, "resq", id, item)).toBe("patch");
    }
  });
});
