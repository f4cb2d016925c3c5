// Where Python packages come from, as the user chose it: flags first, then the environment
// (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, DYNABOX_WHEELHOUSE, DYNABOX_ALLOW_DEBIAN_SUBSTITUTES).
// Tasks never choose the index: a task's `--index-url` line is ignored with a warning.

import { statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.js";
import { parseGpus, parseGpuScope, type GpuScope } from "./gpus.js";

export const PYPI_INDEX_URL = "https://pypi.org/simple";

export interface EnvironmentSettings {
  /** The main index (PEP 503 "simple" URL); PyPI when absent and no wheelhouse is given. */
  pipIndexUrl?: string | undefined;
  /** More indexes pip may also use. */
  pipExtraIndexUrls?: string[] | undefined;
  /** A folder of wheels (and sdists) copied into the build and used as pip's --find-links. */
  wheelhouse?: string | undefined;
  /** With no index answering, may Python requirements become Debian packages (versions not honoured)? */
  allowDebianSubstitutes?: boolean | undefined;
  /** Every line of build output instead of one line per build. */
  verbose?: boolean | undefined;
  /** Longest one image build may take (default 900 s). */
  buildTimeoutSeconds?: number | undefined;
  /** `--gpus all|N|<device ids>` for tasks that declare a GPU (src/environments/gpus.ts). */
  gpus?: string | undefined;
  /** `--gpus-for declared|all`: only tasks that declare a GPU (default), or every task of the run. */
  gpusFor?: GpuScope | undefined;
}

const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);

/** The settings the process environment gives (what a user who sets only PIP_INDEX_URL gets). */
export function environmentSettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvironmentSettings {
  const extra = (env.PIP_EXTRA_INDEX_URL ?? "").split(/\s+/).filter((url) => url !== "");
  return {
    ...(env.PIP_INDEX_URL ? { pipIndexUrl: env.PIP_INDEX_URL } : {}),
    ...(extra.length > 0 ? { pipExtraIndexUrls: extra } : {}),
    ...(env.DYNABOX_WHEELHOUSE ? { wheelhouse: env.DYNABOX_WHEELHOUSE } : {}),
    ...(TRUE_WORDS.has((env.DYNABOX_ALLOW_DEBIAN_SUBSTITUTES ?? "").toLowerCase()) ? { allowDebianSubstitutes: true } : {}),
  };
}

/** Flags over the environment; checks the URLs and the wheelhouse folder (UserError naming the fix). */
export function resolveEnvironmentSettings(flags: EnvironmentSettings, env: NodeJS.ProcessEnv = process.env): EnvironmentSettings {
  const fromEnvironment = environmentSettingsFromEnvironment(env);
  const settings: EnvironmentSettings = { ...fromEnvironment };
  for (const [key, value] of Object.entries(flags) as [keyof EnvironmentSettings, unknown][]) {
    if (value !== undefined) (settings as Record<string, unknown>)[key] = value;
  }
  for (const url of [settings.pipIndexUrl, ...(settings.pipExtraIndexUrls ?? [])]) {
    if (url !== undefined) checkIndexUrl(url);
  }
  if (settings.wheelhouse !== undefined) {
    const folder = path.resolve(settings.wheelhouse);
    let isFolder = false;
    try {
      isFolder = statSync(folder).isDirectory();
    } catch {
      // reported below
    }
    if (!isFolder) throw new UserError("DYNABOX_USAGE", `--wheelhouse ${settings.wheelhouse}: not a folder; give a folder of .whl files`);
    settings.wheelhouse = folder;
  }
  if (settings.gpus !== undefined) parseGpus(settings.gpus);
  if (settings.gpusFor !== undefined) settings.gpusFor = parseGpuScope(settings.gpusFor);
  if (settings.gpusFor === "all" && settings.gpus === undefined) {
    throw new UserError("DYNABOX_USAGE", "--gpus-for all gives every task the --gpus devices, but --gpus was not given: add --gpus all (or a count, or device ids)");
  }
  return settings;
}

export function checkIndexUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError("DYNABOX_USAGE", `"${redactUrl(url)}" is not a package index URL; expected e.g. http://127.0.0.1:3141/simple`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UserError("DYNABOX_USAGE", `the package index ${redactUrl(url)} must be an http(s) URL`);
  }
  // The host name reaches pip's command line (--trusted-host): plain names and addresses only.
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(parsed.hostname)) {
    throw new UserError("DYNABOX_USAGE", `the package index ${redactUrl(url)} has a host name dynabox does not accept`);
  }
}

/** A URL for messages and labels: user and password replaced by "***". */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username !== "" || parsed.password !== "") {
      parsed.username = "***";
      parsed.password = "";
    }
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//***@");
  }
}
