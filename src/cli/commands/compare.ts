// `dynabox compare RUN_A RUN_B`: two runs on the same tasks, paired by task (see src/runs/compare.ts).

import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { compareRuns, loadRun } from "../../runs/compare.js";
import { comparisonJson, renderComparison } from "../../runs/compare-report.js";
import { printableLine } from "../terminal-text.js";

const flagsSchema = z.object({
  json: z.boolean().default(false),
  seed: z.coerce.number().int().min(0).default(1),
  resamples: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
});

export function registerCompareCommand(program: Command): void {
  program
    .command("compare")
    .description("compare two runs on the same tasks (e.g. --library-mode off against on): paired success, bootstrap interval, McNemar's test, costs, flipped tasks")
    .argument("<run-a>", "the baseline run's folder (its --run-dir)")
    .argument("<run-b>", "the other run's folder; differences are B - A")
    .option("--json", "print one JSON object")
    .option("--seed <n>", "the bootstrap's seed (the same seed gives the same interval)", "1")
    .option("--resamples <n>", "bootstrap resamples", "10000")
    .action((runA: string, runB: string, rawFlags: unknown) => {
      const parsed = flagsSchema.safeParse(rawFlags);
      if (!parsed.success) throw new UserError("DYNABOX_USAGE", `compare: ${parsed.error.issues.map((issue) => `--${issue.path.join(".")}: ${issue.message}`).join("; ")}`);
      const flags = parsed.data;
      const comparison = compareRuns(loadRun(runA), loadRun(runB), { seed: flags.seed, resamples: flags.resamples });
      process.stdout.write(flags.json ? JSON.stringify(comparisonJson(comparison)) + "\n" : renderComparison(comparison, printableLine) + "\n");
    });
}
