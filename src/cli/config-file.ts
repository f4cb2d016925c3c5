// A config file for what the flags of `run` and `eval` set: `dynabox.config.json`, `.yaml` or
// `.yml` in the working folder, or the file `--config` names. It is checked against a zod schema
// (docs/config.schema.json is generated from it, and a test keeps that file current); a flag
// given on the command line wins over the file, the file wins over the flag's default.

import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.js";
import { REPLY_FORMATS } from "../agent/tool-replies.js";
import { LIBRARY_MODES } from "../runs/agent-run.js";
import { flagName } from "./flags.js";

export const CONFIG_FILE_NAMES = ["dynabox.config.json", "dynabox.config.yaml", "dynabox.config.yml"] as const;

const whole = (min: number) => z.number().int().min(min);
const seconds = () => z.number().positive();

/** The settings of `dynabox run`, one key per flag (camelCase of the flag's name). */
/** The task-environment flags (src/cli/environment-options.ts), shared by run and eval. */
const environmentFields = {
    pipIndexUrl: z.string().url().describe("--pip-index-url: the Python package index task environments install from"),
    pipExtraIndexUrl: z.array(z.string().url()).describe("--pip-extra-index-url: more indexes, tried after it"),
    wheelhouse: z.string().describe("--wheelhouse: a folder of wheels for task environments"),
    allowDebianSubstitutes: z.boolean().describe("--allow-debian-substitutes: Debian packages where no index answers"),
    gpus: z.string().describe("--gpus: all, a count, or device ids, for tasks that declare a GPU"),
    gpusFor: z.enum(["declared", "all"]).describe("--gpus-for: which tasks get the --gpus devices (declared, or all)"),
};

export const runConfigSchema = z
  .object({
    model: z.string().min(1).describe("--model: the model to call"),
    baseUrl: z.string().url().describe("--base-url: an OpenAI-compatible endpoint"),
    apiKey: z.string().describe("--api-key: the endpoint's key (better: OPENAI_API_KEY in the environment)"),
    prices: z.string().describe("--prices: dollar prices per million tokens, JSON text or a file"),
    embeddingModel: z.string().min(1).describe("--embedding-model"),
    judgeModel: z.string().min(1).describe("--judge-model: ScienceAgentBench figure judge"),
    concurrency: whole(1).describe("--concurrency: tasks at once"),
    attempts: whole(1).describe("--attempts: attempts per task"),
    library: z.string().describe("--library: the action library file"),
    libraryMode: z.enum(LIBRARY_MODES).describe("--library-mode"),
    contextTokens: whole(1_024).describe("--context-tokens: the model's context window"),
    replyFormat: z.enum(REPLY_FORMATS).describe("--reply-format"),
    runDir: z.string().describe("--run-dir: the run folder"),
    maxSteps: whole(1).describe("--max-steps: steps per task"),
    stepTimeout: seconds().describe("--step-timeout: seconds per step"),
    wallTime: seconds().describe("--wall-time: seconds per task, model calls included"),
    maxTokens: whole(1).describe("--max-tokens: tokens per task"),
    maxCost: seconds().describe("--max-cost: dollars per task"),
    requestTimeout: seconds().describe("--request-timeout: seconds one model request may take"),
    maxRetries: whole(0).describe("--max-retries: retries of a failed model request"),
    infraRetries: whole(0).describe("--infra-retries: tries again of a task that ended on an infrastructure error"),
    engineWait: seconds().describe("--engine-wait: seconds to wait for a Docker engine that stopped answering"),
    task: z.array(z.string()).describe("--task: only these tasks (family/id)"),
    pythonMismatch: z.enum(["error", "warn"]).describe("--python-mismatch"),
    force: z.boolean().describe("--force: run again tasks that finished"),
    json: z.boolean().describe("--json: NDJSON events"),
    quiet: z.boolean().describe("--quiet: only the summary and errors"),
    verbose: z.boolean().describe("--verbose: every step and retry"),
    ...environmentFields,
  })
  .partial()
  .strict();

