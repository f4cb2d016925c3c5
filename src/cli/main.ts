#!/usr/bin/env node
// The command line: parse, call the library, render. Each command lives in its own file under
// commands/ and registers itself here; errors map to exit codes in one place (exit-codes.ts).

import { Command } from "commander";
import { registerCommands } from "./commands/index.js";
import { exitCodeFor, renderError } from "./exit-codes.js";
import { printableLine } from "./terminal-text.js";

const program = new Command()
  .name("dynabox")
  .description("Run agent-written Python in locked-down Docker sandboxes, and grade it.")
  .version("0.1.0")
  .showHelpAfterError("(add --help for the options)");

registerCommands(program);
// commander's refusals (unknown options and commands) are thrown, not exited on, so they map to
// exit 2 like every other usage mistake; --help and --version still exit 0.
program.exitOverride();
for (const command of program.commands) exitOverrideAll(command);

// A promise nobody awaited that failed (a background removal during an engine outage) must not
// crash a run with a raw stack: it is logged as one line; the sources handle their own errors.
process.on("unhandledRejection", (reason) => {
  process.stderr.write(`dynabox: a background operation failed: ${printableLine(reason instanceof Error ? reason.message : String(reason))}\n`);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const text = renderError(error);
  if (text !== "") process.stderr.write(text + "\n");
  process.exitCode = exitCodeFor(error);
}

function exitOverrideAll(command: Command): void {
  command.exitOverride();
  for (const child of command.commands) exitOverrideAll(child);
}
