// `dynabox validate [PATH...]`: each task's proof of validity (mlab: the starter scores as the
// baseline and the reference succeeds; sab: gold passes, an empty program fails; resq: the test
// fails at base and passes with the solution patch).

import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { ResultsStore } from "../../runs/store.js";
import { validateTasks } from "../../runs/validate.js";
import { discoverTasks } from "../../families/registry.js";
import { numberFlag, parseFlags } from "../flags.js";
import { addMlabPrepareOptions, mlabFamilyOptions, mlabPrepareFlagsSchema } from "../../families/mlab/options.js";
import { writeReportAfterCommand } from "../../report/write.js";
import { createRenderer } from "../progress.js";
import { openSelectedEngines, reportEngineTallies } from "../engine-options.js";
import { printableLine } from "../terminal-text.js";
import { addEnvironmentOptions, environmentSettingsFromFlags } from "../environment-options.js";
import { bundledTasksDirectory, gradingContext, interruptSignal } from "../shared.js";
import { addShardingOptions, mergedRunContext, parseShardingFlags, runBatchOnSlurm } from "../sharding.js";
import { selectShard, shardDirectory, writeShardMarker } from "../../runs/shards.js";

const flagsSchema = mlabPrepareFlagsSchema.extend({
  json: z.boolean().default(false),
  concurrency: numberFlag.pipe(z.number().int().min(1)).optional(),
  runDir: z.string().default(path.join(".dynabox", "validate")),
  force: z.boolean().default(false),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
});

export function registerValidateCommand(program: Command): void {
  const command = addShardingOptions(program
    .command("validate"))
    .description("check that tasks are well-formed and solvable: run each one's proof of validity in fresh containers")
    .argument("[paths...]", "task folders, dataset files or folders of them (default: the bundled tasks)")
    .option("--concurrency <n>", "tasks validated at once (default: the CPU count)")
    .option("--run-dir <dir>", "where the results database goes", path.join(".dynabox", "validate"))
    .option("--force", "validate again tasks that already have a result in the run folder")
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--json", "print one JSON array of {id, family, valid, checks, seconds}");
  addEnvironmentOptions(command);
  addMlabPrepareOptions(command).action(async (paths: string[], rawFlags: unknown) => {
      const flags = parseFlags(flagsSchema, rawFlags, {
        concurrency: "a whole number of tasks at once, at least 1 (e.g. --concurrency 2)",
        pythonMismatch: "error or warn (e.g. --python-mismatch warn)",
      });
      const sharding = parseShardingFlags(rawFlags);
      const warn = (message: string): void => void process.stderr.write(`dynabox: warning: ${printableLine(message)}\n`);
      const discovered = await discoverTasks(paths.length > 0 ? paths : [bundledTasksDirectory()], {
        resq: { pythonMismatch: flags.pythonMismatch },
        mlab: await mlabFamilyOptions(flags, warn),
      });
      const signal = interruptSignal();
      // --slurm: the shards validate on the cluster; this command merges and reports from the merged store.
      const slurm = sharding.slurm
        ? await runBatchOnSlurm({ runDirectory: flags.runDir, items: discovered.length, slurm: sharding.slurm, force: flags.force, jobName: "dynabox-validate", signal })
        : undefined;
      const runDirectory = sharding.shard ? shardDirectory(flags.runDir, sharding.shard) : flags.runDir;
      const context = slurm ? mergedRunContext(signal) : await gradingContext(signal, { quiet: flags.json, environment: environmentSettingsFromFlags(rawFlags) });
      // --engine (or the config file's "engines"): tasks spread over those engines, each up to its own concurrency.
      const engines = slurm ? undefined : await openSelectedEngines(context, false);
      const concurrency = engines?.capacity ?? flags.concurrency ?? defaultConcurrency();
      const renderer = createRenderer({ json: false });
      using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
      let tasks = sharding.shard ? selectShard(discovered, sharding.shard) : discovered;
      if (slurm) {
        const done = tasks.filter(({ task }) => store.has({ kind: "validate", family: task.family, taskId: task.id }));
        if (done.length < tasks.length) {
          process.stderr.write(`dynabox: ${tasks.length - done.length} task(s) have no result because their shard failed on the cluster; rerun the same command to validate only them\n`);
          process.exitCode = 1;
        }
        tasks = done;
      }
      renderer.onEvent({ type: "run-start", kind: "validate", tasks: tasks.length, concurrency, runDirectory });
      const reports = await validateTasks(tasks, {
        context,
        concurrency,
        store,
        force: flags.force && !slurm,
        onEvent: (event) => renderer.onEvent(event),
        settings: { pythonMismatch: flags.pythonMismatch },
        ...(engines ? { engines } : {}),
      }).finally(() => renderer.close());
      reportEngineTallies(engines, false);
      if (sharding.shard) writeShardMarker(runDirectory, sharding.shard, { items: tasks.length, errors: reports.filter((report) => "error" in report.checks).length });
      if (!sharding.shard) await writeReportAfterCommand(runDirectory, (line) => process.stderr.write(line + "\n"));
      const valid = reports.filter((report) => report.valid).length;
      const fromStore = reports.filter((report) => report.fromStore).length;
      if (fromStore > 0) process.stderr.write(`dynabox: ${fromStore} of ${reports.length} result(s) came from the store (validated before with the same task content)\n`);
      if (flags.json) process.stdout.write(JSON.stringify(reports.map(({ fromStore: _fromStore, ...report }) => report)) + "\n");
      else process.stdout.write(`${valid} of ${reports.length} task(s) valid\n`);
      if (valid < reports.length) process.exitCode = 1;
    });
}
