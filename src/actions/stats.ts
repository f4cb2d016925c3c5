// `dynabox actions stats`: how the library is used. Counts over the whole library, and per task
// family the actions the family's tasks wrote (by the provenance of each current action), ranked
// by how often tasks used them and how often those tasks passed.

import type { ActionStore } from "./store.js";
import type { LibraryAction } from "./types.js";

export interface ActionSummary {
  name: string;
  version: number;
  uses: number;
  successes: number;
  failures: number;
}

export interface LibraryStats {
  current: number;
  versions: number;
  retired: number;
  candidates: number;
  uses: number;
  successes: number;
  failures: number;
  /** Current actions used at least once. */
  used: number;
  top: ActionSummary[];
  families: { family: string; actions: number; uses: number; top: ActionSummary[] }[];
}

function summary(action: LibraryAction): ActionSummary {
  return { name: action.name, version: action.version, uses: action.uses, successes: action.successes, failures: action.failures };
}

function ranked(actions: readonly LibraryAction[], limit: number): ActionSummary[] {
  return [...actions]
    .sort((a, b) => b.uses - a.uses || b.successes - a.successes || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map(summary);
}

/** The family of a task id such as "sab/3"; "other" for ids without one. */
function familyOf(taskId: string): string {
  const slash = taskId.indexOf("/");
  return slash > 0 ? taskId.slice(0, slash) : "other";
}

export function libraryStats(store: ActionStore, limit = 5): LibraryStats {
  const all = store.list({ all: true });
  const current = store.latest();
  const byFamily = new Map<string, LibraryAction[]>();
  for (const action of current) {
    const families = new Set([familyOf(action.taskId), ...store.origins(action.id).map((origin) => familyOf(origin.taskId))]);
    for (const family of families) byFamily.set(family, [...(byFamily.get(family) ?? []), action]);
  }
  return {
    current: current.length,
    versions: all.filter((action) => action.version !== null).length,
    retired: all.filter((action) => action.status === "retired").length,
    candidates: all.filter((action) => action.status === "candidate").length,
    uses: all.reduce((sum, action) => sum + action.uses, 0),
    successes: all.reduce((sum, action) => sum + action.successes, 0),
    failures: all.reduce((sum, action) => sum + action.failures, 0),
    used: current.filter((action) => action.uses > 0).length,
    top: ranked(current, limit),
    families: [...byFamily.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([family, actions]) => ({ family, actions: actions.length, uses: actions.reduce((sum, action) => sum + action.uses, 0), top: ranked(actions, limit) })),
  };
}

export function renderStats(stats: LibraryStats): string {
  const row = (action: ActionSummary): string => `  ${action.name} v${action.version}: used by ${action.uses} task(s), ${action.successes} passed, ${action.failures} failed`;
  const lines = [
    `${stats.current} current action(s) (${stats.used} used at least once), ${stats.versions} stored version(s), ${stats.retired} retired, ${stats.candidates} candidate(s)`,
    `uses: ${stats.uses} (${stats.successes} in passing tasks, ${stats.failures} in failing tasks)`,
  ];
  if (stats.top.length > 0) lines.push("most used:", ...stats.top.map(row));
  for (const family of stats.families) {
    lines.push(`${family.family}: ${family.actions} action(s) written by its tasks, ${family.uses} use(s)`, ...family.top.map(row));
  }
  return lines.join("\n") + "\n";
}
