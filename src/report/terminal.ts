// `dynabox show`: the report's content as terminal text. Every string that came from a model, a
// task or a sandbox goes through printableLine / printableText (src/cli/terminal-text.ts), so
// escape sequences in it can not rewrite the user's terminal.

import { printableLine, printableText } from "../cli/terminal-text.js";
import { FAMILY_SUMMARIES } from "../families/summaries.js";
import { FAMILIES, type Family } from "../families/types.js";
import { formatters } from "./html.js";
import type { RunView, TaskView } from "./model.js";
import { passAtK } from "./pass-at-k.js";

const MARKS: Record<string, string> = { passed: "✓", failed: "✗", error: "!", "not-judged": "?" };
/** Observations longer than this show their head and tail. */
const OBSERVATION_SHOWN = 1600;

/** family/id, with #N for an attempt of several and the program's name for an eval item. */
export function taskName(task: TaskView, severalAttempts = true): string {
  const item = task.attempt !== null ? (severalAttempts ? `#${task.attempt}` : "") : task.item ? ` ${task.item}` : "";
  return `${task.family}/${task.id}${item}`;
}

/** The run: its metrics per family, then one line per task that says why a task did not pass. */
export function renderRunText(run: RunView): string {
  const lines: string[] = [];
  const model = typeof run.manifest?.model === "string" ? ` with ${printableLine(run.manifest.model)}` : "";
  lines.push(`${run.kind}${model}: ${run.tasks.length} task(s) in ${printableLine(run.directory)}`);
  for (const table of run.families) {
    const family = String(table.family);
    // The family's own headline (src/families/<family>/summary.ts); nothing for a family this dynabox does not know.
    const metric = (FAMILIES as readonly string[]).includes(family) ? FAMILY_SUMMARIES[family as Family].metricLine(table) : "";
    const errors = typeof table.errors === "number" ? `, ${table.errors} infrastructure error(s)` : "";
    lines.push(`  ${printableLine(family).padEnd(5)} ${String(table.tasks ?? "").padStart(4)} task(s): ${metric}${errors}`);
  }
  if (run.families.length === 0) {
    // No summary (validate): the outcomes per family.
    for (const family of [...new Set(run.tasks.map((task) => task.family))]) {
      const ofFamily = run.tasks.filter((task) => task.family === family);
      const counts = ["passed", "failed", "not-judged", "error"].map((outcome) => [outcome, ofFamily.filter((task) => task.outcome === outcome).length] as const).filter(([, count]) => count > 0);
      lines.push(`  ${family.padEnd(5)} ${String(ofFamily.length).padStart(4)} task(s): ${counts.map(([outcome, count]) => `${count} ${run.kind === "validate" && outcome === "passed" ? "valid" : outcome}`).join(", ")}`);
    }
  }
  if (run.attempts > 1) {
    for (const row of passAtK(run.tasks)) lines.push(`  ${row.family.padEnd(5)} pass@${row.k} ${formatters.percent(row.value)} over ${row.tasks} task(s)`);
  }
  lines.push(`  total: ${formatters.integer(run.totals.tokens)} tokens, ${formatters.dollars(run.totals.costUsd)}, container time ${formatters.seconds(run.totals.containerSeconds)}`);
  lines.push("");
  for (const task of run.tasks) lines.push(taskLine(task, run.attempts > 1));
  return lines.join("\n") + "\n";
}

export function taskLine(task: TaskView, severalAttempts = true): string {
  const score = task.score === null ? "" : ` score ${formatters.number(task.score)}`;
  const steps = task.steps.length > 0 ? `, ${task.steps.length} step(s)` : "";
  const reason = task.reason ? `: ${printableLine(task.reason)}` : "";
  return `${MARKS[task.outcome] ?? "-"} ${printableLine(taskName(task, severalAttempts))} ${task.outcome}${score}${steps}${reason}`;
}

