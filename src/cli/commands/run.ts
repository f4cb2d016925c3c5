// `dynabox run [PATH...] --model M`: the agent on every task, graded, with the action library
// growing from the tasks that pass.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { execa } from "execa";
import { z } from "zod";
import { ActionStore, defaultLibraryPath } from "../../actions/store.js";
import { DEFAULT_AGENT_LIMITS, type AgentLimits } from "../../agent/loop.js";
import { createModelClient } from "../../agent/model-client.js";
import { createFigureJudge } from "../../grading/sab-judge.js";
import { UserError } from "../../errors.js";
import { readPricesOption } from "../../agent/pricing.js";
import { SandboxPool } from "../../sandbox/pool.js";
import { familyTables, runAgentTasks, type TaskRunSummary } from "../../runs/agent-run.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { ResultsStore } from "../../runs/store.js";
import { discoverTasks, type DiscoveredTask } from "../../tasks/registry.js";
import { createRenderer } from "../progress.js";
import type { EnvironmentSettings } from "../../environments/settings.js";
import { addEnvironmentOptions, environmentSettingsFromFlags } from "../environment-options.js";
import { bundledTasksDirectory, gradingContext, interruptSignal } from "../shared.js";

const flagsSchema = z.object({
  model: z.string().min(1).optional(),
  baseUrl: z.string().url().optional(),
  apiKey: z.string().optional(),
  prices: z.string().optional(),
  embeddingModel: z.string().min(1).optional(),
  judgeModel: z.string().min(1).optional(),
  concurrency: z.coerce.number().int().min(1).optional(),
  attempts: z.coerce.number().int().min(1).default(1),
  library: z.string().optional(),
  runDir: z.string().optional(),
  maxSteps: z.coerce.number().int().min(1).default(DEFAULT_AGENT_LIMITS.maxSteps),
  stepTimeout: z.coerce.number().positive().default(DEFAULT_AGENT_LIMITS.stepTimeoutSeconds),
  wallTime: z.coerce.number().positive().default(DEFAULT_AGENT_LIMITS.wallSeconds),
  maxTokens: z.coerce.number().int().positive().optional(),
  maxCost: z.coerce.number().positive().optional(),
  task: z.array(z.string()).default([]),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
});
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
    .option("--run-dir <dir>", "results, trajectories and the manifest (default: .dynabox/runs/<model>); a rerun resumes")
    .option("--max-steps <n>", "steps per task", String(DEFAULT_AGENT_LIMITS.maxSteps))
    .option("--step-timeout <seconds>", "time per step", String(DEFAULT_AGENT_LIMITS.stepTimeoutSeconds))
    .option("--wall-time <seconds>", "time per task", String(DEFAULT_AGENT_LIMITS.wallSeconds))
    .option("--max-tokens <n>", "tokens per task")
    .option("--max-cost <dollars>", "dollars per task")
    .option("--task <family/id>", "run only this task (repeatable), e.g. --task sab/4 --task resq/0_0", (value: string, previous: string[] = []) => [...previous, value])
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--force", "run again tasks that already finished in the run folder")
    .option("--json", "print NDJSON events, the last one {\"type\": \"run-end\", ...}");
}

export function registerRunCommand(program: Command): void {
  addRunOptions(
    program
      .command("run")
      .description("run the agent on tasks: it writes Python in a sandbox, is graded in a fresh container, and grows its action library")
      .argument("[paths...]", "task folders, dataset files or folders of them (default: the bundled tasks)"),
  ).action(async (paths: string[], rawFlags: unknown) => {
    const flags = flagsSchema.parse(rawFlags);
    await runCommand(paths.length > 0 ? paths : [bundledTasksDirectory()], flags, interruptSignal(), environmentSettingsFromFlags(rawFlags));
  });
}

export function parseRunFlags(raw: unknown): RunFlags {
  return flagsSchema.parse(raw);
}

/**
 * The run itself, on the tasks at `paths` (or tasks already discovered); `dynabox demo` calls it
 * too, against its scripted server.
 */
