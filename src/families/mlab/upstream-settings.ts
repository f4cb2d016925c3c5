// MLAgentBench's per-task settings that live outside the task folders. Upstream decides which way
// a score is better and some baselines in MLAgentBench/plot.py (at 5d71205): the list
// `lower_the_better_tasks` and the "special baseline numbers" added in get_all_runs_eval. plot.py
// compares labels, which it makes from a run's task name with `print_task_labels.get(x, x)`; so a
// label matches its own name and every name print_task_labels maps to it. dynabox looks up the
// task folder's name (exactly, case-sensitive) among those names and the benchmark folder names.

import type { MlabDirection } from "./task.js";

export interface UpstreamMlabSettings {
  /** plot.py's label for the task. */
  label: string;
  direction: MlabDirection;
  /** plot.py's fixed baseline; null: upstream averages its baseline runs (dynabox measures the starter). */
  baseline: number | null;
  /** The score is a wall-clock time (vectorization's eval.py times the forward pass). */
  timing: boolean;
  /** Other names upstream uses for this task: benchmark folder names and print_task_labels keys. */
  names: string[];
}

export const UPSTREAM_MLAB_SETTINGS: readonly UpstreamMlabSettings[] = [
  { label: "cifar10", direction: "higher", baseline: null, timing: false, names: ["cifar10_training"] },
  { label: "imdb", direction: "higher", baseline: 0.5, timing: false, names: [] },
  { label: "ogbn-arxiv", direction: "higher", baseline: 0.3134, timing: false, names: [] },
  { label: "house-price", direction: "lower", baseline: 1e10, timing: false, names: ["home-data-for-ml-course", "kaggle_training_reg"] },
  { label: "spaceship-titanic", direction: "higher", baseline: 0.5, timing: false, names: ["kaggle_training_class"] },
  {
    label: "parkinsons-disease",
    direction: "lower",
    baseline: null,
    timing: false,
    names: ["amp-parkinsons-disease-progression-prediction"],
  },
  { label: "fathomnet", direction: "higher", baseline: 1e-10, timing: false, names: ["fathomnet-out-of-sample-detection"] },
  { label: "feedback", direction: "lower", baseline: null, timing: false, names: ["feedback-prize-english-language-learning"] },
  {
    label: "identify-contrails",
    direction: "higher",
    baseline: null,
    timing: false,
    names: ["google-research-identify-contrails-reduce-global-warming"],
  },
  { label: "llama-inference", direction: "lower", baseline: null, timing: true, names: ["speed-up"] },
  { label: "vectorization", direction: "lower", baseline: 6.1742, timing: true, names: ["vectorisation"] },
  { label: "CLRS", direction: "higher", baseline: null, timing: false, names: [] },
  { label: "BabyLM", direction: "lower", baseline: null, timing: false, names: ["babylm"] },
];

/** Upstream's settings for a task folder name, or null when upstream has none under that name. */
export function upstreamMlabSettings(taskName: string): UpstreamMlabSettings | null {
  return UPSTREAM_MLAB_SETTINGS.find((entry) => entry.label === taskName || entry.names.includes(taskName)) ?? null;
}
