// `dynabox demo`: the whole machine for a newcomer with no model at hand: a scripted
// OpenAI-compatible server on loopback answers with replies written in advance, and
// `dynabox run` goes through it on four bundled tasks, graded for real.

import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { DEMO_TASKS, demoReplies } from "../../demo/script.js";
import { discoverTasks } from "../../families/registry.js";
import { startScriptedOpenAIServer } from "../../testing/scripted-openai-server.js";
import { parseFlags } from "../flags.js";
import { bundledTasksDirectory, interruptSignal } from "../shared.js";
import { parseRunFlags, runCommand } from "./run.js";

const flagsSchema = z.object({ runDir: z.string().optional(), json: z.boolean().default(false), force: z.boolean().default(false) });

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("see dynabox work end to end without a language model: scripted replies, real sandboxes, real grading")
    .option("--run-dir <dir>", "where the demo's results go (default: a new folder under .dynabox/demo)")
    .option("--json", "print NDJSON events instead of progress")
    .option("--force", "with a --run-dir used before: run the tasks again instead of taking them from its results")
    .action(async (rawFlags: unknown) => {
      const flags = parseFlags(flagsSchema, rawFlags);
      const say = (text: string): void => {
        if (!flags.json) process.stderr.write(text + "\n");
      };
      const signal = interruptSignal();
      const all = await discoverTasks([bundledTasksDirectory()]);
      const tasks = DEMO_TASKS.map(({ family, id }) => {
        const found = all.find(({ task }) => task.family === family && task.id === id);
        if (found === undefined) throw new UserError("DYNABOX_TASK_INVALID", `the bundled task ${family}/${id} is missing from ${bundledTasksDirectory()}`);
        return found;
      });
      const runDirectory = path.resolve(flags.runDir ?? path.join(".dynabox", "demo", new Date().toISOString().replace(/[:.]/g, "-")));
      await using server = await startScriptedOpenAIServer({ replies: await demoReplies(bundledTasksDirectory()), model: "scripted-demo" });
      say(
        [
          "dynabox demo",
          "",
          "The replies in this demo are SCRIPTED: written in advance and served by a small OpenAI-compatible",
          `server on ${server.url}. No language model is involved. Everything else is real: each step's`,
          "code runs in a locked-down Docker sandbox, each task is graded in a fresh container, and the",
          "action library keeps the functions of tasks that pass. Watch the second task find the first",
          "task's functions with search_actions and call them.",
          "",
          `Tasks: ${DEMO_TASKS.map(({ family, id }) => `${family}/${id}`).join(", ")}`,
          "",
        ].join("\n"),
      );
      const summaries = await runCommand(
        tasks,
        parseRunFlags({
          model: "scripted-demo",
          baseUrl: server.url,
          apiKey: "demo",
          concurrency: "1",
          maxSteps: "8",
          stepTimeout: "120",
          runDir: runDirectory,
          library: path.join(runDirectory, "actions.sqlite"),
          json: flags.json,
          force: flags.force,
        }, undefined, { readConfig: false }),
        signal,
      );
      const created = summaries.flatMap((summary) => summary.actions_created.map((name) => `${name} (made in ${summary.family}/${summary.id})`));
      const reused = summaries.flatMap((summary) => summary.actions_used.map((name) => `${name} (called in ${summary.family}/${summary.id})`));
      say(
        [
          "",
          `Actions added to the library: ${created.join(", ") || "none"}`,
          `Actions reused by later tasks: ${reused.join(", ") || "none"}`,
          `Trajectories: ${path.join(runDirectory, "trajectories")}`,
          `The library: npx dynabox actions list --library ${path.join(runDirectory, "actions.sqlite")}`,
          "",
          "With a real model (any OpenAI-compatible server):",
          "  npx dynabox run tasks --model gpt-4o-mini                         # OPENAI_API_KEY set",
          "  npx dynabox run tasks --model qwen2.5-coder --base-url http://localhost:11434/v1   # Ollama",
        ].join("\n"),
      );
    });
}