export async function runCommand(
  paths: readonly string[] | readonly DiscoveredTask[],
  flags: RunFlags,
  signal: AbortSignal = interruptSignal(),
  environment: EnvironmentSettings = environmentSettingsFromFlags({}),
): Promise<TaskRunSummary[]> {
  const modelName = flags.model ?? process.env.DYNABOX_MODEL;
  if (!modelName) {
    throw new UserError("DYNABOX_USAGE", "say which model to call: --model NAME (or DYNABOX_MODEL), with --base-url for a server other than OpenAI");
  }
  // Everything a mistake can be found in is checked before any container starts.
  const model = createModelClient({
    model: modelName,
    ...(flags.baseUrl ? { baseURL: flags.baseUrl } : {}),
    ...(flags.apiKey ? { apiKey: flags.apiKey } : {}),
    ...(flags.prices ? { prices: readPricesOption(flags.prices) } : {}),
  });
  const discovered = paths.every((entry) => typeof entry === "string")
    ? await discoverTasks(paths as readonly string[], {
        resq: { pythonMismatch: flags.pythonMismatch },
        ...(flags.judgeModel
          ? { sab: { judge: createFigureJudge({ model: flags.judgeModel, ...(flags.baseUrl ? { baseURL: flags.baseUrl } : {}), ...(flags.apiKey ? { apiKey: flags.apiKey } : {}) }) } }
          : {}),
      })
    : (paths as readonly DiscoveredTask[]);
  const tasks = selectTasks(discovered, flags.task);
  const limits: AgentLimits = {
    maxSteps: flags.maxSteps,
    stepTimeoutSeconds: flags.stepTimeout,
    wallSeconds: flags.wallTime,
    ...(flags.maxTokens ? { maxTokens: flags.maxTokens } : {}),
    ...(flags.maxCost ? { maxCostUsd: flags.maxCost } : {}),
  };
  const runDirectory = path.resolve(flags.runDir ?? path.join(".dynabox", "runs", modelName.replace(/[^A-Za-z0-9._-]+/g, "_")));
  const runId = `run-${path.basename(runDirectory)}-${process.pid}`;
  const context = { ...(await gradingContext(signal, { quiet: flags.json, runId, environment })), runId };
  const concurrency = flags.concurrency ?? defaultConcurrency();
  const renderer = createRenderer({ json: flags.json });
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
    flags: { ...flags, apiKey: flags.apiKey ? "(set)" : undefined },
    tasks: tasks.map(({ task }) => `${task.family}/${task.id}`),
  });

  using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
  using library = ActionStore.open(flags.library ?? defaultLibraryPath());
  await using pool = new SandboxPool(context.docker, { size: Math.min(concurrency, 2) });
  renderer.onEvent({ type: "run-start", kind: `run with ${modelName}`, tasks: tasks.length * flags.attempts, concurrency, runDirectory });
  let fromStore = 0;
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
    ...(flags.embeddingModel ? { embedder: model.embedder(flags.embeddingModel) } : {}),
    force: flags.force,
    onEvent: (event) => {
      if (event.type === "task-skip") fromStore += 1;
      renderer.onEvent(event);
    },
    resumeSettings: { pythonMismatch: flags.pythonMismatch },
  }).finally(() => renderer.close());

  const tables = familyTables(summaries);
  const totals = {
    tasks: summaries.length,
    tokens: summaries.reduce((sum, summary) => sum + summary.tokens, 0),
    cost_usd: summaries.reduce((sum, summary) => sum + summary.cost_usd, 0),
    container_seconds: summaries.reduce((sum, summary) => sum + summary.container_seconds, 0),
    /** Attempts taken from the results store (finished before with the same task, model and settings). */
    from_store: fromStore,
  };
  const runEnd = {
    type: "run-end",
    run_directory: runDirectory,
    library: library.file,
    tasks: summaries.map(({ id, family, attempt, outcome, score, steps, tokens, cost_usd, actions_created, actions_used }) => ({
      id,
      family,
      attempt,
      outcome,
      score,
      steps,
      tokens,
      cost_usd,
      actions_created,
      actions_used,
    })),
    families: tables,
    totals,
  };
  await writeFile(path.join(runDirectory, "summary.json"), JSON.stringify(runEnd, null, 2) + "\n");
  if (flags.json) {
    process.stdout.write(JSON.stringify(runEnd) + "\n");
  } else {
    process.stdout.write(renderTables(tables, totals) + `\nresults: ${runDirectory} (results.sqlite, trajectories/, summary.json)\nlibrary: ${library.file}\n`);
  }
  if (summaries.some((summary) => summary.outcome === "error")) process.exitCode = 1;
  return summaries;
}

/** The tasks named with --task (family/id), in the order given; all of them when none is named. */
export function selectTasks(tasks: readonly DiscoveredTask[], names: readonly string[]): DiscoveredTask[] {
  if (names.length === 0) return [...tasks];
  return names.map((name) => {
    const found = tasks.find(({ task }) => `${task.family}/${task.id}` === name);
    if (found === undefined) {
      const known = tasks.map(({ task }) => `${task.family}/${task.id}`).join(", ");
      throw new UserError("DYNABOX_USAGE", `--task ${name}: no such task at the given paths; they hold: ${known}`);
    }
    return found;
  });
}

function renderTables(tables: Record<string, unknown>[], totals: Record<string, number>): string {
  const lines = ["family  tasks  metric                       tokens     cost"];
  for (const table of tables) {
    const metric =
      table.family === "resq"
        ? `pass@1 ${percent(table["pass@1"])}`
        : table.family === "sab"
          ? `SR ${percent(table.SR)}  VER ${percent(table.VER)}`
          : `success rate ${percent(table.success_rate)}`;
    lines.push(`${String(table.family).padEnd(6)}  ${String(table.tasks).padStart(5)}  ${metric.padEnd(27)}  ${String(table.tokens).padStart(7)}  $${Number(table.cost_usd).toFixed(4)}`);
  }
  lines.push(`total   ${String(totals.tasks).padStart(5)}  container time ${totals.container_seconds?.toFixed(1)} s    ${String(totals.tokens).padStart(7)}  $${Number(totals.cost_usd).toFixed(4)}`);
  return lines.join("\n");
}

function percent(value: unknown): string {
  return typeof value === "number" ? `${(100 * value).toFixed(1)} %` : "n/a";
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
