// Engine options every command that starts sandboxes shares: `--runtime <name>` (gVisor's runsc,
// or the engine's default), and for the batch commands `--engine <address>` (repeatable, or the
// config file's "engines"). Added in one place to each command, and read by readyEngine(), so no
// command's own flag schema has to know about them.

import { type Command, Option } from "commander";
import type { GradingContext } from "../grading/context.js";
import { EnginePool, type EngineEvent } from "../engines/pool.js";
import { parseEngineSpec, REGISTRY_ADDRESS } from "../engines/spec.js";
import { UserError } from "../errors.js";
import { findConfigFile, readConfigFile } from "./config-file.js";
import { printableLine } from "./terminal-text.js";

export interface EngineSelection {
  /** The OCI runtime for every sandbox and grader; the engine's default when absent. */
  runtime?: string;
  /** --engine addresses (with ?concurrency=N&runtime=R); none: the one engine of DOCKER_HOST. */
  engines?: string[];
  /** --image-registry HOST:PORT: the image reaches engines that lack it through this registry. */
  imageRegistry?: string;
}

let selection: EngineSelection = {};

/** What the user chose for this invocation: --runtime, else DYNABOX_RUNTIME. */
export function engineSelection(): EngineSelection {
  const runtime = selection.runtime ?? (process.env.DYNABOX_RUNTIME || undefined);
  return {
    ...(runtime ? { runtime } : {}),
    ...(selection.engines?.length ? { engines: selection.engines } : {}),
    ...(selection.imageRegistry ? { imageRegistry: selection.imageRegistry } : {}),
  };
}

/** Commands that spread their tasks over several engines with --engine (or the config file's "engines"). */
const MULTI_ENGINE_COMMANDS = ["eval", "run", "validate", "bench", "clean", "doctor"];

/**
 * The config file's "engines" list, read only when the command line named no --engine: the file
 * --config names, else dynabox.config.* in the working folder.
 */
function engineSettingsFromConfigFile(configOption: unknown): { engines: string[]; imageRegistry?: string } {
  const file = findConfigFile(typeof configOption === "string" ? configOption : undefined);
  if (file === undefined) return { engines: [] };
  const config = readConfigFile(file);
  return { engines: config.engines ?? [], ...(config.imageRegistry ? { imageRegistry: config.imageRegistry } : {}) };
}

/**
 * The engines of --engine as a pool, the sandbox image copied from the default engine to each
 * that lacks it; undefined without --engine. Engine events go to stderr unless `quiet`.
 */
export async function openSelectedEngines(context: GradingContext, quiet: boolean): Promise<EnginePool | undefined> {
  const { engines, runtime, imageRegistry } = engineSelection();
  if (!engines) return undefined;
  const specs = engines.map((text) => {
    const spec = parseEngineSpec(text);
    return spec.runtime === undefined && runtime ? { ...spec, runtime } : spec;
  });
  const say = (event: EngineEvent): void => {
    if (quiet) return;
    const line =
      event.type === "engine-ready"
        ? `engine ${event.engine}: ${event.kind}, ${event.concurrency} at once` +
          (event.imageCopiedSeconds === null ? "" : `, image ${event.imageMethod === "registry" ? "pulled from the registry" : "copied by save/load"} in ${event.imageCopiedSeconds.toFixed(1)} s`) +
          (event.imageNote ? ` (${event.imageNote})` : "")
        : event.type === "engine-down"
          ? `engine ${event.engine} stopped answering (${event.reason}); its tasks go to the other engines`
          : `engine ${event.engine}: task placed again elsewhere (attempt ${event.attempt}): ${event.reason}`;
    process.stderr.write(`dynabox: ${printableLine(line)}\n`);
  };
  return EnginePool.open(specs, context.docker, context.sandboxImage, {
    ...(context.signal ? { signal: context.signal } : {}),
    ...(imageRegistry ? { imageRegistry } : {}),
    onEvent: say,
  });
}

/** After a batch: how many tasks each engine finished, and which went down (stderr, one line per engine). */
export function reportEngineTallies(pool: EnginePool | undefined, quiet: boolean): void {
  if (pool === undefined || quiet) return;
  for (const engine of pool.engines) {
    process.stderr.write(`dynabox: ${printableLine(`engine ${engine.name}: ${engine.finished} task(s) finished there${engine.down ? " (went down during the run)" : ""}`)}\n`);
  }
}

/** Adds --runtime to the named subcommands; the value is recorded before the command's action runs. */
export function addEngineOptions(program: Command, commandNames: readonly string[]): void {
  for (const command of program.commands) {
    if (!commandNames.includes(command.name())) continue;
    command.option(
      "--runtime <name>",
      "OCI runtime for sandboxes and graders, e.g. runsc for gVisor (default: the engine's, or DYNABOX_RUNTIME)",
    );
    if (MULTI_ENGINE_COMMANDS.includes(command.name())) {
      command.addOption(
        new Option(
          "--engine <address>",
          "a Docker engine to spread tasks over (repeatable): unix:///path.sock, tcp://host:2376?tls=CERT_DIR, ssh://user@host; add ?concurrency=N&runtime=runsc",
        ).argParser((value: string, previous: string[] = []) => [...previous, value]),
      );
      command.option(
        "--image-registry <host:port>",
        "with --engine: push the sandbox image to this registry once, and let engines that lack it pull it (instead of save/load)",
      );
    }
    command.hook("preAction", (thisCommand) => {
      const options = thisCommand.opts() as { runtime?: unknown; engine?: unknown; config?: unknown; imageRegistry?: unknown };
      const runtime = typeof options.runtime === "string" && options.runtime !== "" ? options.runtime : undefined;
      let engines = Array.isArray(options.engine) ? options.engine.filter((each): each is string => typeof each === "string") : [];
      let imageRegistry = typeof options.imageRegistry === "string" ? options.imageRegistry : undefined;
      if (MULTI_ENGINE_COMMANDS.includes(thisCommand.name())) {
        const configured = engineSettingsFromConfigFile(options.config);
        if (engines.length === 0) engines = configured.engines;
        imageRegistry ??= configured.imageRegistry;
      }
      // Parsed now, so a malformed address is a usage error before any work starts.
      for (const text of engines) parseEngineSpec(text);
      if (imageRegistry !== undefined && !REGISTRY_ADDRESS.test(imageRegistry)) {
        throw new UserError("DYNABOX_USAGE", `--image-registry ${imageRegistry}: expected HOST:PORT of a registry, such as localhost:5000 or registry.lab:5000 (no scheme, no path)`);
      }
      selection = { ...(runtime ? { runtime } : {}), ...(engines.length > 0 ? { engines } : {}), ...(imageRegistry ? { imageRegistry } : {}) };
    });
  }
}
