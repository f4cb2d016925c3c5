// `dynabox eval --sab ROWS --programs DIR...`: every program of every attempt folder becomes an
// item; after grading, upstream's eval logs and best-of-N metrics are written (eval-plan.ts).

import { UserError } from "../../errors.js";
import type { EvalBatch } from "../../runs/evaluate.js";
import { countersOf, type EvalFlags, type EvalOutputs, type EvalPlan, type FamilyEvalPlanner } from "../eval-plan.js";
import { planSabEval, writeSabEvalOutputs, type SabEvalPlan } from "./eval-plan.js";
import { figureJudgeFromFlags, type FigureJudge } from "./judge.js";

export const sabEvalPlanner: FamilyEvalPlanner = {
  family: "sab",
  flag: "sab",
  plan: planSab,
};

async function writeSabOutputs(runDirectory: string, batch: EvalBatch, summary: Record<string, unknown>, plan: SabEvalPlan, judge: FigureJudge | undefined, shard: boolean): Promise<EvalOutputs> {
  // A shard's own outputs stay plain: the eval logs are written over the whole plan, by the merge.
  if (shard) return { summary, notes: [] };
  // Positional verdicts: an item error or an interrupted item is "not graded" in the eval logs.
  const verdicts = batch.byItem.map((result) => result?.verdict ?? undefined);
  const written = await writeSabEvalOutputs(runDirectory, plan, verdicts, judge);
  return { summary: { ...written.summary, ...countersOf(summary) }, notes: written.notes };
}

async function planSab(flags: EvalFlags): Promise<EvalPlan> {
  if (flags.judgeModel === undefined && (flags.baseUrl !== undefined || flags.apiKey !== undefined)) {
    throw new UserError("DYNABOX_USAGE", "--base-url and --api-key are the figure judge's endpoint: give them with --judge-model MODEL");
  }
  const judge = figureJudgeFromFlags(flags);
  const plan = await planSabEval(flags.sab!, flags.programs ?? [], {
    ...(flags.benchmark !== undefined ? { benchmark: flags.benchmark } : {}),
    ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
    ...(judge ? { judge } : {}),
  });
  return {
    family: "sab",
    items: plan.items,
    total: plan.total,
    notes: plan.notes,
    writeOutputs: (runDirectory, batch, summary, { shard }) => writeSabOutputs(runDirectory, batch, summary, plan, judge, shard),
  };
}
