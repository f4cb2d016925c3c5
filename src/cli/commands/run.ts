// `dynabox run [PATH...] --model M`: the agent on every task, graded, with the action library
// growing from the tasks that pass.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { execa } from "execa";
import { z } from "zod";
import { ActionStore, defaultLibraryPath } from "../../actions/store.js";
import { DEFAULT_AGENT_LIMITS, type AgentLimits } from "../../agent/loop.js";
import { chooseContextWindow } from "../../agent/context-window.js";
import { createModelClient } from "../../agent/model-client.js";
import { REPLY_FORMATS } from "../../agent/tool-replies.js";
import { UserError } from "../../errors.js";
import { readPricesOption } from "../../agent/pricing.js";
import { checkOutputFolder } from "../../sandbox/copy-out.js";
import { SandboxPool } from "../../sandbox/pool.js";
import { AgentEngines } from "../../runs/agent-engines.js";
import { openSelectedEngines, reportEngineTallies } from "../engine-options.js";
import { familyTables, LIBRARY_MODES, runAgentTasks, type TaskRunSummary } from "../../runs/agent-run.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { ResultsStore } from "../../runs/store.js";
import { discoverTasks, familyOptionsFromFlags, type DiscoveredTask } from "../../families/registry.js";
import { CONFIG_FILE_NAMES, findConfigFile, readConfigFile, withConfig } from "../config-file.js";
import { EXIT_INFRASTRUCTURE_ERRORS } from "../exit-codes.js";
import { assertPathFlag, MAX_TIMER_SECONDS, parseFlags, positiveNumber, wholeNumber } from "../flags.js";
import { failureReason } from "../../report/reason.js";
import { writeReportAfterCommand } from "../../report/write.js";
import { FAMILY_SUMMARIES } from "../../families/summaries.js";
import type { Family } from "../../families/types.js";
import { createRenderer } from "../progress.js";
import { assertSameSettings, dropOrphanCandidates, removeLeftovers } from "../run-folder.js";
import type { EnvironmentSettings } from "../../environments/settings.js";
import { addEnvironmentOptions, environmentSettingsFromFlags } from "../environment-options.js";
import { bundledTasksDirectory, gradingContext, interruptSignal } from "../shared.js";
import { addShardingOptions, parseShardingFlags, runBatchOnSlurm, type ShardingFlags } from "../sharding.js";
import { librarySeedPath, mergeShardLibraries, prepareLibrarySeed, seedShardLibrary } from "../../runs/merge-library.js";
import { storedRunSummaries } from "../../runs/merge-run.js";
import { selectShard, shardDirectory, writeShardMarker } from "../../runs/shards.js";

const flagsSchema = z.object({
  model: z.string().min(1).optional(),
  baseUrl: z.string().url().optional(),
  apiKey: z.string().optional(),
  prices: z.string().optional(),
  embeddingModel: z.string().min(1).optional(),
  judgeModel: z.string().min(1).optional(),
  concurrency: wholeNumber(1).optional(),
  attempts: wholeNumber(1).default(1),
  library: z.string().optional(),
  libraryMode: z.enum(LIBRARY_MODES).default("on"),
  contextTokens: wholeNumber(1_024).optional(),
  replyFormat: z.enum(REPLY_FORMATS).default("json"),
  runDir: z.string().optional(),
  maxSteps: wholeNumber(1).default(DEFAULT_AGENT_LIMITS.maxSteps),
  stepTimeout: positiveNumber().default(DEFAULT_AGENT_LIMITS.stepTimeoutSeconds),
  wallTime: positiveNumber().default(DEFAULT_AGENT_LIMITS.wallSeconds),
  maxTokens: wholeNumber(1).optional(),
  maxCost: positiveNumber().optional(),
  requestTimeout: positiveNumber().default(120),
  maxRetries: wholeNumber(0).default(4),
  infraRetries: wholeNumber(0).default(2),
  engineWait: positiveNumber().default(60),
  task: z.array(z.string()).default([]),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
  verbose: z.boolean().default(false),
  config: z.string().optional(),
});
/** What a good value of each flag looks like, for the one-line usage error. */
const FLAG_FIXES: Record<string, string> = {
  baseUrl: "a URL such as http://localhost:8000/v1",
  concurrency: "a whole number, at least 1",
  attempts: "a whole number, at least 1",
  libraryMode: `one of ${LIBRARY_MODES.join(", ")}`,
  contextTokens: "a whole number of tokens, at least 1024",
  replyFormat: `one of ${REPLY_FORMATS.join(", ")}`,
  maxSteps: "a whole number, at least 1",
  stepTimeout: `a number of seconds above 0, at most ${MAX_TIMER_SECONDS}`,
  wallTime: `a number of seconds above 0, at most ${MAX_TIMER_SECONDS}`,
  maxTokens: "a whole number, at least 1",
  maxCost: "a number of dollars above 0",
  requestTimeout: `a number of seconds above 0, at most ${MAX_TIMER_SECONDS}`,
  maxRetries: "a whole number, 0 or more",
  infraRetries: "a whole number, 0 or more",
  engineWait: `a number of seconds above 0, at most ${MAX_TIMER_SECONDS}`,
  pythonMismatch: "error or warn",
};
export type RunFlags = z.infer<typeof flagsSchema>;

