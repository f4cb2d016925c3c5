// Engine options every command that starts sandboxes shares: `--runtime <name>` (gVisor's runsc,
// or the engine's default). Added in one place to each command, and read by readyEngine(), so no
// command's own flag schema has to know about them.

import type { Command } from "commander";

export interface EngineSelection {
  /** The OCI runtime for every sandbox and grader; the engine's default when absent. */
  runtime?: string;
}

let selection: EngineSelection = {};

/** What the user chose for this invocation: --runtime, else DYNABOX_RUNTIME. */
export function engineSelection(): EngineSelection {
  const runtime = selection.runtime ?? (process.env.DYNABOX_RUNTIME || undefined);
  return runtime ? { runtime } : {};
}

/** Adds --runtime to the named subcommands; the value is recorded before the command's action runs. */
export function addEngineOptions(program: Command, commandNames: readonly string[]): void {
  for (const command of program.commands) {
    if (!commandNames.includes(command.name())) continue;
    command.option(
      "--runtime <name>",
      "OCI runtime for sandboxes and graders, e.g. runsc for gVisor (default: the engine's, or DYNABOX_RUNTIME)",
    );
    command.hook("preAction", (thisCommand) => {
      const runtime = (thisCommand.opts() as { runtime?: unknown }).runtime;
      selection = typeof runtime === "string" && runtime !== "" ? { runtime } : {};
    });
  }
}
