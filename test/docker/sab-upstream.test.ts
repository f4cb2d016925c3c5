// ScienceAgentBench as a researcher brings it from upstream, graded by the built CLI in real
// containers: the rows as ScienceAgentBench.csv graded exactly as the same rows in JSONL; two
// program folders as two attempts with upstream's best-of-N; eval logs that calculate_metrics.py's
// reading contract accepts; a figure task whose eval calls gpt4_visual_judge, judged through an
// OpenAI-compatible server (pass and fail), or reported as not judged without one; and a grading
// container that disappears is an infrastructure error, never "the program wrote nothing".

import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { SandboxError } from "../../src/errors.js";
import { createFigureJudge } from "../../src/families/sab/judge.js";
import { createSabFamily, gradeSabProgram, readProgramOutputs } from "../../src/families/sab/grader.js";
import { SAB_FIELDS, loadSabTasks } from "../../src/families/sab/task.js";
import { startScriptedOpenAIServer, type ChatCompletionRequestBody } from "../../src/testing/scripted-openai-server.js";
import { parquetBytes } from "../parquet-writer.js";
import { calculateMetricsFromFiles } from "../sab-calculate-metrics.js";
import { temporaryFolders } from "../temporary-folders.js";
import { docker, image, sandbox } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-sab-upstream-");

/** A 1x1 PNG: the gold figure (the judge, not pixels, decides). */
const GOLD_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

const FIGURE_ROW = {
  instance_id: "5",
  domain: "Bioinformatics",
  subtask_categories: "Data Visualization, Statistical Analysis",
  github_name: "dynabox/figure-fixture",
  task_inst: 'Plot y against x from values.csv as a line. Save the figure as "pred_results/fig_plot.png".',
  domain_knowledge: 'A "line plot" joins the points in x order, with commas, quotes and\nline breaks in this text.',
  dataset_folder_tree: "|-- figdata/\n|---- values.csv",
  dataset_preview: '[START Preview of figdata/values.csv]\nx,y\n1,2\n2,4\n...\n[END Preview of figdata/values.csv]',
  src_file_or_path: "None",
  gold_program_name: "fig_plot.py",
  output_fname: "pred_results/fig_plot.png",
  eval_script_name: "fig_plot_eval.py",
};

/** As upstream's figure evals: encode both images, ask score_figure, apply a threshold. */
const FIGURE_EVAL = `import os

from gpt4_visual_judge import encode_image, score_figure


def eval():
    try:
        pred_fig = encode_image("pred_results/fig_plot.png")
        gold_fig = encode_image("benchmark/eval_programs/gold_results/fig_plot_gold.png")
        full_response, score = score_figure(pred_fig, gold_fig)
    except Exception as error:  # upstream's evals catch errors like this
        return 0, repr(error)
    # What of the host's model access reached this container (upstream bakes the key into the image).
    exposed = sorted(name for name in os.environ if "KEY" in name or "OPENAI" in name or "AZURE" in name)
    return int(score >= 60), "\\n".join(full_response) + "\\nexposed: " + ",".join(exposed) + "\\nscore " + str(score)
`;

function plotProgram(title: string): string {
  return `import os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

data = pd.read_csv("benchmark/datasets/figdata/values.csv")
os.makedirs("pred_results", exist_ok=True)
plt.plot(data["x"], data["y"])
plt.savefig("pred_results/fig_plot.png", metadata={"Title": ${JSON.stringify(title)}})
`;
}

