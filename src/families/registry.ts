// The three families behind one lookup: find the tasks at the paths a user gives, whatever
// their family, with the module that loads, validates and grades them.

import { stat } from "node:fs/promises";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { createMlabFamily, mlabFamily, type MlabFamilyOptions } from "./mlab/grader.js";
import { createResqFamily, resqFamily, type ResqOptions } from "./resq/grader.js";
import { createSabFamily, sabFamily, type SabOptions } from "./sab/grader.js";
import { isMlabTaskFolder } from "./mlab/task.js";
import { figureJudgeFromFlags } from "./sab/judge.js";
import type { Family, FamilyModule, TaskBase } from "./types.js";

// Each family module is typed by its own task and submission; the registry hands them out
// paired with a task of their own family, which is what makes the erased types safe.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFamilyModule = FamilyModule<any, any>;

export const FAMILY_MODULES: Record<Family, AnyFamilyModule> = {
  mlab: mlabFamily,
  sab: sabFamily,
  resq: resqFamily,
};

/** Settings of the families that have some; the defaults otherwise. */
export interface FamilyOptions {
  mlab?: MlabFamilyOptions;
  resq?: ResqOptions;
  sab?: SabOptions;
}

/** The family settings `run` takes from its flags: RES-Q's Python policy, the ScienceAgentBench figure judge. */
export function familyOptionsFromFlags(flags: { pythonMismatch: "error" | "warn"; judgeModel?: string | undefined; baseUrl?: string | undefined; apiKey?: string | undefined }): FamilyOptions {
  const judge = figureJudgeFromFlags(flags);
  return { resq: { pythonMismatch: flags.pythonMismatch }, ...(judge ? { sab: { judge } } : {}) };
}

function familyModules(options: FamilyOptions): Record<Family, AnyFamilyModule> {
  return {
    mlab: options.mlab ? createMlabFamily(options.mlab) : mlabFamily,
    sab: options.sab ? createSabFamily(options.sab) : sabFamily,
    resq: options.resq ? createResqFamily(options.resq) : resqFamily,
  };
}

export interface DiscoveredTask {
  task: TaskBase;
  module: AnyFamilyModule;
}

async function discoverAt(target: string, modules: Record<Family, AnyFamilyModule>): Promise<DiscoveredTask[]> {
  const found: DiscoveredTask[] = [];
  for (const module of Object.values(modules)) {
    const tasks: TaskBase[] = await module.discover(target);
    for (const task of tasks) found.push({ task, module });
  }
  return found;
}

/**
 * Tasks at each path: a task folder or dataset file of any family, a folder of them, or a
 * folder holding family folders (like the bundled `tasks/`). Duplicates are dropped.
 */
export async function discoverTasks(paths: readonly string[], options: FamilyOptions = {}): Promise<DiscoveredTask[]> {
  const modules = familyModules(options);
  const all: DiscoveredTask[] = [];
  for (const given of paths) {
    const target = path.resolve(given);
    const info = await stat(target).catch(() => undefined);
    if (info === undefined) {
      throw new UserError("DYNABOX_INVALID_INPUT", `${given} does not exist: give a task folder, a dataset file, or a folder of them`);
    }
    const found = await discoverAt(target, modules);
    if (info.isDirectory()) {
      // A folder of family folders (like the bundled tasks/) holds tasks one level down. An mlab
      // task folder is not a family folder: the folder's own discovery already took it (or, in
      // an upstream benchmarks/ folder, skipped it as ungradable; it must not be loaded alone).
      const children = (await readdir(target, { withFileTypes: true })).filter((entry) => entry.isDirectory());
      for (const child of children.sort((a, b) => a.name.localeCompare(b.name))) {
        const childPath = path.join(target, child.name);
        if (await isMlabTaskFolder(childPath)) continue;
        found.push(...(await discoverAt(childPath, modules)));
      }
    }
    if (found.length === 0) {
      throw new UserError(
        "DYNABOX_TASK_INVALID",
        `no tasks found at ${given}: expected an MLAgentBench task folder (env/ and scripts/), a ScienceAgentBench rows file (.jsonl with benchmark/ beside it), a RES-Q dataset (.json), or a folder holding them`,
      );
    }
    all.push(...found);
  }
  const seen = new Set<string>();
  return all.filter(({ task }) => {
    const key = `${task.family}/${task.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
