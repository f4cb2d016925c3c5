// `dynabox eval`: grade predictions and patches made elsewhere, safely, in the upstream result
// shapes: RES-Q patches, ScienceAgentBench programs, an MLAgentBench workspace.

import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import type { SandboxLimits } from "../../sandbox/profile.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { openSelectedEngines } from "../engine-options.js";
import { evaluateItems, resultLine, summarizeBatch } from "../../runs/evaluate.js";
import { reviewFlagLines } from "../review-flags.js";
import { ResultsStore } from "../../runs/store.js";
import { checkOutputFolder } from "../../sandbox/copy-out.js";
import { isInfrastructureKind } from "../../runs/infrastructure-errors.js";
import { CONFIG_FILE_NAMES, findConfigFile, readConfigFile, withConfig } from "../config-file.js";
import { EXIT_INFRASTRUCTURE_ERRORS, EXIT_ITEM_ERRORS } from "../exit-codes.js";
import { numberFlag, parseFlags } from "../flags.js";
import { keepEvalSubmissions } from "../../report/submission-file.js";
import { writeReportAfterCommand } from "../../report/write.js";
import { createRenderer } from "../progress.js";
import { writeWhole, type EvalPlan } from "../../families/eval-plan.js";
import { EVAL_PLANNERS } from "../../families/eval-planners.js";
import { addMlabPrepareOptions, mlabPrepareFlagsSchema } from "../../families/mlab/options.js";
import { printableLine, printableText } from "../terminal-text.js";
import { addEnvironmentOptions, environmentSettingsFromFlags } from "../environment-options.js";
import { gradingContext, interruptSignal } from "../shared.js";
import { addShardingOptions, mergedRunContext, parseShardingFlags, runBatchOnSlurm } from "../sharding.js";
import { selectShard, shardDirectory, writeShardMarker } from "../../runs/shards.js";

const flagsSchema = mlabPrepareFlagsSchema.extend({
  resq: z.string().optional(),
  submissions: z.string().optional(),
  sab: z.string().optional(),
  benchmark: z.string().optional(),
  programs: z.array(z.string()).optional(),
  judgeModel: z.string().optional(),
  baseUrl: z.string().optional(),
  apiKey: z.string().optional(),
  mlab: z.string().optional(),
  workspace: z.string().optional(),
  logs: z.string().optional(),
  runDir: z.string().optional(),
  concurrency: numberFlag.pipe(z.number().int().min(1)).optional(),
  timeout: numberFlag.pipe(z.number().positive()).optional(),
  memory: numberFlag.pipe(z.number().int().min(64)).optional(),
  // Docker refuses a quota above the machine's CPU count when the container starts.
  cpus: numberFlag.pipe(z.number().positive().max(availableParallelism())).optional(),
  workspaceSize: numberFlag.pipe(z.number().int().min(16)).optional(),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
});
/** What a good value of each flag looks like, for the one-line usage error. */
const FLAG_FIXES: Record<string, string> = {
  concurrency: "a whole number of items at once, at least 1 (e.g. --concurrency 2)",
  timeout: "a number of seconds above 0 (e.g. --timeout 120)",
  memory: "a whole number of MiB per grading container, at least 64 (e.g. --memory 4096)",
  cpus: `a number of cores per grading container above 0 and at most this machine's ${availableParallelism()} (e.g. --cpus 0.5)`,
  workspaceSize: "a whole number of MiB for the grading container's workspace, at least 16 (e.g. --workspace-size 4096)",
  pythonMismatch: "error or warn (e.g. --python-mismatch warn)",
};
type Flags = z.infer<typeof flagsSchema>;

/** The one family flag given picks the family's planner (src/families/<family>/eval-items.ts). */
async function plan(flags: Flags): Promise<EvalPlan> {
  const chosen = EVAL_PLANNERS.filter((planner) => flags[planner.flag] !== undefined);
  if (chosen.length !== 1) {
    throw new UserError(
      "DYNABOX_USAGE",
      "give exactly one of: --resq DATASET.json --submissions FILE.jsonl | --sab ROWS.csv|.jsonl|.json|.parquet --programs DIR [--programs DIR ...] [--benchmark DIR] | --mlab TASK_DIR --workspace DIR | --mlab TASK_DIR --logs LOG_DIR",
    );
  }
  return chosen[0]!.plan(flags);
}

