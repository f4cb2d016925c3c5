// Engine options every command that starts sandboxes shares: `--runtime <name>` (gVisor's runsc,
// or the engine's default). Added in one place to each command, and read by readyEngine(), so no
// command's own flag schema has to know about them.

import { type Command, Option } from "commander";
import type { GradingContext } from "../grading/context.js";
import { EnginePool, type EngineEvent } from "../engines/pool.js";
import { parseEngineSpec } from "../engines/spec.js";
import { printableLine } from "./terminal-text.js";

export interface EngineSelection {
  /** The OCI runtime for every sandbox and grader; the engine's default when absent. */
  runtime?: string;
  /** --engine addresses (with ?concurrency=N&runtime=R); none: the one engine of DOCKER_HOST. */
  engines?: string[];
}

let selection: EngineSelection = {};

/** What the user chose for this invocation: --runtime, else DYNABOX_RUNTIME. */
export function engineSelection(): EngineSelection {
  const runtime = selection.runtime ?? (process.env.DYNABOX_RUNTIME || undefined);
  return { ...(runtime ? { runtime } : {}), ...(selection.engines?.length ? { engines: selection.engines } : {}) };
}

/** Commands that spread their tasks over several engines with --engine. */
const MULTI_ENGINE_COMMANDS = ["eval", "bench", "clean"];

/**
 * The engines of --engine as a pool, the sandbox image copied from the default engine to each
 * that lacks it; undefined without --engine. Engine events go to stderr unless `quiet`.
 */
export async function openSelectedEngines(context: GradingContext, quiet: boolean): Promise<EnginePool | undefined> {
  const { engines, runtime } = engineSelection();
  if (!engines) return undefined;
  const specs = engines.map((text) => {
    const spec = parseEngineSpec(text);
    return spec.runtime === undefined && runtime ? { ...spec, runtime } : spec;
  });
  const say = (event: EngineEvent): void => {
    if (quiet) return;
    const line =
      event.type === "engine-ready"
        ? `engine ${event.engine}: ${event.kind}, ${event.concurrency} at once${event.imageCopiedSeconds === null ? "" : `, image copied in ${event.imageCopiedSeconds.toFixed(1)} s`}`
        : event.type === "engine-down"
          ? `engine ${event.engine} stopped answering (${event.reason}); its tasks go to the other engines`
          : `engine ${event.engine}: task placed again elsewhere (attempt ${event.attempt}): ${event.reason}`;
    process.stderr.write(`dynabox: ${printableLine(line)}\n`);
  };
  return EnginePool.open(specs, context.docker, context.sandboxImage, { ...(context.signal ? { signal: context.signal } : {}), onEvent: say });
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
    }
    command.hook("preAction", (thisCommand) => {
      const options = thisCommand.opts() as { runtime?: unknown; engine?: unknown };
      const runtime = typeof options.runtime === "string" && options.runtime !== "" ? options.runtime : undefined;
      const engines = Array.isArray(options.engine) ? options.engine.filter((each): each is string => typeof each === "string") : [];
      // Parsed now, so a malformed address is a usage error before any work starts.
      for (const text of engines) parseEngineSpec(text);
      selection = { ...(runtime ? { runtime } : {}), ...(engines.length > 0 ? { engines } : {}) };
    });
  }
}
