// `dynabox exec [file.py | -c CODE]`: run Python in a fresh locked-down sandbox and report what
// it did. The everyday way to run untrusted code safely.

import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { type Command, Option } from "commander";
import { z } from "zod";
import { UserError, describeError, isAbortError } from "../../errors.js";
import type { UnpackReport } from "../../sandbox/archive.js";
import { cellResultJson, type CellResult } from "../../sandbox/protocol.js";
import { checkCopyOutDestination } from "../../sandbox/copy-out.js";
import { startSandbox } from "../../sandbox/sandbox.js";
import { renderCellResult, renderNotCopied } from "../cell-output.js";
import { exitCodeFor } from "../exit-codes.js";
import { interruptSignal, readyEngine } from "../shared.js";
import { assertPathFlag, MAX_TIMER_SECONDS, parseFlags, positiveNumber } from "../flags.js";
import { printableJson, printableLine } from "../terminal-text.js";

const flagsSchema = z.object({
  code: z.string().optional(),
  timeout: positiveNumber().default(60),
  memory: z.coerce.number().int().min(64).default(2048),
  cpus: z.coerce.number().positive().default(1),
  network: z.boolean().default(false),
  copyIn: z.array(z.string()).default([]),
  copyOut: z.string().optional(),
  json: z.boolean().default(false),
});

type Flags = z.infer<typeof flagsSchema>;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Exit codes follow the shell's habits: 124 for a timeout, 137 for a kill (out of memory). */
export function execExitCode(result: CellResult): number {
  if (result.ok) return 0;
  if (result.timedOut) return 124;
  if (result.oom) return 137;
  return 1;
}

async function readCode(file: string | undefined, flags: Flags): Promise<string> {
  if (flags.code !== undefined && file !== undefined) {
    throw new UserError("DYNABOX_USAGE", "give either a file or -c CODE, not both");
  }
  if (flags.code !== undefined) return flags.code;
  if (file === undefined) throw new UserError("DYNABOX_USAGE", "nothing to run: give a Python file or -c CODE");
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UserError("DYNABOX_INVALID_INPUT", `can not read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function copyOutJson(folder: string, report: UnpackReport | undefined, error: unknown): Record<string, unknown> {
  if (report === undefined) return { folder, ok: false, error: describeError(error) };
  return { folder, ok: true, files: report.files, bytes: report.bytes, skipped: report.skipped };
}

export function registerExecCommand(program: Command): void {
  program
    .command("exec")
    .description("run Python in a fresh locked-down sandbox and print its output, status, time and memory")
    .argument("[file]", "a Python file to run")
    .option("-c, --code <code>", "Python code to run")
    .option("--timeout <seconds>", "stop the code after this many seconds", "60")
    .option("--memory <mb>", "memory limit in MiB (no swap on top)", "2048")
    .option("--cpus <n>", "CPU quota in cores", "1")
    .option("--network", "give the sandbox network access (off by default)")
    .addOption(new Option("--copy-in <path>", "a file or folder to copy into the workspace first (repeatable)").argParser(collect))
    .option("--copy-out <dir>", "copy the workspace to this host folder afterwards (a new or empty folder; links are not copied)")
    .option("--json", "print one JSON object instead of the output")
    .action(async (file: string | undefined, rawFlags: unknown) => {
      const flags = parseFlags(flagsSchema, rawFlags, { timeout: `a number of seconds above 0, at most ${MAX_TIMER_SECONDS} (about 24 days)` });
      if (flags.copyOut !== undefined) assertPathFlag("copyOut", flags.copyOut, "folder");
      const code = await readCode(file, flags);
      for (const source of flags.copyIn) {
        await stat(source).catch((error: unknown) => {
          throw new UserError("DYNABOX_INVALID_INPUT", `--copy-in ${source}: ${(error as Error).message}`, { cause: error });
        });
      }
      // Checked before anything runs, so a bad folder never costs the run's output.
      const copyOutFolder = flags.copyOut === undefined ? undefined : await checkCopyOutDestination(flags.copyOut);
      const signal = interruptSignal();
      const { docker, image } = await readyEngine(signal, flags.json);
      const sandbox = await startSandbox(docker, {
        image,
        role: "exec",
        network: flags.network,
        limits: { memoryMb: flags.memory, cpus: flags.cpus },
        signal,
      });
      try {
        for (const source of flags.copyIn) {
          const info = await stat(source);
          if (info.isDirectory()) await sandbox.putDirectory(source);
          else await sandbox.putFiles([{ path: path.basename(source), content: await readFile(source), mode: info.mode & 0o777 }]);
        }
        const result = await sandbox.exec(code, { timeoutSeconds: flags.timeout, signal });
        // A failed copy-out never costs the run's output: it is printed either way.
        let copyOutError: unknown;
        let copyOutReport: UnpackReport | undefined;
        if (copyOutFolder !== undefined) {
          try {
            copyOutReport = await sandbox.copyOut("/workspace", copyOutFolder);
            for (const skipped of copyOutReport.skipped) process.stderr.write(renderNotCopied(skipped));
          } catch (error) {
            if (isAbortError(error)) throw error;
            copyOutError = error;
          }
        }
        if (flags.json) {
          const copyOut = copyOutFolder === undefined ? {} : { copy_out: copyOutJson(copyOutFolder, copyOutReport, copyOutError) };
          process.stdout.write(printableJson({ ...cellResultJson(result), ...copyOut }) + "\n");
        } else {
          const rendered = renderCellResult(result);
          process.stdout.write(rendered.stdout);
          process.stderr.write(rendered.stderr);
        }
        if (copyOutError !== undefined) process.stderr.write(`dynabox: nothing was copied out: ${printableLine(describeError(copyOutError))}\n`);
        process.exitCode = copyOutError !== undefined && result.ok ? exitCodeFor(copyOutError) : execExitCode(result);
      } finally {
        await sandbox.dispose();
      }
    });
}