function graderLimits(flags: Flags): Partial<SandboxLimits> {
  return {
    ...(flags.memory !== undefined ? { memoryMb: flags.memory } : {}),
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.workspaceSize !== undefined ? { workspaceMb: flags.workspaceSize } : {}),
  };
}

export function registerEvalCommand(program: Command): void {
  const command = addShardingOptions(program
    .command("eval"))
    .description("grade work made elsewhere in fresh locked-down containers, with the upstream result shapes")
    .option("--resq <dataset>", "a RES-Q dataset (JSON list)")
    .option("--submissions <file>", 'with --resq: a JSON list of {"id", "patch"} (as upstream\'s submit.py reads) or JSONL')
    .option("--sab <rows>", "ScienceAgentBench rows: upstream's ScienceAgentBench.csv, JSONL, a JSON list, or the hub dataset's parquet file")
    .option("--benchmark <dir>", "with --sab: the benchmark/ folder (default: beside the rows file, or the rows file's own folder)")
    .option("--programs <dir>", "with --sab: a folder of pred_*.py programs; repeat for several attempts (best-of-N as upstream)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--judge-model <name>", "with --sab: judge the figure tasks with this model (upstream: gpt-4o-2024-05-13); without it they are not judged")
    .option("--base-url <url>", "with --judge-model: an OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    .option("--api-key <key>", "with --judge-model: the endpoint's key (or OPENAI_API_KEY)")
    .option("--mlab <task>", "an MLAgentBench task folder")
    .option("--workspace <dir>", "with --mlab: the final workspace to grade")
    .option("--logs <dir>", "with --mlab: an upstream MLAgentBench log folder; each run's traces/step_final_files is graded")
    .option("--run-dir <dir>", "where results.sqlite, results.jsonl and summary.json go (default: .dynabox/eval/<family>)")
    .option("--concurrency <n>", "items graded at once (default: the CPU count)")
    .option("--timeout <seconds>", "RES-Q: limit of one test run (60); ScienceAgentBench: of one program run (900); MLAgentBench: of each script (task.json)")
    .option("--memory <mb>", "memory limit of each grading container in MiB (2048)")
    .option("--cpus <n>", "CPU quota of each grading container in cores (1)")
    .option("--workspace-size <mb>", "size of each grading container's workspace in MiB (1024)")
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--force", "grade again items that already have a result in the run folder")
    .option("--json", "print only the result lines, one JSON object per item");
  addEnvironmentOptions(command);
  addMlabPrepareOptions(command.option("--config <file>", `a config file of flag settings, under "eval" (default: ${CONFIG_FILE_NAMES.join(" or ")} in the working folder)`)).action(
    async (rawFlags: Record<string, unknown>, self: Command) => {
      const configFile = findConfigFile(typeof rawFlags.config === "string" ? rawFlags.config : undefined);
      const { config: _config, ...given } = withConfig(self, rawFlags, configFile === undefined ? undefined : readConfigFile(configFile).eval);
      const sharding = parseShardingFlags(given);
      const flags = parseFlags(flagsSchema, given, FLAG_FIXES);
      const work = await plan(flags);
      const baseDirectory = flags.runDir ?? path.join(".dynabox", "eval", work.family);
      await checkOutputFolder(baseDirectory, "--run-dir");
      const signal = interruptSignal();
      // --slurm: the shards grade on the cluster; this command merges and reports from the merged store.
      const slurm = sharding.slurm
        ? await runBatchOnSlurm({ runDirectory: baseDirectory, items: work.items.length, slurm: sharding.slurm, force: flags.force, jobName: `dynabox-eval-${work.family}`, signal })
        : undefined;
      const runDirectory = sharding.shard ? shardDirectory(baseDirectory, sharding.shard) : baseDirectory;
      const limits = graderLimits(flags);
      const context = slurm
        ? mergedRunContext(signal)
        : { ...(await gradingContext(signal, { quiet: flags.json, environment: environmentSettingsFromFlags(given) })), ...(Object.keys(limits).length > 0 ? { graderLimits: limits } : {}) };
      const engines = slurm ? undefined : await openSelectedEngines(context, flags.json);
      const concurrency = engines?.capacity ?? flags.concurrency ?? defaultConcurrency();
      for (const note of work.notes) process.stderr.write(`dynabox: ${printableLine(note)}\n`);
      const renderer = createRenderer({ json: false });
      using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
      let items = sharding.shard ? selectShard(work.items, sharding.shard) : work.items;
      if (slurm) {
        const graded = items.filter(({ task, item }) => store.has({ kind: "eval", family: task.family, taskId: task.id, item }));
        if (graded.length < items.length) {
          process.stderr.write(`dynabox: ${items.length - graded.length} item(s) have no result because their shard failed on the cluster; rerun the same command to grade only them\n`);
          process.exitCode = 1;
        }
        items = graded;
      }
      // For the report: each submission as a diff (a warning, never a failure, when it can not be kept).
      for (const warning of await keepEvalSubmissions(runDirectory, items)) process.stderr.write(`dynabox: warning: ${printableLine(warning)}\n`);
      renderer.onEvent({ type: "run-start", kind: `eval ${work.family}`, tasks: items.length, concurrency, runDirectory });
      const batch = await evaluateItems(items, {
        context,
        concurrency,
        store,
        force: flags.force && !slurm,
        onEvent: (event) => renderer.onEvent(event),
        // What else can change a verdict: part of each item's resume key.
        settings: { timeout: flags.timeout ?? null, pythonMismatch: flags.pythonMismatch, limits },
        ...(engines ? { engines } : {}),
      }).finally(() => renderer.close());
      // Written whatever happened to single items, and after Ctrl-C for what finished.
      const lines = batch.results.map((result) => JSON.stringify(resultLine(result)));
      let summary = summarizeBatch(work.family, batch, work.total);
      await mkdir(runDirectory, { recursive: true });
      await writeWhole(path.join(runDirectory, "results.jsonl"), lines.map((line) => line + "\n").join(""));
      // The family's own upstream files beside results.jsonl (sab: eval logs and best-of-N; resq: results.json).
      if (work.writeOutputs) {
        const written = await work.writeOutputs(runDirectory, batch, summary, { shard: sharding.shard !== undefined });
        summary = written.summary;
        for (const note of written.notes) process.stderr.write(`dynabox: ${printableText(note)}\n`);
      }
      await writeWhole(path.join(runDirectory, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
      if (sharding.shard) writeShardMarker(runDirectory, sharding.shard, { items: items.length, errors: Number(summary.errors ?? 0) });
      if (!sharding.shard) await writeReportAfterCommand(runDirectory, (line) => process.stderr.write(line + "\n"));
      if (flags.json) {
        process.stdout.write(lines.map((line) => line + "\n").join(""));
      } else {
        process.stdout.write(`${JSON.stringify(summary)}\nresults: ${path.join(runDirectory, "results.jsonl")}\n`);
        for (const line of reviewFlagLines(batch.results.flatMap((result) => (result.verdict === null ? [] : [result.verdict])))) process.stdout.write(`${line}\n`);
      }
      const errors = Number(summary.errors);
      const fromStore = Number(summary.from_store);
      const warnings = Number(summary.warnings);
      process.stderr.write(
        `dynabox: ${batch.results.length} of ${work.items.length} item(s) finished: ${Number(summary.graded_now)} graded now, ${fromStore} from the store` +
          `${errors > 0 ? `, ${errors} could not be graded (see "errored" in summary.json; not counted as failures)` : ""}` +
          `${warnings > 0 ? `, ${warnings} warning(s)` : ""}\n`,
      );
      if (batch.interrupted) {
        process.stderr.write("dynabox: interrupted; the results of the finished items are written\n");
        process.exitCode = 130;
      } else if (errors > 0) {
        // An infrastructure error among them wins: a rerun may grade it (README, "Exit codes").
        const infrastructure = batch.results.some((result) => result.status === "error" && isInfrastructureKind(result.error?.kind ?? "input"));
        process.exitCode = infrastructure ? EXIT_INFRASTRUCTURE_ERRORS : EXIT_ITEM_ERRORS;
      }
    });
}
