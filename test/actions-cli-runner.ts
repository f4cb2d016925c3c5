// Runs `dynabox actions ...` in-process for unit tests: what it printed and the exit code the CLI
// would give, with stdout and stderr captured and restored whatever happens.

import { Command } from "commander";
import { vi } from "vitest";
import { registerActionsCommand } from "../src/cli/commands/actions.js";
import { exitCodeFor } from "../src/cli/exit-codes.js";

export async function runActionsCli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const program = new Command().name("dynabox").version("0.1.0").exitOverride();
  registerActionsCommand(program);
  let code = 0;
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    code = exitCodeFor(error);
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr, code };
}