/** The settings of `dynabox eval` that hold across batches: the grading containers' limits and policies. */
export const evalConfigSchema = z
  .object({
    runDir: z.string().describe("--run-dir: the run folder"),
    concurrency: whole(1).describe("--concurrency: items graded at once"),
    timeout: seconds().describe("--timeout: seconds of one test run / program run / script"),
    memory: whole(64).describe("--memory: MiB per grading container"),
    cpus: z.number().positive().describe("--cpus: cores per grading container"),
    workspaceSize: whole(16).describe("--workspace-size: MiB of each grading container's workspace"),
    pythonMismatch: z.enum(["error", "warn"]).describe("--python-mismatch"),
    judgeModel: z.string().min(1).describe("--judge-model: ScienceAgentBench figure judge"),
    baseUrl: z.string().url().describe("--base-url: the judge's endpoint"),
    prepareNetwork: z.boolean().describe("--prepare-network (mlab)"),
    prepareConsent: z.boolean().describe("--prepare-consent (mlab)"),
    force: z.boolean().describe("--force: grade again"),
    json: z.boolean().describe("--json: result lines only"),
    ...environmentFields,
  })
  .partial()
  .strict();

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    run: runConfigSchema.optional().describe("settings of `dynabox run`"),
    eval: evalConfigSchema.optional().describe("settings of `dynabox eval`"),
    engines: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("--engine for run, eval, validate, bench and clean: the Docker engines to spread tasks over (unix://, tcp://...?tls=DIR, ssh://; ?concurrency=N&runtime=R)"),
    imageRegistry: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d+)?$/)
      .optional()
      .describe("--image-registry: HOST:PORT of a registry through which the sandbox image reaches engines that lack it (instead of save/load)"),
  })
  .strict()
  .describe("dynabox.config.json / dynabox.config.yaml: defaults for the flags; a flag given on the command line wins");

export type DynaboxConfig = z.infer<typeof configSchema>;

/** The JSON Schema of the config file, made from the zod schema (committed as docs/config.schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { target: "draft-2020-12" }) as Record<string, unknown>;
}

/** The config file to read: `explicit` (from --config), else the first of CONFIG_FILE_NAMES in `directory`, else none. */
export function findConfigFile(explicit: string | undefined, directory = process.cwd()): string | undefined {
  if (explicit !== undefined) {
    const file = path.resolve(explicit);
    if (!existsSync(file)) throw new UserError("DYNABOX_USAGE", `--config: ${explicit} does not exist; give the path of a dynabox.config.json or .yaml file`);
    if (!statSync(file).isFile()) throw new UserError("DYNABOX_USAGE", `--config: ${explicit} is not a file; give the path of a dynabox.config.json or .yaml file`);
    return file;
  }
  return CONFIG_FILE_NAMES.map((name) => path.join(directory, name)).find((file) => existsSync(file) && statSync(file).isFile());
}

/** Reads and checks a config file; a mistake in it is a usage error naming the file, the key and the fix. */
export function readConfigFile(file: string): DynaboxConfig {
  const text = readFileSync(file, "utf8");
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new UserError("DYNABOX_USAGE", `${file} is not valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"}: ${(error as Error).message.split("\n")[0]}`);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.map(String).join(".");
  const key = String(issue.path.at(-1) ?? "");
  const hint = issue.path.length === 2 && (issue.path[0] === "run" || issue.path[0] === "eval") ? ` (the file's form of ${flagName(key)})` : "";
  const unknown = issue.code === "unrecognized_keys" ? `: ${issue.keys.join(", ")}; the keys are the flags' names in camelCase (maxSteps for --max-steps), under "run" or "eval"` : "";
  throw new UserError("DYNABOX_USAGE", `${file}: ${where || "the file"}${hint}: ${issue.message}${unknown}`);
}

/**
 * The flags of a command with the config file's settings filled in where the command line did
 * not give the flag (commander's value source is "cli" only for typed flags).
 */
export function withConfig(command: Command, flags: Record<string, unknown>, settings: Record<string, unknown> | undefined): Record<string, unknown> {
  if (settings === undefined) return flags;
  const merged = { ...flags };
  for (const [key, value] of Object.entries(settings)) {
    const source = command.getOptionValueSource(key);
    if (source === "cli" || source === "env") continue;
    // As if typed: flag schemas read numbers from text.
    merged[key] = typeof value === "number" ? String(value) : value;
  }
  return merged;
}