export function addRunOptions(command: Command): Command {
  // run's own --verbose (every step) also shows every line of image builds.
  addEnvironmentOptions(command, { verbose: false });
  return command
    .option("--model <name>", "the model to call (or DYNABOX_MODEL)")
    .option("--base-url <url>", "an OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp (or OPENAI_BASE_URL)")
    .option("--api-key <key>", "the endpoint's key (or OPENAI_API_KEY)")
    .option("--prices <json-or-file>", "dollar prices per million tokens: {\"model\": {\"input\": 0.15, \"output\": 0.6}}")
    .option("--embedding-model <name>", "an embedding model on the same endpoint: action retrieval fuses it with BM25")
    .option("--judge-model <name>", "ScienceAgentBench figure tasks: judge them with this model on the same endpoint (upstream: gpt-4o-2024-05-13); without it they are not judged")
    .option("--concurrency <n>", "tasks at once (default: the CPU count)")
    .option("--attempts <k>", "attempts per task; a task passes when any attempt does", "1")
    .option("--library <file>", `the action library (default: ${defaultLibraryPath()})`)
    .option("--library-mode <mode>", "on: use the library and add to it; frozen: use it, add nothing; off: no library (for ablations)", "on")
    .option("--context-tokens <n>", "the model's context window; every request is fitted under it (default: what the server reports, a table of known models, else 8192)")
    .option("--reply-format <format>", "json (structured output, else fenced), fenced, tool (python/submit tool calls), or auto (tools, else json, else fenced)", "json")
    .option("--run-dir <dir>", "results, trajectories and the manifest (default: .dynabox/runs/<model>); a rerun resumes")
    .option("--max-steps <n>", "steps per task", String(DEFAULT_AGENT_LIMITS.maxSteps))
    .option("--step-timeout <seconds>", "time per step", String(DEFAULT_AGENT_LIMITS.stepTimeoutSeconds))
    .option("--wall-time <seconds>", "time per task", String(DEFAULT_AGENT_LIMITS.wallSeconds))
    .option("--max-tokens <n>", "tokens per task")
    .option("--max-cost <dollars>", "dollars per task")
    .option("--task <family/id>", "run only this task (repeatable), e.g. --task sab/4 --task resq/0_0", (value: string, previous: string[] = []) => [...previous, value])
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--request-timeout <seconds>", "time one model request may take before it is tried again", "120")
    .option("--max-retries <n>", "retries of a failed model request (5xx, 429, timeouts, lost connections), with backoff", "4")
    .option("--infra-retries <n>", "times a task that ended on an infrastructure error (model, engine, lost sandbox, grader crash) is tried again", "2")
    .option("--engine-wait <seconds>", "how long to wait for a Docker engine that stopped answering before failing its tasks", "60")
    .option("--force", "run again tasks that already finished in the run folder (and use a run folder made with other settings)")
    .option("--json", "print NDJSON events, the last one {\"type\": \"run-end\", ...}")
    .option("--quiet", "print only the summary, warnings and errors")
    .option("--verbose", "print every step, model retry and progress message")
    .option("--config <file>", `a config file of flag settings (default: ${CONFIG_FILE_NAMES.join(" or ")} in the working folder)`);
}

