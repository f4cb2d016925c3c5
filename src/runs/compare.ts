// `dynabox compare A B`: two runs of the agent on the same tasks (an ablation, such as the action
// library on against off), paired by task. Per family and overall: success rates, their
// difference B - A with a paired bootstrap interval and McNemar's exact test, mean scores, the
// tokens, dollars and steps each run spent, and the tasks that flipped either way.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.js";
import type { TaskRunSummary } from "./agent-run.js";
import { mcnemarExact, mean, pairedBootstrap, type BootstrapInterval, type McNemarResult } from "./paired-statistics.js";
import { ResultsStore } from "./store.js";

/** One task of a run, its attempts combined: passed when any attempt passed, the best score, costs summed. */
export interface RunTask {
  key: string;
  family: string;
  id: string;
  passed: boolean;
  score: number | null;
  attempts: number;
  steps: number;
  tokens: number;
  costUsd: number;
}

export interface LoadedRun {
  directory: string;
  model: string | null;
  libraryMode: string | null;
  tasks: Map<string, RunTask>;
}

/** Combines a run's stored attempts into one record per task. */
export function combineAttempts(summaries: readonly Pick<TaskRunSummary, "id" | "family" | "outcome" | "score" | "steps" | "tokens" | "cost_usd">[]): Map<string, RunTask> {
  const tasks = new Map<string, RunTask>();
  for (const summary of summaries) {
    const key = `${summary.family}/${summary.id}`;
    const known = tasks.get(key) ?? { key, family: summary.family, id: summary.id, passed: false, score: null, attempts: 0, steps: 0, tokens: 0, costUsd: 0 };
    known.passed ||= summary.outcome === "passed";
    if (summary.score !== null && (known.score === null || summary.score > known.score)) known.score = summary.score;
    known.attempts += 1;
    known.steps += summary.steps;
    known.tokens += summary.tokens;
    known.costUsd += summary.cost_usd;
    tasks.set(key, known);
  }
  return tasks;
}

/** Reads a run folder made by `dynabox run`: its finished attempts (results.sqlite) and manifest. */
export function loadRun(directory: string): LoadedRun {
  const resolved = path.resolve(directory);
  const resultsFile = path.join(resolved, "results.sqlite");
  if (!existsSync(resultsFile)) {
    throw new UserError("DYNABOX_USAGE", `${directory} is not a run folder: it has no results.sqlite (pass the --run-dir of a \`dynabox run\`)`);
  }
  let manifest: Record<string, unknown> = {};
  try {
    manifest = JSON.parse(readFileSync(path.join(resolved, "manifest.json"), "utf8")) as Record<string, unknown>;
  } catch {
    // A run folder without a manifest still has its results; the labels are then unknown.
  }
  using store = ResultsStore.open(resultsFile);
  const summaries = store
    .list("run")
    .map((result) => result.detail as TaskRunSummary | null)
    .filter((detail): detail is TaskRunSummary => detail !== null && typeof detail === "object" && typeof detail.id === "string")
    // An infrastructure error is no result of the agent's: neither a success nor a failure to compare.
    .filter((detail) => detail.outcome !== "error");
  return {
    directory: resolved,
    model: typeof manifest.model === "string" ? manifest.model : null,
    libraryMode: typeof manifest.library_mode === "string" ? manifest.library_mode : null,
    tasks: combineAttempts(summaries),
  };
}

export interface GroupComparison {
  /** A family's name, or "all". */
  family: string;
  tasks: number;
  successA: number;
  successB: number;
  /** The success-rate difference B - A with its paired bootstrap interval. */
  success: BootstrapInterval;
  mcnemar: McNemarResult;
  /** Tasks with a score in both runs. */
  scoredTasks: number;
  meanScoreA: number | null;
  meanScoreB: number | null;
  score: BootstrapInterval | null;
}

export interface RunTotals {
  tokens: number;
  costUsd: number;
  steps: number;
}

export interface Comparison {
  a: { directory: string; model: string | null; libraryMode: string | null; tasks: number };
  b: { directory: string; model: string | null; libraryMode: string | null; tasks: number };
  paired: number;
  onlyInA: string[];
  onlyInB: string[];
  groups: GroupComparison[];
  /** Over the paired tasks. */
  totals: { a: RunTotals; b: RunTotals };
  /** Tasks B passed and A failed, and the other way round. */
  flippedToPass: string[];
  flippedToFail: string[];
  seed: number;
  resamples: number;
}

function compareGroup(family: string, pairs: readonly [RunTask, RunTask][], options: { seed: number; resamples: number }): GroupComparison {
  const successA = pairs.map(([a]) => (a.passed ? 1 : 0));
  const successB = pairs.map(([, b]) => (b.passed ? 1 : 0));
  const scored = pairs.filter(([a, b]) => a.score !== null && b.score !== null);
  const scoresA = scored.map(([a]) => a.score as number);
  const scoresB = scored.map(([, b]) => b.score as number);
  return {
    family,
    tasks: pairs.length,
    successA: mean(successA),
    successB: mean(successB),
    success: pairedBootstrap(successA, successB, options),
    mcnemar: mcnemarExact(pairs.filter(([a, b]) => a.passed && !b.passed).length, pairs.filter(([a, b]) => !a.passed && b.passed).length),
    scoredTasks: scored.length,
    meanScoreA: scored.length === 0 ? null : mean(scoresA),
    meanScoreB: scored.length === 0 ? null : mean(scoresB),
    score: scored.length === 0 ? null : pairedBootstrap(scoresA, scoresB, options),
  };
}

function totalsOf(tasks: readonly RunTask[]): RunTotals {
  return {
    tokens: tasks.reduce((sum, task) => sum + task.tokens, 0),
    costUsd: tasks.reduce((sum, task) => sum + task.costUsd, 0),
    steps: tasks.reduce((sum, task) => sum + task.steps, 0),
  };
}

export function compareRuns(a: LoadedRun, b: LoadedRun, options: { seed?: number; resamples?: number } = {}): Comparison {
  const settings = { seed: options.seed ?? 1, resamples: options.resamples ?? 10_000 };
  const keys = [...a.tasks.keys()].filter((key) => b.tasks.has(key)).sort();
  const pairs = keys.map((key) => [a.tasks.get(key), b.tasks.get(key)] as [RunTask, RunTask]);
  if (pairs.length === 0) {
    throw new UserError("DYNABOX_USAGE", `the runs ${a.directory} and ${b.directory} share no finished task; compare two runs of the same tasks`);
  }
  const families = [...new Set(pairs.map(([task]) => task.family))].sort();
  const groups = families.map((family) => compareGroup(family, pairs.filter(([task]) => task.family === family), settings));
  if (families.length > 1) groups.push(compareGroup("all", pairs, settings));
  return {
    a: { directory: a.directory, model: a.model, libraryMode: a.libraryMode, tasks: a.tasks.size },
    b: { directory: b.directory, model: b.model, libraryMode: b.libraryMode, tasks: b.tasks.size },
    paired: pairs.length,
    onlyInA: [...a.tasks.keys()].filter((key) => !b.tasks.has(key)).sort(),
    onlyInB: [...b.tasks.keys()].filter((key) => !a.tasks.has(key)).sort(),
    groups,
    totals: { a: totalsOf(pairs.map(([task]) => task)), b: totalsOf(pairs.map(([, task]) => task)) },
    flippedToPass: pairs.filter(([x, y]) => !x.passed && y.passed).map(([task]) => task.key),
    flippedToFail: pairs.filter(([x, y]) => x.passed && !y.passed).map(([task]) => task.key),
    ...settings,
  };
}
