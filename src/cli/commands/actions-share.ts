// `dynabox actions import|retire|stats`: combine libraries, take an action out, and see how the
// library is used. (The read-only subcommands are in actions.ts.)

import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { importActions, readImportSource } from "../../actions/import.js";
import { libraryStats, renderStats } from "../../actions/stats.js";
import { ActionStore, defaultLibraryPath } from "../../actions/store.js";
import { UserError } from "../../errors.js";
import { printableLine, printableText } from "../terminal-text.js";

const importFlags = z.object({ library: z.string().min(1).optional(), json: z.boolean().default(false) });
const retireFlags = z.object({ library: z.string().min(1).optional(), version: z.coerce.number().int().positive().optional() });
const statsFlags = z.object({ library: z.string().min(1).optional(), top: z.coerce.number().int().positive().default(5), json: z.boolean().default(false) });

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UserError("DYNABOX_USAGE", `--${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid value"}`);
}

const libraryFile = (flag: string | undefined): string => (flag === undefined ? defaultLibraryPath() : path.resolve(flag));

export function registerLibrarySharingCommands(actions: Command, libraryOption: readonly [string, string]): void {
  actions
    .command("import")
    .description("merge another library (a .sqlite library, or the JSON of `actions list --all --json`) into this one: duplicates by normalized source, versions and provenance kept")
    .argument("<source>", "the library file or JSON file to import")
    .option(...libraryOption)
    .option("--json", "print JSON")
    .action((source: string, rawFlags: unknown) => {
      const flags = parse(importFlags, rawFlags);
      const target = libraryFile(flags.library);
      if (path.resolve(source) === target) throw new UserError("DYNABOX_USAGE", `${source} is the library itself; import another library into it (--library names the target)`);
      const { actions: incoming, skippedCandidates } = readImportSource(source);
      using store = ActionStore.open(target);
      const result = { ...importActions(store, incoming), skippedCandidates };
      if (flags.json) {
        process.stdout.write(JSON.stringify({ library: target, source: path.resolve(source), ...result }) + "\n");
        return;
      }
      const lines = [
        `imported into ${target}: ${result.added.length} new version(s), ${result.duplicates.length} duplicate(s) merged (${result.duplicates.reduce((sum, each) => sum + each.newOrigins, 0)} new origin(s)), ${skippedCandidates} candidate(s) left out`,
        ...result.added.map((each) => `  + ${each.name} v${each.version}`),
      ];
      process.stdout.write(printableText(lines.join("\n")) + "\n");
    });

  actions
    .command("retire")
    .description("take an action out of retrieval (its latest version, or --version N); older versions stay stored")
    .argument("<name>", "the action's name")
    .option(...libraryOption)
    .option("--version <n>", "this version instead of the latest")
    .action((name: string, rawFlags: unknown) => {
      const flags = parse(retireFlags, rawFlags);
      const file = libraryFile(flags.library);
      if (!existsSync(file)) throw new UserError("DYNABOX_INVALID_INPUT", `no action library at ${file}`);
      using store = ActionStore.open(file);
      const retired = store.retire(name, flags.version);
      if (retired === undefined) {
        throw new UserError("DYNABOX_INVALID_INPUT", `no action ${printableLine(name)}${flags.version === undefined ? "" : ` v${flags.version}`} in ${file} (see \`dynabox actions list --all\`)`);
      }
      process.stdout.write(`${printableLine(retired.name)} v${retired.version} is retired\n`);
    });

  actions
    .command("stats")
    .description("how the library is used: counts, the most used actions, and per task family the actions its tasks wrote")
    .option(...libraryOption)
    .option("--top <n>", "actions listed per group", "5")
    .option("--json", "print JSON")
    .action((rawFlags: unknown) => {
      const flags = parse(statsFlags, rawFlags);
      const file = libraryFile(flags.library);
      if (!existsSync(file)) throw new UserError("DYNABOX_INVALID_INPUT", `no action library at ${file} yet (it is created when a task first records actions)`);
      using store = ActionStore.open(file);
      const stats = libraryStats(store, flags.top);
      process.stdout.write(flags.json ? JSON.stringify(stats) + "\n" : printableText(renderStats(stats)));
    });
}
