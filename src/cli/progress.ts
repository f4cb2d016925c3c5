// Renders run events: a live status line on a terminal, one plain line per finished task
// elsewhere (CI logs), or NDJSON on stdout with --json. Everything but NDJSON goes to stderr so
// stdout stays clean for results. Task ids, summaries and messages can be made by a task file,
// a model or a sandbox: each line is escaped whole (printableLine), so none can hold a raw
// escape sequence or break into a line of its own.

import type { RunEvent, TaskReference } from "../runs/events.js";
import { printableJson, printableLine } from "./terminal-text.js";

export interface ProgressRenderer {
  onEvent(event: RunEvent): void;
  close(): void;
}

export interface RendererOptions {
  json: boolean;
  /** Only warnings, errors and the run's start; no per-task lines. */
  quiet?: boolean;
  /** Also every step, model retry and progress message as a line of its own. */
  verbose?: boolean;
  stream?: NodeJS.WriteStream;
}

export function createRenderer(options: RendererOptions): ProgressRenderer {
  if (options.json) {
    return {
      onEvent: (event) => process.stdout.write(printableJson(event) + "\n"),
      close: () => {},
    };
  }
  const stream = options.stream ?? process.stderr;
  const quiet = options.quiet === true;
  const verbose = options.verbose === true && !quiet;
  const live = stream.isTTY === true && !quiet;
  const running = new Map<string, string>();
  const tokensByTask = new Map<string, number>();
  let finished = 0;
  let total = 0;
  let lastLine = "";
  const status = (): void => {
    if (!live) return;
    const active = [...running.entries()].map(([task, state]) => `${task} ${state}`).join(" | ");
    const line = printableLine(`[${finished}/${total}] ${active}`).slice(0, Math.max(20, (stream.columns ?? 100) - 1));
    stream.write(`\r\x1b[2K${line}`);
    lastLine = line;
  };
  const print = (text: string): void => {
    if (live && lastLine !== "") stream.write("\r\x1b[2K");
    stream.write(printableLine(text) + "\n");
    lastLine = "";
    status();
  };
  return {
    onEvent(event) {
      switch (event.type) {
        case "run-start":
          total = event.tasks;
          print(`${event.kind}: ${event.tasks} task(s), ${event.concurrency} at a time; results in ${event.runDirectory}${event.runId ? `; run id ${event.runId}` : ""}`);
          return;
        case "task-skip":
          finished += 1;
          if (!quiet) print(`- ${taskName(event)}: skipped (${event.reason})`);
          return;
        case "task-retry":
          print(`! ${taskName(event)}: ${event.kind} error, trying again in ${(event.delayMs / 1000).toFixed(1)} s (${event.retry} of ${event.of}): ${event.reason}`);
          return;
        case "model-retry":
          if (verbose) print(`  ${event.taskId} step ${event.step}: model call failed (${event.message}); retry in ${(event.delayMs / 1000).toFixed(1)} s`);
          else if (!quiet) {
            for (const key of running.keys()) if (key.endsWith(`/${event.taskId}`)) running.set(key, `step ${event.step}, model retry ${event.attempt}`);
            status();
          }
          return;
        case "task-start":
          running.set(`${taskName(event)}`, "started");
          status();
          return;
        case "task-progress":
          running.set(`${taskName(event)}`, event.message);
          if (verbose) print(`  ${taskName(event)}: ${event.message}`);
          else status();
          return;
        case "task-warning":
          print(`! ${taskName(event)}: warning: ${event.message}`);
          return;
        case "step-start":
          for (const key of running.keys()) if (key.endsWith(`/${event.taskId}`)) running.set(key, `step ${event.step}`);
          status();
          return;
        case "step-end": {
          const tokens = (tokensByTask.get(event.taskId) ?? 0) + event.promptTokens + event.completionTokens;
          tokensByTask.set(event.taskId, tokens);
          for (const key of running.keys()) {
            if (key.endsWith(`/${event.taskId}`)) running.set(key, `step ${event.step}, ${tokens} tokens, $${event.totalCostUsd.toFixed(4)}`);
          }
          if (verbose) print(`  ${event.taskId} step ${event.step}: ${event.ok === null ? "no code" : event.ok ? "ran" : "raised"}, ${tokens} tokens so far`);
          else status();
          return;
        }
        case "limit-reached":
          if (!quiet) print(`! ${event.taskId}: ${event.limit} limit reached, one last step`);
          return;
        case "task-end": {
          finished += 1;
          running.delete(`${taskName(event)}`);
          const mark = event.outcome === "passed" ? "✓" : event.outcome === "failed" ? "✗" : event.outcome === "not-judged" ? "?" : "!";
          // Quiet keeps the errors: they are what needs attention.
          if (quiet && event.outcome !== "error") return;
          print(`${mark} ${taskName(event)} ${event.outcome} in ${event.seconds.toFixed(1)} s: ${event.summary}`);
          return;
        }
      }
    },
    close() {
      if (live && lastLine !== "") stream.write("\r\x1b[2K");
    },
  };
}

/** "family/task", and the item when the batch has several for the task (runs, attempts). */
export function taskName(event: TaskReference): string {
  return event.item ? `${event.family}/${event.taskId} [${event.item}]` : `${event.family}/${event.taskId}`;
}
