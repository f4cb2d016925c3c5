// The flags that say where task environments get their Python packages, shared by run, eval and
// validate. Flags win over PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / DYNABOX_WHEELHOUSE.

import type { Command } from "commander";
import { resolveEnvironmentSettings, type EnvironmentSettings } from "../environments/settings.js";

/**
 * Adds the flags. `--verbose` (every line of image builds) is left out with {verbose: false}, for a
 * command that has its own --verbose (run): environmentSettingsFromFlags reads that one instead.
 */
export function addEnvironmentOptions(command: Command, options: { verbose?: boolean } = {}): Command {
  if (options.verbose !== false && !command.options.some((option) => option.long === "--verbose")) {
    command.option("--verbose", "print every line of image builds (default: one line per build)");
  }
  return command
    .option("--pip-index-url <url>", "the package index task environments install Python requirements from (or PIP_INDEX_URL; default PyPI); an index on this machine's loopback works")
    .option("--pip-extra-index-url <url>", "another index pip may use (repeatable; or PIP_EXTRA_INDEX_URL)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--wheelhouse <dir>", "a folder of wheels to install Python requirements from (alone: no index is asked)")
    .option("--allow-debian-substitutes", "when no package index answers, install Debian's python3-* packages instead (their versions, not the pins; each listed in the result)")
    .option("--gpus <gpus>", "GPUs for tasks that declare one: all, a count (2) or device ids (0,1); needs the NVIDIA container toolkit")
    .option("--gpus-for <tasks>", "which tasks get the --gpus devices: declared (those whose task declares a GPU; default) or all (every task, e.g. RES-Q and ScienceAgentBench rows, which declare none)");
}

/** The settings from a command's raw flags, over the process environment. */
export function environmentSettingsFromFlags(raw: unknown): EnvironmentSettings {
  const flags = (raw ?? {}) as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
  const extra = Array.isArray(flags.pipExtraIndexUrl) ? (flags.pipExtraIndexUrl as string[]) : undefined;
  return resolveEnvironmentSettings({
    pipIndexUrl: text(flags.pipIndexUrl),
    pipExtraIndexUrls: extra,
    wheelhouse: text(flags.wheelhouse),
    allowDebianSubstitutes: flags.allowDebianSubstitutes === true ? true : undefined,
    verbose: flags.verbose === true ? true : undefined,
    gpus: text(flags.gpus),
    gpusFor: text(flags.gpusFor) as EnvironmentSettings["gpusFor"],
  });
}
