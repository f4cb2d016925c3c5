// `dynabox show RUN_DIR [TASK]`: what the HTML report shows, on a terminal: the run's metrics
// and a line per task saying why it did not pass, or one task in full.

import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { loadRunView } from "../../report/model.js";
import { findTasks, renderRunText, renderTaskText, taskName } from "../../report/terminal.js";
import { printableLine } from "../terminal-text.js";

export function registerShowCommand(program: Command): void {
  program
    .command("show")
    .description("print a run folder's results on the terminal: metrics, each task's outcome and why; with TASK, its steps, feedback and diff")
    .argument("<run-dir>", "a folder written by run, eval or validate (its --run-dir)")
    .argument("[task]", "one task in full: family/id, with #N for attempt N (e.g. sab/4#2)")
    .action(async (runDirectory: string, name: string | undefined) => {
      const run = await loadRunView(runDirectory);
      if (name === undefined) {
        process.stdout.write(renderRunText(run));
        return;
      }
      const found = findTasks(run, name);
      if (found.length === 0) {
        const known = run.tasks.map((task) => printableLine(taskName(task, run.attempts > 1))).join(", ");
        throw new UserError("DYNABOX_USAGE", `no task ${printableLine(name)} in ${runDirectory}; it holds: ${known || "no tasks"}`);
      }
      process.stdout.write(found.map((task) => renderTaskText(task, run.attempts > 1)).join("\n"));
    });
}