export function registerRunCommand(program: Command): void {
  addShardingOptions(addRunOptions(
    program
      .command("run")
      .description("run the agent on tasks: it writes Python in a sandbox, is graded in a fresh container, and grows its action library")
      .argument("[paths...]", "task folders, dataset files or folders of them (default: the bundled tasks)"),
  )).action(async (paths: string[], rawFlags: Record<string, unknown>, command: Command) => {
    const flags = parseRunFlags(rawFlags, command);
    const sharding = parseShardingFlags(rawFlags);
    await runCommand(paths.length > 0 ? paths : [bundledTasksDirectory()], flags, interruptSignal(), sharding, environmentSettingsFromFlags(rawFlags));
  });
}

/** The flags, with a config file's run settings where the command line gave none; a bad value exits 2 in one line. */
export function parseRunFlags(raw: Record<string, unknown>, command?: Command, options: { readConfig?: boolean } = {}): RunFlags {
  if (options.readConfig === false) return parseFlags(flagsSchema, raw, FLAG_FIXES);
  const configFile = findConfigFile(typeof raw.config === "string" ? raw.config : undefined);
  const settings = configFile === undefined ? undefined : readConfigFile(configFile).run;
  const merged = command === undefined ? { ...(settings ?? {}), ...raw } : withConfig(command, raw, settings);
  return parseFlags(flagsSchema, merged, FLAG_FIXES);
}

/**
 * The run itself, on the tasks at `paths` (or tasks already discovered); `dynabox demo` calls it
 * too, against its scripted server.
 */