function toCsv(rows: Record<string, unknown>[]): string {
  const quote = (value: unknown) => {
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [SAB_FIELDS.join(","), ...rows.map((row) => SAB_FIELDS.map((field) => quote(row[field])).join(","))].join("\n") + "\n";
}

/** The fields of a fixture row the test reads back. */
interface FixtureRow {
  instance_id: string;
  gold_program_name: string;
}

/** Two bundled tasks plus the figure task, as CSV, JSONL and parquet, with benchmark/ beside them. */
async function fixture(): Promise<{ directory: string; rows: Record<string, unknown>[] }> {
  const directory = await scratch();
  const benchmark = path.join(directory, "benchmark");
  await cp("tasks/sab/benchmark", benchmark, { recursive: true });
  await mkdir(path.join(benchmark, "datasets", "figdata"), { recursive: true });
  await writeFile(path.join(benchmark, "datasets", "figdata", "values.csv"), "x,y\n1,2\n2,4\n3,9\n4,16\n");
  await writeFile(path.join(benchmark, "gold_programs", "fig_plot.py"), plotProgram("line-plot"));
  await writeFile(path.join(benchmark, "eval_programs", "fig_plot_eval.py"), FIGURE_EVAL);
  await writeFile(path.join(benchmark, "eval_programs", "gold_results", "fig_plot_gold.png"), GOLD_PNG);
  const bundled = (await readFile("tasks/sab/tasks.jsonl", "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  const rows = [bundled[0]!, bundled[2]!, FIGURE_ROW];
  await writeFile(path.join(directory, "ScienceAgentBench.csv"), toCsv(rows));
  await writeFile(path.join(directory, "rows.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
  await writeFile(path.join(directory, "validation-00000-of-00001.parquet"), parquetBytes(rows, SAB_FIELDS, "snappy"));
  return { directory, rows };
}

async function programFolder(directory: string, name: string, programs: Record<string, string>): Promise<string> {
  const folder = path.join(directory, name);
  await mkdir(folder, { recursive: true });
  for (const [file, source] of Object.entries(programs)) await writeFile(path.join(folder, file), source);
  return folder;
}

async function gold(name: string): Promise<string> {
  return readFile(path.join("tasks/sab/benchmark/gold_programs", name), "utf8");
}

async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

function dynabox(args: string[], env: Record<string, string> = {}) {
  // The environment variables of the judge's endpoint are set to nothing unless a test gives them.
  return execa("node", [cli, "eval", ...args], { reject: false, env: { OPENAI_API_KEY: "", OPENAI_BASE_URL: "", ...env } });
}

describe("ScienceAgentBench from upstream's files", () => {
  it("grades ScienceAgentBench.csv as the JSONL rows, two attempts best-of-2, and writes eval logs calculate_metrics reads", async () => {
    const { directory, rows } = await fixture();
    const [first, second] = rows.slice(0, 2).map((row) => ({ instance_id: String(row.instance_id), gold_program_name: String(row.gold_program_name) })) as [FixtureRow, FixtureRow];
    const attemptOne = await programFolder(directory, "attempt-1", {
      [`pred_${first.gold_program_name}`]: await gold(first.gold_program_name),
      [`pred_${second.gold_program_name}`]: "raise SystemExit('gave up')\n",
      "pred_fig_plot.py": plotProgram("line-plot"),
    });
    const attemptTwo = await programFolder(directory, "attempt-2", {
      [`pred_${first.gold_program_name}`]: "print('no output')\n",
      [`pred_${second.gold_program_name}`]: await gold(second.gold_program_name),
    });

    const csvRun = path.join(directory, "csv-run");
    const csv = await dynabox(["--sab", path.join(directory, "ScienceAgentBench.csv"), "--programs", attemptOne, "--programs", attemptTwo, "--run-dir", csvRun, "--concurrency", "2"]);
    expect(csv.exitCode, csv.stderr).toBe(0);
    const jsonlRun = path.join(directory, "jsonl-run");
    const jsonl = await dynabox(["--sab", path.join(directory, "rows.jsonl"), "--programs", attemptOne, "--run-dir", jsonlRun, "--concurrency", "2"]);
    expect(jsonl.exitCode, jsonl.stderr).toBe(0);
    const parquetRun = path.join(directory, "parquet-run");
    const parquet = await dynabox(["--sab", path.join(directory, "validation-00000-of-00001.parquet"), "--programs", attemptOne, "--run-dir", parquetRun, "--concurrency", "2"]);
    expect(parquet.exitCode, parquet.stderr).toBe(0);

    // The same rows from CSV, JSONL and the hub's parquet grade the same.
    const csvLines = await jsonLines(path.join(csvRun, "results.jsonl"));
    const jsonlLines = await jsonLines(path.join(jsonlRun, "results.jsonl"));
    expect(await jsonLines(path.join(parquetRun, "results.jsonl"))).toEqual(jsonlLines);
    expect(csvLines).toHaveLength(6);
    expect(csvLines.slice(0, 3).map(({ attempt: _attempt, ...line }) => line)).toEqual(jsonlLines);
    expect(jsonlLines.map((line) => [line.valid_program, line.success_rate])).toEqual([
      [1, 1],
      [0, 0],
      [1, 0],
    ]);
    // Without a judge the figure task is not judged: neither success nor failure.
    expect(jsonlLines[2]).toMatchObject({ not_judged: true, codebert_score: null });
    expect(String(jsonlLines[2]!.log_info)).toMatch(/^Not judged: .*--judge-model/);
    const single = JSON.parse(await readFile(path.join(jsonlRun, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(single).toMatchObject({ tasks: 3, VER: 2 / 3, SR: 1 / 2, not_judged: ["5"], codebert_score: { computed: false }, eval_logs: ["eval_log.jsonl"] });
    expect(jsonl.stderr).toMatch(/CodeBERTScore was not computed/);
    expect(jsonl.stderr).toMatch(/\? sab\/5 not-judged in [\d.]+ s: valid_program 1, not judged/);
    expect(jsonl.stderr).toMatch(/1 figure task\(s\) not judged \(no --judge-model\): 5/);

    // Best of two, as upstream selects.
    const summary = JSON.parse(await readFile(path.join(csvRun, "summary.json"), "utf8")) as {
      SR: number;
      VER: number;
      best_of_n: { selected: Array<{ taskId: string; attempt: number; decidedBy: string }>; selection_differs_possibly: string[] };
      attempts: Array<{ attempt: number; SR: number; VER: number }>;
      eval_logs: string[];
    };
    expect(summary.best_of_n.selected.map(({ taskId, attempt, decidedBy }) => [taskId, attempt, decidedBy])).toEqual([
      [first.instance_id, 1, "success_rate"],
      [second.instance_id, 2, "success_rate"],
      ["5", 1, "valid_program"],
    ]);
    expect(summary).toMatchObject({ SR: 1, VER: 1 });
    expect(summary.attempts.map(({ SR, VER }) => [SR, VER])).toEqual([
      [1 / 2, 2 / 3],
      [1 / 3, 1 / 3],
    ]);
    expect(summary.eval_logs).toEqual(["eval_log.attempt-1.jsonl", "eval_log.attempt-2.jsonl"]);

    // calculate_metrics.py's reading contract, with the researcher's own run logs (cost per task).
    const runLogs = [path.join(directory, "run-1.jsonl"), path.join(directory, "run-2.jsonl")];
    for (const file of runLogs) await writeFile(file, rows.map(() => JSON.stringify({ history: [], cost: 0.02 })).join("\n") + "\n");
    const metrics = await calculateMetricsFromFiles(runLogs, summary.eval_logs.map((name) => path.join(csvRun, name)));
    expect(metrics.selected).toEqual(summary.best_of_n.selected.map((each) => each.attempt - 1));
    expect(metrics.valid_program_rate).toBe(summary.VER);
    // calculate_metrics counts the figure task not judged as a failure (it needs a number there).
    expect(metrics.success_rate).toBe(2 / 3);
    expect(metrics.codebert_score).toBe(0);
    for (const line of await jsonLines(path.join(csvRun, "eval_log.attempt-2.jsonl"))) {
      expect(Object.keys(line).sort()).toEqual(["codebert_score", "log_info", "success_rate", "valid_program"]);
    }
  }, 400_000);

  it("judges a figure task through an OpenAI-compatible server: a close plot passes, a wrong one fails", async () => {
    const { directory } = await fixture();
    await writeFile(path.join(directory, "figure.jsonl"), JSON.stringify(FIGURE_ROW) + "\n");
    const close = await programFolder(directory, "close", { "pred_fig_plot.py": plotProgram("line-plot") });
    const wrong = await programFolder(directory, "wrong", { "pred_fig_plot.py": plotProgram("wrong-plot") });
    const seen: string[] = [];
    const answer = (request: ChatCompletionRequestBody) => {
      const content = request.messages?.[0]?.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
      expect(request).toMatchObject({ model: "judge-4o", temperature: 0.2, max_tokens: 1000, top_p: 0.95 });
      expect(content.map((part) => part.type)).toEqual(["text", "image_url", "image_url"]);
      expect(content[0]!.text).toMatch(/\[FINAL SCORE\]: 40/);
      const [predicted, goldImage] = [content[1]!.image_url!.url, content[2]!.image_url!.url].map((url) => {
        expect(url.startsWith("data:image/png;base64,")).toBe(true);
        return Buffer.from(url.slice("data:image/png;base64,".length), "base64");
      });
      expect(goldImage!.equals(GOLD_PNG)).toBe(true);
      expect(predicted!.subarray(0, 4).toString("latin1")).toBe("\x89PNG");
      const isClose = predicted!.includes("line-plot");
      seen.push(isClose ? "close" : "wrong");
      const answers = seen.filter((each) => each === (isClose ? "close" : "wrong")).length;
      // close: 90, 90, 90 -> 90; wrong: 30, 30, and an answer without a score (0) -> 20.
      return { reply: isClose ? "The plots match.\n[FINAL SCORE]: 90" : answers === 3 ? "It looks different." : "Different line.\n[FINAL SCORE]: 30" };
    };
    await using server = await startScriptedOpenAIServer({ replies: Array.from({ length: 6 }, () => answer) });
    const runDirectory = path.join(directory, "run");
    const result = await dynabox(
      ["--sab", path.join(directory, "figure.jsonl"), "--programs", close, "--programs", wrong, "--judge-model", "judge-4o", "--base-url", server.url, "--run-dir", runDirectory, "--concurrency", "1"],
      { OPENAI_API_KEY: "sk-host-secret", AZURE_OPENAI_KEY: "azure-host-secret" },
    );
    expect(server.requests.every((request) => request.headers.authorization === "Bearer sk-host-secret")).toBe(true);
    expect(result.exitCode, result.stderr).toBe(0);
    server.assertDone();
    const lines = await jsonLines(path.join(runDirectory, "results.jsonl"));
    expect(lines[0]).toMatchObject({ valid_program: 1, success_rate: 1, judge_model: "judge-4o", attempt: 1 });
    expect(String(lines[0]!.log_info)).toMatch(/The plots match[\s\S]*\nexposed: \nscore 90.0$/);
    expect(lines[1]).toMatchObject({ valid_program: 1, success_rate: 0, judge_model: "judge-4o", attempt: 2 });
    expect(String(lines[1]!.log_info)).toMatch(/score 20.0$/);
    expect(lines.some((line) => line.not_judged)).toBe(false);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toMatchObject({ SR: 1, not_judged: [], figure_judge: { model: "judge-4o" } });
  }, 400_000);
});

describe("validate on a figure task", () => {
  it("without a judge shows what it can: the gold program runs, the empty one is invalid, the figure is not judged", async () => {
    const { directory } = await fixture();
    await writeFile(path.join(directory, "figure.jsonl"), JSON.stringify(FIGURE_ROW) + "\n");
    const [task] = await loadSabTasks(path.join(directory, "figure.jsonl"));
    const result = await createSabFamily().validate({ docker, sandboxImage: image(), cacheDirectory: directory, runId: "test-sab-upstream" }, task!);
    expect(result.valid).toBe(true);
    expect(result.checks).toMatchObject({ figure_judged: false, gold: { valid_program: 1, not_judged: true }, empty: { valid_program: 0 } });
  });
});

describe("a figure judge that can not be reached", () => {
  it("is an error of the item (DYNABOX_MODEL), not a failed task", async () => {
    const { directory } = await fixture();
    await writeFile(path.join(directory, "figure.jsonl"), JSON.stringify(FIGURE_ROW) + "\n");
    const [task] = await loadSabTasks(path.join(directory, "figure.jsonl"));
    const judge = createFigureJudge({ model: "judge-4o", baseURL: "http://127.0.0.1:9/v1", apiKey: "x", maxRetries: 0 });
    const graded = gradeSabProgram({ docker, sandboxImage: image(), cacheDirectory: directory, runId: "test-sab-upstream" }, task!, { fileName: "pred_fig_plot.py", source: plotProgram("line-plot") }, { judge });
    await expect(graded).rejects.toMatchObject({ code: "DYNABOX_MODEL", message: expect.stringMatching(/figure judge \(judge-4o at http:\/\/127.0.0.1:9\/v1\) failed/) });
  });
});

describe("a grading container that disappears", () => {
  it("is an infrastructure error when the container is gone, and an empty output when only the folder is missing", async () => {
    const live = await sandbox({ network: false });
    expect(await readProgramOutputs(live, "pred_results", 1024 * 1024)).toEqual(new Map());
    await docker.getContainer(live.id).remove({ force: true });
    const error = await readProgramOutputs(live, "pred_results", 1024 * 1024).catch((caught: unknown) => caught);
    expect(SandboxError.isInstance(error) ? error.code : error).toBe("DYNABOX_SANDBOX_LOST");
  });
});
