// Shared by the RES-Q docker suites: a grading context with a throw-away cache, the bundled
// tasks, and patches made with real git from the clean repository.

import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { GradingContext } from "../../src/grading/context.js";
import { cleanRepositoryFor } from "../../src/families/resq/grader.js";
import { loadResqDataset, type ResqTask } from "../../src/families/resq/task.js";
import { docker, image } from "./sandbox-fixture.js";

export async function resqContext(): Promise<GradingContext & { dispose(): Promise<void> }> {
  const cacheDirectory = await mkdtemp(path.join(tmpdir(), "dynabox-resq-cache-"));
  return {
    docker,
    sandboxImage: image(),
    cacheDirectory,
    runId: "test-resq",
    dispose: () => rm(cacheDirectory, { recursive: true, force: true }),
  };
}

export async function bundledTasks(): Promise<ResqTask[]> {
  return loadResqDataset("tasks/resq/dataset.json");
}

export function bundledTask(tasks: ResqTask[], id: string): ResqTask {
  const found = tasks.find((task) => task.id === id);
  if (!found) throw new Error(`no bundled task ${id}`);
  return found;
}

/** A copy of a task with some row fields replaced. */
export function withRow(task: ResqTask, fields: Partial<ResqTask["row"]>): ResqTask {
  return { ...task, row: { ...task.row, ...fields } };
}

/** A patch against base_commit that writes (string) or deletes (null) files, made by real git. */
export async function makePatch(context: GradingContext, task: ResqTask, files: Record<string, string | null>): Promise<string> {
  const clean = await cleanRepositoryFor(context, task);
  const work = await mkdtemp(path.join(tmpdir(), "dynabox-resq-patch-"));
  try {
    await execa("git", ["clone", "-q", clean.directory, work]);
    for (const [file, content] of Object.entries(files)) {
      const target = path.join(work, file);
      if (content === null) await rm(target, { force: true });
      else {
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, content);
      }
    }
    await execa("git", ["add", "-A"], { cwd: work });
    return (await execa("git", ["diff", "--cached", clean.baseCommit], { cwd: work })).stdout + "\n";
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