export async function runCommand(
  paths: readonly string[] | readonly DiscoveredTask[],
  flags: RunFlags,
  signal: AbortSignal = interruptSignal(),
  sharding: ShardingFlags = {},
  environment: EnvironmentSettings = environmentSettingsFromFlags({}),
): Promise<TaskRunSummary[]> {
  const modelName = flags.model ?? process.env.DYNABOX_MODEL;
  if (!modelName) {
    throw new UserError("DYNABOX_USAGE", "say which model to call: --model NAME (or DYNABOX_MODEL), with --base-url for a server other than OpenAI");
  }
  // Everything a mistake can be found in is checked before any container starts.
  const baseDirectory = path.resolve(flags.runDir ?? path.join(".dynabox", "runs", modelName.replace(/[^A-Za-z0-9._-]+/g, "_")));
  assertPathFlag("runDir", flags.runDir ?? baseDirectory, "folder");
  if (flags.library) assertPathFlag("library", flags.library, "file");
  const model = createModelClient({
    model: modelName,
    ...(flags.baseUrl ? { baseURL: flags.baseUrl } : {}),
    ...(flags.apiKey ? { apiKey: flags.apiKey } : {}),
    ...(flags.prices ? { prices: readPricesOption(flags.prices) } : {}),
    timeoutMs: Math.round(flags.requestTimeout * 1000),
    maxRetries: flags.maxRetries,
  });
  const discovered = paths.every((entry) => typeof entry === "string")
    ? await discoverTasks(paths as readonly string[], familyOptionsFromFlags(flags))
    : (paths as readonly DiscoveredTask[]);
  const selected = selectTasks(discovered, flags.task);
  const tasks = sharding.shard ? selectShard(selected, sharding.shard) : selected;
  // The endpoint and the key, checked with one cheap request before any container starts: a
  // wrong key stops here (exit 3) instead of failing every task.
  const listedModels = await model.checkEndpoint(signal);
  const limits: AgentLimits = {
    maxSteps: flags.maxSteps,
    stepTimeoutSeconds: flags.stepTimeout,
    wallSeconds: flags.wallTime,
    ...(flags.maxTokens ? { maxTokens: flags.maxTokens } : {}),
    ...(flags.maxCost ? { maxCostUsd: flags.maxCost } : {}),
  };
  const contextWindow = chooseContextWindow(modelName, flags.contextTokens, flags.contextTokens === undefined ? listedModels : undefined);
  await checkOutputFolder(baseDirectory, "--run-dir");
  const userLibrary = flags.library ?? defaultLibraryPath();
  if (sharding.slurm) return runOnSlurm(baseDirectory, selected, flags, sharding.slurm, userLibrary, signal);
  const runDirectory = sharding.shard ? shardDirectory(baseDirectory, sharding.shard) : baseDirectory;
  const runId = `run-${path.basename(runDirectory)}-${process.pid}`;
  const settings = manifestSettings(modelName, limits, flags);
  // A run folder made with another model or settings is refused before anything is written to it.
  if (!flags.force) await assertSameSettings(runDirectory, settings);
  const context = { ...(await gradingContext(signal, { quiet: flags.json || flags.quiet, runId, environment })), runId };
  // --engine (or the config file's "engines"): the attempts spread over those engines, each up to its own concurrency.
  const engines = await openSelectedEngines(context, flags.json || flags.quiet);
  const concurrency = engines?.capacity ?? flags.concurrency ?? defaultConcurrency();
  const renderer = createRenderer({ json: flags.json, quiet: flags.quiet, verbose: flags.verbose });
  await mkdir(runDirectory, { recursive: true });
  const engine = (await context.docker.version()) as { Version?: string; ApiVersion?: string };
  const imageId = ((await context.docker.getImage(context.sandboxImage).inspect()) as { Id: string }).Id;
  await writeManifest(runDirectory, {
    model: modelName,
    baseURL: model.baseURL,
    image: context.sandboxImage,
    image_id: imageId,
    docker: { version: engine.Version ?? null, api_version: engine.ApiVersion ?? null },
    limits,
    library_mode: flags.libraryMode,
    reply_format: flags.replyFormat,
    context_window: contextWindow,
    run_id: runId,
    settings,
    flags: { ...flags, apiKey: flags.apiKey ? "(set)" : undefined },
    tasks: tasks.map(({ task }) => `${task.family}/${task.id}`),
    ...(engines ? { engines: engines.engines.map((engine) => ({ name: engine.name, kind: engine.kind, concurrency: engine.concurrency })) } : {}),
  });

  using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
  // A shard learns in its own copy of the library; the merge replays what it promoted.
  using library = ActionStore.open(sharding.shard ? seedShardLibrary(userLibrary, runDirectory, librarySeedPath(baseDirectory)) : userLibrary);
  dropOrphanCandidates(library);
  renderer.onEvent({ type: "run-start", kind: `run with ${modelName}`, tasks: tasks.length * flags.attempts, concurrency, runDirectory, runId });
  let fromStore = 0;
  const pool = new SandboxPool(context.docker, { size: engines ? 0 : Math.min(concurrency, 2) });
  const placed = engines ? new AgentEngines(engines) : undefined;
  const summaries = await runAgentTasks(tasks, {
    context,
    model,
    limits,
    pool,
    store,
    runDirectory,
    attempts: flags.attempts,
    concurrency,
    library,
    libraryMode: flags.libraryMode,
    contextTokens: contextWindow.tokens,
    replyFormat: flags.replyFormat,
    ...(flags.embeddingModel ? { embedder: model.embedder(flags.embeddingModel) } : {}),
    force: flags.force,
    onEvent: (event) => {
      if (event.type === "task-skip") fromStore += 1;
      renderer.onEvent(event);
    },
    resumeSettings: { pythonMismatch: flags.pythonMismatch },
    infrastructureRetries: flags.infraRetries,
    engineWaitMs: Math.round(flags.engineWait * 1000),
    ...(process.env.DYNABOX_RETRY_DELAY_MS ? { retryDelayMs: Number(process.env.DYNABOX_RETRY_DELAY_MS) } : {}),
    ...(placed ? { engines: placed } : {}),
  }).finally(async () => {
    renderer.close();
    await pool.dispose();
    await placed?.dispose();
    await removeLeftovers(context.docker, runId, Math.round(flags.engineWait * 1000), signal);
    // Each other engine's leftovers too; one that went down is not waited for.
    for (const engine of engines?.engines ?? []) {
      if (engine.docker !== context.docker && !engine.down) await removeLeftovers(engine.docker, runId, Math.round(flags.engineWait * 1000), signal).catch(() => undefined);
    }
  });

  reportEngineTallies(engines, flags.json || flags.quiet);
  if (sharding.shard) writeShardMarker(runDirectory, sharding.shard, { items: summaries.length, errors: summaries.filter((summary) => summary.outcome === "error").length });
  await reportRun(runDirectory, library.file, summaries, flags, {
    runId,
    fromStore,
    ...(engines ? { engines: engines.engines.map((engine) => ({ name: engine.name, finished: engine.finished, down: engine.down })) } : {}),
  });
  return summaries;
}

