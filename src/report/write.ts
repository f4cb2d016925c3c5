// Writes a run folder's report (RUN_DIR/report.html unless told otherwise), through a temporary
// file and a rename so that a reader never sees half a page.

import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { renderReport } from "./html.js";
import { loadRunView } from "./model.js";

export function defaultReportFile(runDirectory: string): string {
  return path.join(runDirectory, "report.html");
}

export async function writeReport(runDirectory: string, outFile?: string): Promise<string> {
  const run = await loadRunView(runDirectory);
  const file = path.resolve(outFile ?? defaultReportFile(run.directory));
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, renderReport(run));
  await rename(temporary, file);
  return file;
}

/**
 * For the end of `run`, `eval` and `validate`: the report is a view of results already stored,
 * so failing to write it is a warning on stderr, never the command's failure.
 */
export async function writeReportAfterCommand(runDirectory: string, say: (line: string) => void): Promise<string | null> {
  try {
    const file = await writeReport(runDirectory);
    say(`report: ${file}`);
    return file;
  } catch (error) {
    say(`dynabox: warning: the report was not written: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}
