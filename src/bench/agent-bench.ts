// `dynabox bench --agent`: what the harness itself costs per agent step, everything but the
// model's answer, and how action retrieval grows with the library. Per library size (0, 1,000,
// 10,000 synthetic actions): retrieval p50/p99 over a set of task-like queries (the index built
// once before, timed apart), and per step: planning the request under the context budget (a
// conversation of long observations, counted with the real o200k tokenizer), a trivial cell's
// kernel round trip, candidate extraction of a step that defines a function (a kernel cell and a
// library write), and the trajectory write.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { extractActions } from "../actions/extract.js";
import { retrieveActions } from "../actions/retrieve.js";
import { ActionStore } from "../actions/store.js";
import { Conversation } from "../agent/conversation.js";
import { THOUGHT_CODE_RESPONSE_FORMAT } from "../agent/model-client.js";
import { promptBudget } from "../agent/context-budget.js";
import { systemPrompt, taskPrompt } from "../agent/prompts.js";
import { tokenCounterFor } from "../agent/tokens.js";
import { TrajectoryWriter } from "../agent/trajectory.js";
import { startSandbox } from "../sandbox/sandbox.js";
import { fillLibrary } from "./library-fixture.js";
import { quantile, round } from "./statistics.js";

export interface AgentBenchOptions {
  image: string;
  /** Agent steps timed per library size (default 100). */
  steps?: number;
  /** Library sizes (default 0, 1,000, 10,000). */
  sizes?: number[];
  /** Context window for the planning part (default 32,768 tokens). */
  contextTokens?: number;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface AgentBenchSize {
  actions: number;
  library_fill_s: number;
  index_build_ms: number;
  retrieval_p50_ms: number;
  retrieval_p99_ms: number;
  step_overhead_p50_ms: number;
  step_overhead_p99_ms: number;
  prompt_p50_ms: number;
  kernel_p50_ms: number;
  extraction_p50_ms: number;
  trajectory_p50_ms: number;
}

export interface AgentBenchResult {
  steps: number;
  context_tokens: number;
  sizes: AgentBenchSize[];
  targets: { step_overhead_p50_ms: number; retrieval_p50_ms_at_10000: number };
}

const QUERIES = [
  "Compute the mean PM2.5 per region from the station readings and write a CSV",
  "Filter the Stroop trials by reaction time and accuracy and save the kept trial ids",
  "Add a --reverse option to the sortlines command line tool",
  "Train a classifier that predicts the cultivar of a wine and write submission.csv",
  "load a csv table and filter rows by date",
  "plot the training loss per epoch and save the figure",
  "evaluate accuracy of predictions against labels",
  "merge two tables on a key column and export json",
];

const LONG_OBSERVATION = Array.from({ length: 250 }, (_, row) => `row ${row}: value ${(row * 7919) % 10007}, label ${row % 7}`).join("\n");

export async function benchAgent(docker: Dockerode, options: AgentBenchOptions): Promise<AgentBenchResult> {
  const steps = options.steps ?? 100;
  const sizes = options.sizes ?? [0, 1_000, 10_000];
  const contextTokens = options.contextTokens ?? 32_768;
  const progress = options.onProgress ?? (() => {});
  const folder = await mkdtemp(path.join(tmpdir(), "dynabox-bench-agent-"));
  const sandbox = await startSandbox(docker, { image: options.image, role: "bench" });
  const results: AgentBenchSize[] = [];
  try {
    await sandbox.exec("import dynabox_actions", { timeoutSeconds: 30 });
    for (const size of sizes) {
      options.signal?.throwIfAborted();
      using store = ActionStore.open(path.join(folder, `library-${size}.sqlite`));
      progress(`library of ${size} actions: filling`);
      const filled = performance.now();
      fillLibrary(store, size);
      const fillSeconds = (performance.now() - filled) / 1000;
      const built = performance.now();
      await retrieveActions(store, QUERIES[0] as string, { limit: 5 });
      const indexBuildMs = performance.now() - built;
      const retrieval: number[] = [];
      for (let round = 0; round < 25; round++) {
        for (const query of QUERIES) {
          const start = performance.now();
          await retrieveActions(store, query, { limit: 5 });
          retrieval.push(performance.now() - start);
        }
      }
      progress(`library of ${size} actions: ${steps} agent steps`);
      const counter = tokenCounterFor("gpt-4o-mini");
      const conversation = new Conversation([
        { role: "system", content: systemPrompt({ maxSteps: steps, stepTimeoutSeconds: 60 }) },
        { role: "user", content: taskPrompt(QUERIES[0] as string, []) },
      ]);
      const trajectory = new TrajectoryWriter(path.join(folder, `trajectory-${size}.jsonl`));
      const budget = promptBudget(contextTokens);
      const samples = { total: [] as number[], prompt: [] as number[], kernel: [] as number[], extraction: [] as number[], trajectory: [] as number[] };
      for (let step = 1; step <= steps; step++) {
        options.signal?.throwIfAborted();
        const code = `def helper_${step}(value: int) -> int:\n    """Add ${step}."""\n    return value + ${step}\n\nresult = helper_${step}(1)`;
        const t0 = performance.now();
        const plan = conversation.plan(budget, (text) => counter.count(text), [THOUGHT_CODE_RESPONSE_FORMAT]);
        const t1 = performance.now();
        const result = await sandbox.exec(code, { timeoutSeconds: 30 });
        const t2 = performance.now();
        // What recording a step's candidates costs: the extraction cell, then the library write.
        store.recordCandidates("bench-run", await extractActions(sandbox, code, { taskId: "bench/task", step }));
        const t3 = performance.now();
        const observation = `Observation:\n${LONG_OBSERVATION}\n(step ${step}, ok ${result.ok})`;
        trajectory.write({
          type: "step", step, new_messages: [], reply: code, thought: "bench", code, parse_error: null, observation, ok: result.ok,
          model_ms: 0, exec_ms: result.wallMs, prompt_tokens: plan.tokens, completion_tokens: 0, cost_usd: 0, attempts: 1,
        });
        conversation.addStep(step, { role: "assistant", content: JSON.stringify({ thought: "bench", code }) }, [{ role: "user", content: observation }], code, result.ok);
        const t4 = performance.now();
        samples.prompt.push(t1 - t0);
        samples.kernel.push(t2 - t1);
        samples.extraction.push(t3 - t2);
        samples.trajectory.push(t4 - t3);
        samples.total.push(t4 - t0);
      }
      store.discard("bench-run", "bench/task");
      results.push({
        actions: size,
        library_fill_s: round(fillSeconds, 2),
        index_build_ms: round(indexBuildMs, 1),
        retrieval_p50_ms: round(quantile(retrieval, 0.5)),
        retrieval_p99_ms: round(quantile(retrieval, 0.99)),
        step_overhead_p50_ms: round(quantile(samples.total, 0.5)),
        step_overhead_p99_ms: round(quantile(samples.total, 0.99)),
        prompt_p50_ms: round(quantile(samples.prompt, 0.5)),
        kernel_p50_ms: round(quantile(samples.kernel, 0.5)),
        extraction_p50_ms: round(quantile(samples.extraction, 0.5)),
        trajectory_p50_ms: round(quantile(samples.trajectory, 0.5)),
      });
    }
  } finally {
    await sandbox.dispose();
    await rm(folder, { recursive: true, force: true });
  }
  return { steps, context_tokens: contextTokens, sizes: results, targets: { step_overhead_p50_ms: 5, retrieval_p50_ms_at_10000: 5 } };
}