/** `run --slurm`: the shards run on the cluster; this command merges them and reports as an unsharded run does. */
async function runOnSlurm(
  runDirectory: string,
  tasks: readonly DiscoveredTask[],
  flags: RunFlags,
  slurm: NonNullable<ShardingFlags["slurm"]>,
  userLibrary: string,
  signal: AbortSignal,
): Promise<TaskRunSummary[]> {
  prepareLibrarySeed(userLibrary, runDirectory);
  const outcome = await runBatchOnSlurm({ runDirectory, items: tasks.length, slurm, force: flags.force, jobName: "dynabox-run", signal });
  using library = ActionStore.open(userLibrary);
  const learned = mergeShardLibraries(library, outcome.shardFolders);
  if (!flags.json) process.stderr.write(`[slurm] library ${library.file}: ${learned.promoted.length} new version(s), ${learned.merged.length} merged into identical ones\n`);
  using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
  const summaries = storedRunSummaries(store, tasks, flags.attempts);
  await writeManifest(runDirectory, {
    model: flags.model ?? process.env.DYNABOX_MODEL,
    flags: { ...flags, apiKey: flags.apiKey ? "(set)" : undefined },
    tasks: tasks.map(({ task }) => `${task.family}/${task.id}`),
    slurm: { job_ids: outcome.batch.jobIds, shards: outcome.count, submissions: outcome.batch.submissions, failed: outcome.batch.failed },
  });
  await reportRun(runDirectory, library.file, summaries, flags, { runId: null, fromStore: 0 });
  return summaries;
}

/** The run's tables, summary.json and last line (or NDJSON event). */
async function reportRun(
  runDirectory: string,
  libraryFile: string,
  summaries: TaskRunSummary[],
  flags: RunFlags,
  run: { runId: string | null; fromStore: number; engines?: { name: string; finished: number; down: boolean }[] },
): Promise<void> {
  const tables = familyTables(summaries);
  const totals = {
    tasks: summaries.length,
    tokens: summaries.reduce((sum, summary) => sum + summary.tokens, 0),
    cost_usd: summaries.reduce((sum, summary) => sum + summary.cost_usd, 0),
    container_seconds: summaries.reduce((sum, summary) => sum + summary.container_seconds, 0),
    /** Attempts taken from the results store (finished before with the same task, model and settings). */
    from_store: run.fromStore,
    /** Attempts that ended on an infrastructure error (not counted in any metric; a rerun retries them). */
    errors: summaries.filter((summary) => summary.outcome === "error").length,
  };
  const runEnd = {
    type: "run-end",
    run_directory: runDirectory,
    library: libraryFile,
    library_mode: flags.libraryMode,
    run_id: run.runId,
    tasks: summaries.map(({ id, family, attempt, outcome, score, steps, tokens, cost_usd, actions_created, actions_used, error_kind, reason, retries, stop_reason, error, upstream }) => ({
      id,
      family,
      attempt,
      outcome,
      reason: outcome === "error" ? (reason ?? null) : failureReason({ family, outcome, upstream, stopReason: stop_reason, error }),
      score,
      steps,
      tokens,
      cost_usd,
      actions_created,
      actions_used,
      // Infrastructure errors: whose fault and why; never counted in the families' metrics.
      ...(outcome === "error" ? { error_kind: error_kind ?? "grader-crash", reason: reason ?? null } : {}),
      ...(retries ? { retries } : {}),
    })),
    families: tables,
    totals,
    // --engine: attempts finished per engine, and whether it went down during the run.
    ...(run.engines ? { engines: run.engines } : {}),
  };
  await writeFile(path.join(runDirectory, "summary.json"), JSON.stringify(runEnd, null, 2) + "\n");
  await writeReportAfterCommand(runDirectory, (line) => process.stderr.write(line + "\n"));
  if (flags.json) {
    process.stdout.write(JSON.stringify(runEnd) + "\n");
  } else {
    process.stdout.write(renderTables(tables, totals) + `\nresults: ${runDirectory} (results.sqlite, trajectories/, summary.json)\nlibrary: ${libraryFile}\n`);
  }
  const errors = summaries.filter((summary) => summary.outcome === "error");
  if (errors.length > 0) {
    process.stderr.write(
      `dynabox: ${errors.length} attempt(s) ended on an error (${[...new Set(errors.map((summary) => summary.error_kind ?? "grader-crash"))].join(", ")}): ` +
        "not counted in the metrics; run the same command again to retry only them\n",
    );
    // A task that can not run as written (kind "input") is the user's to fix: exit 1 as for a task not valid.
    process.exitCode = errors.some((summary) => summary.error_kind !== "input") ? EXIT_INFRASTRUCTURE_ERRORS : 1;
  }
}

