// `dynabox actions list|show|search|export`: look into the action library (functions the agent
// wrote in tasks that passed) and export it as one Python module. Read-only: a library that does
// not exist yet is reported, never created.

import { printableText } from "../terminal-text.js";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { exportModule } from "../../actions/export.js";
import { retrieveActions, type RankedAction } from "../../actions/retrieve.js";
import { ActionStore, defaultLibraryPath } from "../../actions/store.js";
import type { StoredAction } from "../../actions/types.js";
import { UserError } from "../../errors.js";
import { registerLibrarySharingCommands } from "./actions-share.js";

const libraryFlag = { library: z.string().min(1).optional() };
const listFlags = z.object({ ...libraryFlag, all: z.boolean().default(false), json: z.boolean().default(false) });
const showFlags = z.object({ ...libraryFlag, version: z.coerce.number().int().positive().optional(), json: z.boolean().default(false) });
const searchFlags = z.object({ ...libraryFlag, limit: z.coerce.number().int().positive().default(10), json: z.boolean().default(false) });
const exportFlags = z.object({ ...libraryFlag });

function parseFlags<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag = issue?.path.join(".") ?? "";
  throw new UserError("DYNABOX_USAGE", `--${flag.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}: ${issue?.message ?? "invalid value"}`);
}

function libraryFile(flag: string | undefined): string {
  return flag === undefined ? defaultLibraryPath() : path.resolve(flag);
}

/** Opens the library for reading, or undefined when the file does not exist. */
function openExisting(file: string): ActionStore | undefined {
  return existsSync(file) ? ActionStore.open(file) : undefined;
}

function counts(action: StoredAction): string {
  return `${action.uses} used, ${action.successes} passed, ${action.failures} failed`;
}

