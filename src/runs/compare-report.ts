// How `dynabox compare` shows a comparison: a table per family for people, snake_case JSON for
// scripts. Pure functions of the comparison.

import type { BootstrapInterval, McNemarResult } from "./paired-statistics.js";
import type { Comparison, GroupComparison, RunTotals } from "./compare.js";

function rounded(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function intervalJson(interval: BootstrapInterval | null) {
  if (interval === null) return null;
  return { difference: rounded(interval.difference), low: rounded(interval.low), high: rounded(interval.high), confidence: interval.confidence };
}

function mcnemarJson(result: McNemarResult) {
  return { only_a: result.onlyA, only_b: result.onlyB, p_value: rounded(result.pValue, 6) };
}

function totalsJson(totals: RunTotals) {
  return { tokens: totals.tokens, cost_usd: rounded(totals.costUsd, 6), steps: totals.steps };
}

export function comparisonJson(comparison: Comparison): Record<string, unknown> {
  const run = (side: Comparison["a"]) => ({ directory: side.directory, model: side.model, library_mode: side.libraryMode, tasks: side.tasks });
  return {
    type: "compare",
    a: run(comparison.a),
    b: run(comparison.b),
    paired: comparison.paired,
    only_in_a: comparison.onlyInA,
    only_in_b: comparison.onlyInB,
    families: comparison.groups.map((group) => ({
      family: group.family,
      tasks: group.tasks,
      success_a: rounded(group.successA),
      success_b: rounded(group.successB),
      success_difference: intervalJson(group.success),
      mcnemar: mcnemarJson(group.mcnemar),
      scored_tasks: group.scoredTasks,
      mean_score_a: group.meanScoreA === null ? null : rounded(group.meanScoreA),
      mean_score_b: group.meanScoreB === null ? null : rounded(group.meanScoreB),
      score_difference: intervalJson(group.score),
    })),
    totals: { a: totalsJson(comparison.totals.a), b: totalsJson(comparison.totals.b) },
    flipped_to_pass: comparison.flippedToPass,
    flipped_to_fail: comparison.flippedToFail,
    bootstrap: { resamples: comparison.resamples, seed: comparison.seed },
  };
}

const percent = (value: number): string => `${(100 * value).toFixed(1)} %`;
const points = (value: number): string => `${value >= 0 ? "+" : ""}${(100 * value).toFixed(1)}`;

function groupRow(group: GroupComparison): string[] {
  return [
    group.family,
    String(group.tasks),
    percent(group.successA),
    percent(group.successB),
    `${points(group.success.difference)} pt`,
    `[${points(group.success.low)}, ${points(group.success.high)}]`,
    group.mcnemar.pValue.toFixed(3),
    `${group.mcnemar.onlyA} / ${group.mcnemar.onlyB}`,
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  ")).join("\n");
}

export function renderComparison(comparison: Comparison, label: (text: string) => string = (text) => text): string {
  const side = (name: string, run: Comparison["a"]): string =>
    `${name}: ${label(run.directory)} (model ${label(run.model ?? "unknown")}, library ${label(run.libraryMode ?? "unknown")}, ${run.tasks} tasks)`;
  const lines = [side("A", comparison.a), side("B", comparison.b), `paired tasks: ${comparison.paired}`];
  if (comparison.onlyInA.length + comparison.onlyInB.length > 0) {
    lines.push(`not paired (left out): ${comparison.onlyInA.length} only in A, ${comparison.onlyInB.length} only in B`);
  }
  lines.push("");
  lines.push(
    table([
      ["family", "tasks", "success A", "success B", "B - A", `${Math.round(100 * (comparison.groups[0]?.success.confidence ?? 0.95))} % CI`, "McNemar p", "A only / B only"],
      ...comparison.groups.map(groupRow),
    ]),
  );
  const scored = comparison.groups.filter((group) => group.score !== null);
  if (scored.length > 0) {
    lines.push("");
    lines.push(
      table([
        ["family", "scored", "mean score A", "mean score B", "B - A", "95 % CI"],
        ...scored.map((group) => [
          group.family,
          String(group.scoredTasks),
          (group.meanScoreA ?? 0).toFixed(3),
          (group.meanScoreB ?? 0).toFixed(3),
          `${(group.score?.difference ?? 0) >= 0 ? "+" : ""}${(group.score?.difference ?? 0).toFixed(3)}`,
          `[${(group.score?.low ?? 0).toFixed(3)}, ${(group.score?.high ?? 0).toFixed(3)}]`,
        ]),
      ]),
    );
  }
  const { a, b } = comparison.totals;
  lines.push("");
  lines.push(
    table([
      ["paired tasks", "A", "B"],
      ["tokens", String(a.tokens), String(b.tokens)],
      ["cost", `$${a.costUsd.toFixed(4)}`, `$${b.costUsd.toFixed(4)}`],
      ["steps", String(a.steps), String(b.steps)],
    ]),
  );
  lines.push("");
  lines.push(`passed in B only (${comparison.flippedToPass.length}): ${comparison.flippedToPass.map(label).join(", ") || "none"}`);
  lines.push(`passed in A only (${comparison.flippedToFail.length}): ${comparison.flippedToFail.map(label).join(", ") || "none"}`);
  lines.push(`(paired bootstrap: ${comparison.resamples} resamples, seed ${comparison.seed}; McNemar: exact two-sided)`);
  return lines.join("\n");
}
