// `dynabox eval`: grade predictions and patches made elsewhere, safely, in the upstream result
// shapes: RES-Q patches, ScienceAgentBench programs, an MLAgentBench workspace.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { mlabFamily, submissionFromFolder } from "../../grading/mlab.js";
import { createResqFamily } from "../../grading/resq.js";
import { createFigureJudge, type FigureJudge } from "../../grading/sab-judge.js";
import { defaultConcurrency } from "../../runs/concurrency.js";
import { evaluateItems, summarize, type EvalItem } from "../../runs/evaluate.js";
import { ResultsStore } from "../../runs/store.js";
import { discoverMlabTasks } from "../../tasks/mlab.js";
import { loadResqDataset } from "../../tasks/resq.js";
import type { Family } from "../../tasks/types.js";
import { keepEvalSubmissions } from "../../report/submission-file.js";
import { writeReportAfterCommand } from "../../report/write.js";
import { createRenderer } from "../progress.js";
import { planSabEval, writeSabEvalOutputs, type SabEvalPlan } from "../sab-eval.js";
import { gradingContext, interruptSignal } from "../shared.js";

const flagsSchema = z.object({
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
  runDir: z.string().optional(),
  concurrency: z.coerce.number().int().min(1).optional(),
  timeout: z.coerce.number().positive().optional(),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
});
type Flags = z.infer<typeof flagsSchema>;

const submissionRowSchema = z.object({ id: z.union([z.string(), z.number()]).transform(String), patch: z.string() });

interface Plan {
  family: Family;
  items: EvalItem[];
  /** The denominator of the headline metric: every task of the dataset. */
  total: number;
  notes: string[];
  /** ScienceAgentBench: the attempts and their tasks, for the eval logs and best-of-N. */
  sab?: { plan: SabEvalPlan; judge: FigureJudge | undefined };
}

async function planSab(flags: Flags): Promise<Plan> {
  if (flags.judgeModel === undefined && (flags.baseUrl !== undefined || flags.apiKey !== undefined)) {
    throw new UserError("DYNABOX_USAGE", "--base-url and --api-key are the figure judge's endpoint: give them with --judge-model MODEL");
  }
  const judge =
    flags.judgeModel === undefined
      ? undefined
      : createFigureJudge({
          model: flags.judgeModel,
          ...(flags.baseUrl !== undefined ? { baseURL: flags.baseUrl } : {}),
          ...(flags.apiKey !== undefined ? { apiKey: flags.apiKey } : {}),
        });
  const plan = await planSabEval(flags.sab!, flags.programs ?? [], {
    ...(flags.benchmark !== undefined ? { benchmark: flags.benchmark } : {}),
    ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
    ...(judge ? { judge } : {}),
  });
  return { family: "sab", items: plan.items, total: plan.total, notes: plan.notes, sab: { plan, judge } };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function planResq(dataset: string, submissionsFile: string | undefined, flags: Flags): Promise<Plan> {
  if (submissionsFile === undefined) {
    throw new UserError("DYNABOX_USAGE", "--resq needs --submissions FILE.jsonl (one {\"id\", \"patch\"} per line)");
  }
  const tasks = await loadResqDataset(dataset);
  const resqFamily = createResqFamily({
    pythonMismatch: flags.pythonMismatch,
    ...(flags.timeout !== undefined ? { testTimeoutSeconds: flags.timeout } : {}),
  });
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const text = await readText(submissionsFile, "the submissions file");
  const items: EvalItem[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      problems.push(`line ${index + 1}: not JSON`);
      return;
    }
    const row = submissionRowSchema.safeParse(parsed);
    if (!row.success) {
      problems.push(`line ${index + 1}: expected {"id": string, "patch": string}: ${row.error.issues.map((issue) => `${issue.path.join(".") || "row"} ${issue.message}`).join("; ")}`);
      return;
    }
    const task = byId.get(row.data.id);
    if (task === undefined) {
      problems.push(`line ${index + 1}: id ${JSON.stringify(row.data.id)} is not in ${dataset}`);
      return;
    }
    if (seen.has(row.data.id)) {
      problems.push(`line ${index + 1}: a second submission for id ${row.data.id}`);
      return;
    }
    seen.add(row.data.id);
    items.push({ task, module: resqFamily, submission: row.data.patch, item: "" });
  });
  if (problems.length > 0) {
    throw new UserError("DYNABOX_INVALID_INPUT", `${submissionsFile} has ${problems.length} problem(s); nothing was graded:\n  ${problems.join("\n  ")}`);
  }
  const missing = tasks.length - items.length;
  return { family: "resq", items, total: tasks.length, notes: missing > 0 ? [`${missing} task(s) have no submission and count as not passed`] : [] };
}

