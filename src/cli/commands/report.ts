// `dynabox report RUN_DIR [--out FILE.html]`: one self-contained HTML page about a run folder
// (made by run, eval or validate), to open in a browser, offline.

import type { Command } from "commander";
import { z } from "zod";
import { writeReport } from "../../report/write.js";

const flagsSchema = z.object({ out: z.string().min(1).optional() });

export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description("write an HTML report of a run folder: summary, metrics, a sortable table of tasks, each task's steps, feedback and diff")
    .argument("<run-dir>", "a folder written by run, eval or validate (its --run-dir)")
    .option("--out <file.html>", "where to write it (default: RUN_DIR/report.html)")
    .action(async (runDirectory: string, rawFlags: unknown) => {
      const flags = flagsSchema.parse(rawFlags);
      const file = await writeReport(runDirectory, flags.out);
      process.stdout.write(`${file}\n`);
    });
}
