// A run folder as `dynabox run` writes it, filled with hostile text where a model, a task or a
// sandbox could put text: task ids, the model name, thoughts, code, observations, grader
// feedback, action names, file names in the diff. The report and `show` must show all of it as
// text; nothing of it may run, become an element or an attribute, or reach the terminal raw.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ResultsStore } from "../src/runs/store.js";

/** Each payload sets window.__pwned (or makes an element) if it is ever parsed as HTML. */
export const HOSTILE_PAYLOADS = [
  `<script>window.__pwned = 1</script>`,
  `</textarea><img src=x class=pwned onerror="window.__pwned = 2">`,
  `"><svg class=pwned onload="window.__pwned = 3">`,
  `' onmouseover='window.__pwned = 4' x='`,
  `</script><script>window.__pwned = 5</script>`,
  `<iframe class=pwned srcdoc="<script>parent.__pwned = 6</script>"></iframe>`,
  `</pre></details><b class=pwned>bold</b>`,
] as const;

export const HOSTILE = HOSTILE_PAYLOADS.join(" ");
/** Terminal control: clears the screen and sets the window title if printed raw. */
export const TERMINAL_ATTACK = "\u001b[2J\u001b]0;owned\u0007\u009b31m";
/** Markdown whose link would run code if rendered as a link. */
export const HOSTILE_MARKDOWN = `**bold** [click me](javascript:window.__pwned=7) ![x](x" onerror="window.__pwned=8) <img src=x onerror="window.__pwned=9">`;
/** A task id with the attacks in it (no slash: ids are folder names). */
export const HOSTILE_ID = `t"><img src=x onerror=window.__pwned=10>`;

export async function writeHostileRun(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFile(
    path.join(directory, "manifest.json"),
    JSON.stringify({ schema_version: 1, started_at: "2026-11-30T00:00:00.000Z", model: `model ${HOSTILE}`, baseURL: "http://127.0.0.1:1/v1", image: "dynabox-sandbox:test", limits: { maxSteps: 3 }, flags: { attempts: 2 } }),
  );
  {
    using store = ResultsStore.open(path.join(directory, "results.sqlite"));
    // A RES-Q task that failed on its tests, attempt 1, with the hostile text everywhere.
    store.put(
      "run",
      { taskId: HOSTILE_ID, family: "resq", passed: false, score: 0, seconds: 2, upstream: { id: HOSTILE_ID, success: false, message: `FAIL: ${HOSTILE}`, test_suite_feedback: `${HOSTILE}\n${TERMINAL_ATTACK}` } },
      {
        item: "attempt-1",
        detail: { id: HOSTILE_ID, family: "resq", attempt: 1, outcome: "failed", score: 0, steps: 1, tokens: 120, cost_usd: 0.25, container_seconds: 3, actions_created: [`act_${HOSTILE}`], actions_used: [`used${TERMINAL_ATTACK}`], stop_reason: "submitted", error: null, upstream: null },
      },
    );
    // The same task passed on attempt 2: pass@1 0.5, pass@2 1.
    store.put(
      "run",
      { taskId: HOSTILE_ID, family: "resq", passed: true, score: 1, seconds: 2, upstream: { id: HOSTILE_ID, success: true, message: "PASS" } },
      { item: "attempt-2", detail: { id: HOSTILE_ID, family: "resq", attempt: 2, outcome: "passed", score: 1, steps: 0, tokens: 80, cost_usd: 0.5, container_seconds: 2, actions_created: [], actions_used: [], stop_reason: "submitted", error: null, upstream: null } },
    );
    // An MLAgentBench task that ran out of steps and improved too little.
    store.put(
      "run",
      { taskId: "wine", family: "mlab", passed: false, score: 0.7, seconds: 4, upstream: { task: "wine", score: 0.7, baseline: 0.66, improvement: 0.06, success: false, error: null } },
      { item: "attempt-1", detail: { id: "wine", family: "mlab", attempt: 1, outcome: "failed", score: 0.7, steps: 0, tokens: 50, cost_usd: 0.125, container_seconds: 5, actions_created: [], actions_used: [], stop_reason: "max-steps", error: null, upstream: null } },
    );
  }
  await writeFile(
    path.join(directory, "summary.json"),
    JSON.stringify({
      type: "run-end",
      tasks: [
        { id: HOSTILE_ID, family: "resq", attempt: 1, outcome: "failed", score: 0, steps: 1, tokens: 120, cost_usd: 0.25 },
        { id: HOSTILE_ID, family: "resq", attempt: 2, outcome: "passed", score: 1, steps: 0, tokens: 80, cost_usd: 0.5 },
        { id: "wine", family: "mlab", attempt: 1, outcome: "failed", score: 0.7, steps: 0, tokens: 50, cost_usd: 0.125 },
        // Not in the store: an attempt that ended in an infrastructure error.
        { id: "lost", family: "sab", attempt: 1, outcome: "error", score: null, steps: 0, tokens: 0, cost_usd: 0, error: `no such container ${HOSTILE}` },
      ],
      families: [
        { family: "mlab", tasks: 1, graded: 1, success_rate: 0, errors: 0 },
        { family: "resq", tasks: 1, graded: 1, passed: 1, "pass@1": 1, errors: 0 },
        { family: "sab", tasks: 1, graded: 0, VER: 0, SR: 0, errors: 1 },
      ],
      totals: { tasks: 4, tokens: 250, cost_usd: 0.875, container_seconds: 10 },
    }),
  );
  const trajectory = path.join(directory, "trajectories", "resq", HOSTILE_ID, "attempt-1.jsonl");
  await mkdir(path.dirname(trajectory), { recursive: true });
  const lines = [
    { type: "header", schema_version: 1, task: HOSTILE_ID, family: "resq", model: "m", started_at: "2026-11-30T00:00:00.000Z", limits: {} },
    {
      type: "step", step: 1, new_messages: [{ role: "system", content: "system" }, { role: "user", content: `Task: ${HOSTILE_MARKDOWN} ${HOSTILE}` }], reply: HOSTILE, thought: `${HOSTILE_MARKDOWN}\n\n${HOSTILE}`, code: `print("${HOSTILE}")\n# ${TERMINAL_ATTACK}`, parse_error: null,
      observation: `[stdout]\n${HOSTILE}\n${"x".repeat(5000)}\n${TERMINAL_ATTACK}tail ${HOSTILE}`, ok: false, model_ms: 1200, exec_ms: 300,
      prompt_tokens: 100, completion_tokens: 20, cost_usd: 0.25, attempts: 3,
      resources: { cpu_ms: 1500, peak_mem_mb: 42.5, output_bytes: 5200, timed_out: true, oom: false },
    },
    { type: "end", stop_reason: "submitted", steps: 1, prompt_tokens: 100, completion_tokens: 20, cost_usd: 0.25, seconds: 2 },
  ];
  await writeFile(trajectory, lines.map((line) => JSON.stringify(line)).join("\n") + "\n");
  const submission = path.join(directory, "submissions", "resq", HOSTILE_ID, "attempt-1.diff");
  await mkdir(path.dirname(submission), { recursive: true });
  await writeFile(
    submission,
    [`diff --git a/x${HOSTILE_PAYLOADS[2]}.py b/x${HOSTILE_PAYLOADS[2]}.py`, `--- a/x${HOSTILE_PAYLOADS[2]}.py`, `+++ b/x${HOSTILE_PAYLOADS[2]}.py`, "@@ -1 +1 @@", `-old ${HOSTILE}`, `+new ${HOSTILE}`, ""].join("\n"),
  );
}