async function planMlab(taskPath: string, workspace: string | undefined): Promise<Plan> {
  if (workspace === undefined) throw new UserError("DYNABOX_USAGE", "--mlab needs --workspace DIR (the final workspace to grade)");
  const tasks = await discoverMlabTasks(taskPath);
  if (tasks.length !== 1) {
    throw new UserError("DYNABOX_INVALID_INPUT", `--mlab takes one task folder; ${taskPath} holds ${tasks.length} task(s)`);
  }
  const task = tasks[0]!;
  return { family: "mlab", items: [{ task, module: mlabFamily, submission: await submissionFromFolder(workspace), item: "" }], total: 1, notes: [] };
}

async function plan(flags: Flags): Promise<Plan> {
  const chosen = [flags.resq, flags.sab, flags.mlab].filter((value) => value !== undefined).length;
  if (chosen !== 1) {
    throw new UserError(
      "DYNABOX_USAGE",
      "give exactly one of: --resq DATASET.json --submissions FILE.jsonl | --sab ROWS.csv|.jsonl|.json --programs DIR [--programs DIR ...] [--benchmark DIR] | --mlab TASK_DIR --workspace DIR",
    );
  }
  if (flags.resq !== undefined) return planResq(flags.resq, flags.submissions, flags);
  if (flags.sab !== undefined) return planSab(flags);
  return planMlab(flags.mlab!, flags.workspace);
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("grade work made elsewhere in fresh locked-down containers, with the upstream result shapes")
    .option("--resq <dataset>", "a RES-Q dataset (JSON list)")
    .option("--submissions <file>", "with --resq: JSONL rows {\"id\", \"patch\"}")
    .option("--sab <rows>", "ScienceAgentBench rows: upstream's ScienceAgentBench.csv, JSONL, or a JSON list")
    .option("--benchmark <dir>", "with --sab: the benchmark/ folder (default: beside the rows file, or the rows file's own folder)")
    .option("--programs <dir>", "with --sab: a folder of pred_*.py programs; repeat for several attempts (best-of-N as upstream)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--judge-model <name>", "with --sab: judge the figure tasks with this model (upstream: gpt-4o-2024-05-13); without it they are not judged")
    .option("--base-url <url>", "with --judge-model: an OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    .option("--api-key <key>", "with --judge-model: the endpoint's key (or OPENAI_API_KEY)")
    .option("--mlab <task>", "an MLAgentBench task folder")
    .option("--workspace <dir>", "with --mlab: the final workspace to grade")
    .option("--run-dir <dir>", "where results.sqlite, results.jsonl and summary.json go (default: .dynabox/eval/<family>)")
    .option("--concurrency <n>", "items graded at once (default: the CPU count)")
    .option("--timeout <seconds>", "RES-Q: limit of one test run (60); ScienceAgentBench: limit of one program run (900)")
    .option("--python-mismatch <policy>", "RES-Q: a testbed_environment other than the image's Python 3.11: error, or warn and run on 3.11", "error")
    .option("--force", "grade again items that already have a result in the run folder")
    .option("--json", "print only the result lines, one JSON object per graded item")
    .action(async (rawFlags: unknown) => {
      const flags = flagsSchema.parse(rawFlags);
      const work = await plan(flags);
      const runDirectory = flags.runDir ?? path.join(".dynabox", "eval", work.family);
      const signal = interruptSignal();
      const context = await gradingContext(signal, { quiet: flags.json });
      const concurrency = flags.concurrency ?? defaultConcurrency();
      for (const note of work.notes) process.stderr.write(`dynabox: ${note}\n`);
      const renderer = createRenderer({ json: false });
      using store = ResultsStore.open(path.join(runDirectory, "results.sqlite"));
      // For the report: each submission as a diff (a warning, never a failure, when it can not be kept).
      for (const warning of await keepEvalSubmissions(runDirectory, work.items)) process.stderr.write(`dynabox: warning: ${warning}\n`);
      renderer.onEvent({ type: "run-start", kind: `eval ${work.family}`, tasks: work.items.length, concurrency, runDirectory });
      const verdicts = await evaluateItems(work.items, {
        context,
        concurrency,
        store,
        force: flags.force,
        onEvent: (event) => renderer.onEvent(event),
      }).finally(() => renderer.close());
      const lines = verdicts.map((verdict) => JSON.stringify(verdict.upstream));
      let summary = summarize(work.family, verdicts, work.total);
      await mkdir(runDirectory, { recursive: true });
      await writeFile(path.join(runDirectory, "results.jsonl"), lines.map((line) => line + "\n").join(""));
      if (work.sab) {
        const written = await writeSabEvalOutputs(runDirectory, work.sab.plan, verdicts, work.sab.judge);
        summary = written.summary;
        for (const note of written.notes) process.stderr.write(`dynabox: ${note}\n`);
      }
      await writeFile(path.join(runDirectory, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
      await writeReportAfterCommand(runDirectory, (line) => process.stderr.write(line + "\n"));
      if (flags.json) {
        process.stdout.write(lines.map((line) => line + "\n").join(""));
      } else {
        process.stdout.write(`${JSON.stringify(summary)}\nresults: ${path.join(runDirectory, "results.jsonl")}\n`);
      }
    });
}
