// The ScienceAgentBench part of `dynabox eval`: one or several program folders (attempts) against
// upstream's rows, and the files a researcher needs afterwards: dynabox's result lines, one
// upstream eval log per attempt for calculate_metrics.py, and a summary with VER, SR, the figure
// tasks not judged, what CodeBERTScore is, and upstream's best-of-N selection.

import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../../errors.js";
import type { FigureJudge } from "./judge.js";
import { CODEBERT_PLACEHOLDER, bestOfN, sabMetrics, successRateOf, upstreamEvalLogLine, type SabAttempt } from "./metrics.js";
import { createSabFamily } from "./grader.js";
import type { EvalItem } from "../../runs/evaluate.js";
import { loadSabTasks, sabPaths } from "./task.js";
import type { Verdict } from "../types.js";

export interface SabEvalPlan {
  items: EvalItem[];
  total: number;
  notes: string[];
  taskIds: string[];
  /** The program folders, one per attempt, in the order given. */
  programFolders: string[];
}

export interface SabEvalSettings {
  benchmark?: string;
  timeoutSeconds?: number;
  judge?: FigureJudge;
}

async function readProgram(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read the program ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Items for every task x every program folder; a missing program is graded as an empty one. */
export async function planSabEval(rows: string, programFolders: readonly string[], settings: SabEvalSettings): Promise<SabEvalPlan> {
  if (programFolders.length === 0) throw new UserError("DYNABOX_USAGE", "--sab needs --programs DIR (a folder of pred_*.py programs); repeat --programs for several attempts");
  const tasks = await loadSabTasks(rows, settings.benchmark === undefined ? {} : { benchmarkDirectory: settings.benchmark });
  const family = createSabFamily({
    ...(settings.timeoutSeconds !== undefined ? { timeoutSeconds: settings.timeoutSeconds } : {}),
    ...(settings.judge ? { judge: settings.judge } : {}),
  });
  const several = programFolders.length > 1;
  const items: EvalItem[] = [];
  const notes: string[] = [];
  for (const [attemptIndex, folder] of programFolders.entries()) {
    const attempt = attemptIndex + 1;
    const available = new Set(
      await readdir(folder).catch((error: unknown) => {
        throw new UserError("DYNABOX_INVALID_INPUT", `can not read the programs folder ${folder}: ${(error as Error).message}. Fix: pass a folder of pred_<gold_program_name> files to --programs`);
      }),
    );
    const where = several ? ` (attempt ${attempt}, ${folder})` : "";
    // Rows may share a gold_program_name; upstream runs pred_<name> for each of them, so a
    // program is matched by every row that names it, not only by the first.
    const matched = new Set<string>();
    for (const task of tasks) {
      const fileName = path.basename(sabPaths(task).programPath);
      let source = "";
      if (available.has(fileName)) {
        source = await readProgram(path.join(folder, fileName));
        matched.add(fileName);
      } else {
        notes.push(`${fileName} is missing${where}: task ${task.id} is graded as an empty program`);
      }
      items.push({
        task,
        module: family,
        submission: { fileName, source },
        item: several ? `attempt-${attempt}/${fileName}` : fileName,
        extra: several ? { program: fileName, attempt } : { program: fileName },
      });
    }
    for (const extra of available) if (extra.endsWith(".py") && !matched.has(extra)) notes.push(`${extra} matches no task and was not graded${where}`);
  }
  return { items, total: tasks.length, notes, taskIds: tasks.map((task) => task.id), programFolders: [...programFolders] };
}

function attemptOf(verdict: Verdict | undefined): SabAttempt {
  const line = verdict?.upstream ?? {};
  return {
    valid_program: line.valid_program === 1 ? 1 : 0,
    success_rate: successRateOf(line.success_rate),
    codebert_score: typeof line.codebert_score === "number" ? line.codebert_score : null,
    cost: null,
    not_judged: line.not_judged === true,
  };
}

/** The eval log file of an attempt, for calculate_metrics.py's --eval_logs. */
export function evalLogName(attempt: number, attempts: number): string {
  return attempts === 1 ? "eval_log.jsonl" : `eval_log.attempt-${attempt}.jsonl`;
}

/**
 * Writes the upstream eval logs (one per attempt, dataset row order, the four upstream fields)
 * and returns the ScienceAgentBench summary and the notes to show on the terminal.
 * `verdicts[i]` belongs to `plan.items[i]`; a missing verdict is an item that was not graded.
 */
export async function writeSabEvalOutputs(
  runDirectory: string,
  plan: SabEvalPlan,
  verdicts: ReadonlyArray<Verdict | undefined>,
  judge: FigureJudge | undefined,
): Promise<{ summary: Record<string, unknown>; notes: string[] }> {
  const attempts = plan.programFolders.length;
  const perAttempt: SabAttempt[][] = [];
  const metrics: Record<string, unknown>[] = [];
  const logs: string[] = [];
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const slice = verdicts.slice(attempt * plan.total, (attempt + 1) * plan.total);
    const lines = plan.taskIds.map((_, position) => {
      const verdict = slice[position] as (Verdict & { error?: unknown }) | undefined;
      const error = verdict?.error ?? verdict?.upstream?.error;
      return upstreamEvalLogLine(verdict?.upstream, error === undefined ? undefined : String(error));
    });
    const name = evalLogName(attempt + 1, attempts);
    await writeFile(path.join(runDirectory, name), lines.map((line) => JSON.stringify(line) + "\n").join(""));
    logs.push(name);
    const list = plan.taskIds.map((_, position) => attemptOf(slice[position]));
    perAttempt.push(list);
    const { cost: _cost, ...measured } = sabMetrics(plan.taskIds.map((taskId, position) => ({ taskId, attempt: list[position]! })), plan.total);
    metrics.push({ attempt: attempt + 1, programs: plan.programFolders[attempt], ...measured });
  }
  const notJudged = new Set(perAttempt.flatMap((list, attempt) => list.flatMap((each, position) => (each.not_judged ? [`${plan.taskIds[position]}${attempts > 1 ? ` (attempt ${attempt + 1})` : ""}`] : []))));
  const notes = [
    `CodeBERTScore was not computed (it needs the CodeBERT model; grading is offline): results.jsonl has codebert_score null, and the eval logs for calculate_metrics.py hold ${CODEBERT_PLACEHOLDER} in its place, so the "CodeBERTScore" calculate_metrics prints is not a measurement; its SR and VER are exact`,
  ];
  if (notJudged.size > 0) {
    notes.push(
      `${notJudged.size} figure task(s) not judged (no --judge-model): ${[...notJudged].join(", ")}. dynabox's SR leaves them out of its denominator; the eval logs must give calculate_metrics.py a number, so they hold success_rate 0 there and its SR counts them as failures`,
    );
  }
  notes.push(`for upstream's calculate_metrics.py: ${logs.map((name) => `--eval_logs ${path.join(runDirectory, name)}`).join(" ")} (with your agent's --run_logs; results.jsonl has codebert_score null, which that script can not read)`);
  const single = metrics[0]!;
  const summary: Record<string, unknown> = {
    family: "sab",
    tasks: plan.total,
    graded: verdicts.filter((verdict) => verdict !== undefined).length,
    VER: single.VER,
    SR: single.SR,
    not_judged: single.not_judged,
    codebert_score: {
      computed: false,
      written_in_eval_logs: CODEBERT_PLACEHOLDER,
      why: "CodeBERTScore needs the CodeBERT model weights; dynabox grades offline. SR and VER do not depend on it.",
    },
    figure_judge: judge ? { model: judge.model } : { model: null, note: "figure tasks whose eval asks the judge are reported as not judged and left out of SR" },
    eval_logs: logs,
  };
  if (attempts > 1) {
    const best = bestOfN(plan.taskIds, perAttempt);
    summary.attempts = metrics;
    summary.best_of_n = {
      rule: "per task: highest success_rate, then highest valid_program, then highest codebert_score, then lowest cost, then the first attempt (upstream calculate_metrics.py evaluate_best_run); a criterion nobody measured is skipped",
      attempts: best.attempts,
      VER: best.VER,
      SR: best.SR,
      successes: best.successes,
      not_judged: best.not_judged,
      selected: best.selected,
      selection_differs_possibly: best.selection_differs_possibly,
    };
    summary.VER = best.VER;
    summary.SR = best.SR;
    summary.not_judged = best.not_judged;
    if (best.selection_differs_possibly.length > 0) {
      notes.push(
        `best-of-${attempts}: for ${best.selection_differs_possibly.length} task(s) the attempts tie on success_rate and valid_program, where upstream goes on to CodeBERTScore and cost, which dynabox does not have; it takes the first tied attempt (SR and VER are the same either way)`,
      );
    }
  }
  return { summary, notes };
}