/** The settings a run folder's results depend on; a rerun with others would mix two experiments. */
function manifestSettings(model: string, limits: AgentLimits, flags: RunFlags): Record<string, unknown> {
  // Not the base URL: the same model served elsewhere (another port, a mirror) is the same experiment.
  return {
    model,
    limits,
    attempts: flags.attempts,
    library_mode: flags.libraryMode,
    reply_format: flags.replyFormat,
    python_mismatch: flags.pythonMismatch,
    judge_model: flags.judgeModel ?? null,
  };
}

/** The tasks named with --task (family/id), in the order given; all of them when none is named. */
export function selectTasks(tasks: readonly DiscoveredTask[], names: readonly string[]): DiscoveredTask[] {
  if (names.length === 0) return [...tasks];
  // A task named twice runs once (twice would write one trajectory file from two attempts at once).
  return [...new Set(names)].map((name) => {
    const found = tasks.find(({ task }) => `${task.family}/${task.id}` === name);
    if (found === undefined) {
      const known = tasks.map(({ task }) => `${task.family}/${task.id}`).join(", ");
      throw new UserError("DYNABOX_USAGE", `--task ${name}: no such task at the given paths; they hold: ${known}`);
    }
    return found;
  });
}

function renderTables(tables: Record<string, unknown>[], totals: Record<string, number>): string {
  const lines = ["family  tasks  metric                       errors   tokens     cost"];
  for (const table of tables) {
    const metric = FAMILY_SUMMARIES[table.family as Family].metricLine(table);
    lines.push(
      `${String(table.family).padEnd(6)}  ${String(table.tasks).padStart(5)}  ${metric.padEnd(27)}  ${String(table.errors ?? 0).padStart(6)}  ${String(table.tokens).padStart(7)}  $${Number(table.cost_usd).toFixed(4)}`,
    );
  }
  lines.push(`total   ${String(totals.tasks).padStart(5)}  container time ${totals.container_seconds?.toFixed(1)} s    ${String(totals.errors ?? 0).padStart(6)}  ${String(totals.tokens).padStart(7)}  $${Number(totals.cost_usd).toFixed(4)}`);
  return lines.join("\n");
}

async function writeManifest(runDirectory: string, fields: Record<string, unknown>): Promise<void> {
  const revision = await execa("git", ["rev-parse", "HEAD"], { reject: false, cwd: path.dirname(new URL(import.meta.url).pathname) });
  await writeFile(
    path.join(runDirectory, "manifest.json"),
    JSON.stringify(
      {
        schema_version: 1,
        started_at: new Date().toISOString(),
        dynabox_revision: revision.exitCode === 0 ? revision.stdout.trim() : null,
        node: process.version,
        ...fields,
      },
      null,
      2,
    ) + "\n",
  );
}