/** One task in full: facts, the grader's feedback, the submission, each step. */
export function renderTaskText(task: TaskView, severalAttempts = true): string {
  const out: string[] = [taskLine(task, severalAttempts), ""];
  const fact = (label: string, value: string | null): void => {
    if (value !== null && value !== "") out.push(`  ${label.padEnd(22)} ${value}`);
  };
  fact("outcome", task.outcome + (task.errorKind ? ` (${printableLine(task.errorKind)})` : ""));
  fact("why", task.reason ? printableLine(task.reason) : null);
  fact("score", task.score === null ? null : `${formatters.number(task.score)}${task.baseline !== null ? ` against a baseline of ${formatters.number(task.baseline)}` : ""}`);
  fact("agent stopped", task.stopReason ? printableLine(task.stopReason) : null);
  fact("tokens", task.tokens === null ? null : formatters.integer(task.tokens));
  fact("cost", task.costUsd === null ? null : formatters.dollars(task.costUsd));
  fact("model retries", task.steps.length > 0 ? String(task.retries) : null);
  fact("agent container time", task.containerSeconds === null ? null : formatters.seconds(task.containerSeconds));
  fact("grading time", task.gradingSeconds === null ? null : formatters.seconds(task.gradingSeconds));
  if (task.resources) {
    const resources = task.resources;
    fact("resources", `CPU ${formatters.seconds(resources.cpuSeconds)}, peak memory ${resources.peakMemoryMb === null ? "n/a" : `${formatters.number(resources.peakMemoryMb)} MB`}, output ${formatters.integer(resources.outputBytes)} bytes, ${resources.oomSteps} out of memory, ${resources.timedOutSteps} timed out`);
  }
  fact("actions created", task.actionsCreated.map(printableLine).join(", ") || (task.steps.length > 0 ? "none" : null));
  fact("library actions called", task.actionsUsed.map(printableLine).join(", ") || (task.steps.length > 0 ? "none" : null));
  fact("flagged for review", task.reviewFlags.map(printableLine).join("; ") || null);
  for (const entry of task.feedback) {
    out.push("", `── grader: ${printableLine(entry.label)}`, indent(printableText(entry.text.trimEnd())));
  }
  if (task.diff) out.push("", "── submission", indent(printableText(task.diff.trimEnd())));
  for (const step of task.steps) {
    const state = step.ok === true ? "ran" : step.ok === false ? "raised or was stopped" : step.parseError ? "reply not understood" : "no code";
    out.push("", `── step ${step.step}: ${state}, ${formatters.integer(step.tokens)} tokens, ${formatters.dollars(step.costUsd)}${step.attempts > 1 ? `, ${step.attempts - 1} retries` : ""}`);
    if (step.thought) out.push("  thought:", indent(printableText(step.thought.trimEnd()), 4));
    if (step.parseError) out.push("  reply not understood:", indent(printableText(step.parseError), 4));
    if (step.code !== null) out.push("  code:", indent(printableText(step.code.trimEnd()), 4));
    out.push("  observation:", indent(printableText(headAndTail(step.observation.trimEnd())), 4));
  }
  return out.join("\n") + "\n";
}

function headAndTail(text: string): string {
  if (text.length <= OBSERVATION_SHOWN) return text;
  const half = OBSERVATION_SHOWN / 2;
  return `${text.slice(0, half)}\n[... ${text.length - 2 * half} characters; the whole text is in the trajectory and the HTML report ...]\n${text.slice(-half)}`;
}

function indent(text: string, spaces = 2): string {
  const pad = " ".repeat(spaces);
  return text.split("\n").map((line) => pad + line).join("\n");
}

/** The tasks a name picks: "family/id" or a bare id (all attempts), with "#N" for attempt N or " ITEM" for an eval item. */
export function findTasks(run: RunView, name: string): TaskView[] {
  const named = (base: string) => (task: TaskView): boolean => `${task.family}/${task.id}` === base || task.id === base;
  const whole = run.tasks.filter(named(name));
  if (whole.length > 0) return whole;
  const attempt = /^(.*)#(\d+)$/.exec(name);
  if (attempt) return run.tasks.filter((task) => named(attempt[1]!)(task) && task.attempt === Number(attempt[2]));
  const item = /^(.*) (\S+)$/.exec(name);
  if (item) return run.tasks.filter((task) => named(item[1]!)(task) && task.item === item[2]);
  return [];
}