/** Agent-written text may hold terminal escape sequences; show control characters as escapes. */
const printable = printableText;

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/** One line per action: name, version, status, counts, signature. */
export function renderList(actions: readonly StoredAction[]): string {
  if (actions.length === 0) return "";
  const rows = actions.map((action) => [
    action.name,
    action.version === null ? "-" : `v${action.version}`,
    action.status,
    `${action.uses}/${action.successes}/${action.failures}`,
    action.signature,
  ]);
  const header = ["NAME", "VERSION", "STATUS", "USED/PASSED/FAILED", "SIGNATURE"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const format = (row: string[]): string =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ");
  return printable([format(header), ...rows.map(format)].join("\n") + "\n");
}

export function renderAction(action: StoredAction, origins: { runId: string; taskId: string; step: number }[], versions: number[]): string {
  const lines = [
    `${action.name} ${action.version === null ? "(candidate)" : `v${action.version}`} [${action.status}]`,
    `signature: ${action.signature}`,
    `from: task ${action.taskId}, run ${action.runId}, step ${action.step}, ${action.createdAt}`,
    `counts: ${counts(action)}`,
  ];
  if (origins.length > 1) lines.push(`written by ${origins.length} passing tasks: ${origins.map((origin) => `${origin.taskId} (${origin.runId})`).join(", ")}`);
  if (versions.length > 1) lines.push(`versions: ${versions.map((version) => `v${version}`).join(", ")}`);
  if (action.imports.length > 0) lines.push(`imports: ${action.imports.join("; ")}`);
  if (action.dependencies.length > 0) lines.push(`calls: ${action.dependencies.join(", ")}`);
  if (action.freeNames.length > 0) lines.push(`unresolved names: ${action.freeNames.join(", ")}`);
  return printable(`${lines.join("\n")}\n\n${action.source}\n`);
}

export function renderSearch(hits: readonly RankedAction[]): string {
  return printable(hits
    .map((hit, index) => `${index + 1}. ${hit.action.signature}  [v${hit.action.version}, score ${hit.score.toFixed(3)}]\n   ${firstLine(hit.action.docstring) || "(no docstring)"}`)
    .join("\n") + (hits.length > 0 ? "\n" : ""));
}

function noLibrary(file: string): void {
  process.stderr.write(`dynabox: no action library at ${file} yet (it is created when a task first records actions)\n`);
}

export function registerActionsCommand(program: Command): void {
  // `actions show NAME --version N` must reach the subcommand, not the program's own --version:
  // program options are then recognised only before the subcommand (the program has no others).
  program.enablePositionalOptions();
  const actions = program
    .command("actions")
    .description("the action library: functions the agent wrote in tasks that passed, reused by later tasks");
  const libraryOption = ["--library <path>", `the library file (default ${defaultLibraryPath()})`] as const;

  actions
    .command("list")
    .description("list the current actions (latest promoted version of each name)")
    .option(...libraryOption)
    .option("--all", "every stored row: candidates, retired actions and older versions too")
    .option("--json", "print JSON")
    .action((rawFlags: unknown) => {
      const flags = parseFlags(listFlags, rawFlags);
      const file = libraryFile(flags.library);
      const store = openExisting(file);
      if (store === undefined && !flags.json) return noLibrary(file);
      try {
        const found = store?.list({ all: flags.all }) ?? [];
        process.stdout.write(flags.json ? JSON.stringify(found) + "\n" : renderList(found));
      } finally {
        store?.close();
      }
    });

  actions
    .command("show")
    .description("show one action: provenance, counts, imports and source")
    .argument("<name>", "the action's name")
    .option(...libraryOption)
    .option("--version <n>", "this version instead of the latest")
    .option("--json", "print JSON")
    .action((name: string, rawFlags: unknown) => {
      const flags = parseFlags(showFlags, rawFlags);
      const file = libraryFile(flags.library);
      const store = openExisting(file);
      if (store === undefined) throw new UserError("DYNABOX_INVALID_INPUT", `no action library at ${file}`);
      try {
        const action = store.get(name, flags.version);
        if (action === undefined) {
          const known = store.versions(name).map((each) => `v${each.version}`);
          const hint = known.length > 0 ? ` (stored versions: ${known.join(", ")})` : "";
          throw new UserError("DYNABOX_INVALID_INPUT", `no action ${name}${flags.version === undefined ? "" : ` v${flags.version}`} in ${file}${hint}`);
        }
        const origins = store.origins(action.id);
        const versions = store.versions(name).map((each) => each.version);
        process.stdout.write(flags.json ? JSON.stringify({ ...action, origins, versions }) + "\n" : renderAction(action, origins, versions));
      } finally {
        store.close();
      }
    });

  actions
    .command("search")
    .description("rank the current actions against a query (BM25 over name, signature and docstring)")
    .argument("<query...>", "words to search for")
    .option(...libraryOption)
    .option("--limit <n>", "at most this many results", "10")
    .option("--json", "print JSON")
    .action(async (words: string[], rawFlags: unknown) => {
      const flags = parseFlags(searchFlags, rawFlags);
      const file = libraryFile(flags.library);
      const store = openExisting(file);
      if (store === undefined && !flags.json) return noLibrary(file);
      try {
        const hits = store === undefined ? [] : await retrieveActions(store, words.join(" "), { limit: flags.limit });
        process.stdout.write(flags.json ? JSON.stringify(hits) + "\n" : renderSearch(hits));
        // An empty answer on stdout keeps scripts simple; a person is told why there is none.
        if (hits.length === 0 && !flags.json) process.stderr.write(`dynabox: no current action matches "${printable(words.join(" "))}" in ${file}\n`);
      } finally {
        store?.close();
      }
    });

  actions
    .command("export")
    .description("write the current actions as one importable Python module")
    .argument("<file>", "the .py file to write")
    .option(...libraryOption)
    .action(async (target: string, rawFlags: unknown) => {
      const flags = parseFlags(exportFlags, rawFlags);
      const file = libraryFile(flags.library);
      const store = openExisting(file);
      if (store === undefined) throw new UserError("DYNABOX_INVALID_INPUT", `no action library at ${file}`);
      try {
        const current = store.latest();
        await writeFile(target, exportModule(current, { library: file })).catch((error: unknown) => {
          throw new UserError("DYNABOX_INVALID_INPUT", `can not write ${target}: ${(error as Error).message}`, { cause: error });
        });
        process.stderr.write(`dynabox: wrote ${current.length} action(s) to ${target}\n`);
      } finally {
        store.close();
      }
    });

  registerLibrarySharingCommands(actions, libraryOption);
}
