import type { Command } from "commander";

/** Adds every subcommand. Each file exports one `register*` function. */
export function registerCommands(program: Command): void {
  void program;
}
