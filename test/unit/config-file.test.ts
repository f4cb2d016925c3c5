import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { configJsonSchema, evalConfigSchema, findConfigFile, readConfigFile, runConfigSchema, withConfig } from "../../src/cli/config-file.js";
import { addRunOptions, parseRunFlags } from "../../src/cli/commands/run.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});
async function scratch(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), "dynabox-config-"));
  folders.push(folder);
  return folder;
}

function runCommandWith(argv: string[]): { command: Command; flags: Record<string, unknown> } {
  const program = new Command().exitOverride();
  const command = addRunOptions(program.command("run").argument("[paths...]")).exitOverride();
  let flags: Record<string, unknown> = {};
  command.action((_paths: string[], raw: Record<string, unknown>) => {
    flags = raw;
  });
  program.parse(["node", "dynabox", "run", ...argv]);
  return { command, flags };
}

describe("the config file", () => {
  it("docs/config.schema.json is the JSON Schema made from the zod schema (regenerate it when this fails)", async () => {
    const committed = JSON.parse(await readFile("docs/config.schema.json", "utf8")) as unknown;
    expect(committed, "node -e \"import('./dist/cli/config-file.js').then(m=>process.stdout.write(JSON.stringify(m.configJsonSchema(),null,2)+'\\n'))\" > docs/config.schema.json").toEqual(configJsonSchema());
  });

  it("has a key for every flag of run, and no other", () => {
    const { command } = runCommandWith([]);
    const flagKeys = command.options.map((option) => option.attributeName()).filter((key) => key !== "config").sort();
    expect(Object.keys(runConfigSchema.shape).sort()).toEqual(flagKeys);
  });

  it("has eval keys only for eval's flags", async () => {
    const program = new Command();
    const { registerEvalCommand } = await import("../../src/cli/commands/eval.js");
    registerEvalCommand(program);
    const evalKeys = program.commands.find((command) => command.name() === "eval")!.options.map((option) => option.attributeName());
    for (const key of Object.keys(evalConfigSchema.shape)) expect(evalKeys).toContain(key);
  });

  it("fills in what the command line did not give; a flag on the command line wins", async () => {
    const folder = await scratch();
    const file = path.join(folder, "dynabox.config.yaml");
    await writeFile(file, "run:\n  model: from-file\n  maxSteps: 7\n  attempts: 3\n  task: [sab/4]\n");
    expect(findConfigFile(undefined, folder)).toBe(file);
    const { command, flags } = runCommandWith(["--attempts", "2", "--config", file]);
    const merged = withConfig(command, flags, readConfigFile(file).run);
    expect(merged).toMatchObject({ model: "from-file", maxSteps: "7", attempts: "2", task: ["sab/4"] });
    expect(parseRunFlags(flags, command)).toMatchObject({ model: "from-file", maxSteps: 7, attempts: 2, task: ["sab/4"] });
  });

  it("a mistake in the file is one line naming the file, the key and the flag", async () => {
    const folder = await scratch();
    const file = path.join(folder, "dynabox.config.json");
    await writeFile(file, JSON.stringify({ run: { maxSteps: "many" } }));
    expect(() => readConfigFile(file)).toThrow(/dynabox\.config\.json: run\.maxSteps \(the file's form of --max-steps\): /);
    await writeFile(file, JSON.stringify({ run: { maxStep: 3 } }));
    expect(() => readConfigFile(file)).toThrow(/maxStep; the keys are the flags' names in camelCase/);
    await writeFile(file, "{ not json");
    expect(() => readConfigFile(file)).toThrow(/is not valid JSON/);
    expect(() => findConfigFile(folder)).toThrow(/--config: .* is not a file/);
  });
});
