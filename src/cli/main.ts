#!/usr/bin/env node
// The command line: parse, call the library, render. Each command lives in its own file under
// commands/ and registers itself here; errors map to exit codes in one place (exit-codes.ts).

import { Command } from "commander";
import { registerCommands } from "./commands/index.js";
import { exitCodeFor, renderError } from "./exit-codes.js";

const program = new Command()
  .name("dynabox")
  .description("Run agent-written Python in locked-down Docker sandboxes, and grade it.")
  .version("0.1.0")
  .showHelpAfterError();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(renderError(error) + "\n");
  process.exitCode = exitCodeFor(error);
}
