// requirements.txt as a task file writes it, read into what pip will be asked to install.
// Pure: no Docker, no network. Only task files feed this; nothing an agent writes does.
//
// Kept: `name[extras] <specifier> ; <marker>` lines, as pip reads them.
// Refused (a UserError naming each line): editable installs, nested requirement or constraint
// files, requirements by URL or path (they would bypass the index the user chose).
// Ignored with a warning: option lines such as `--index-url` (the user names the index, not the task).

import { UserError } from "../errors.js";

export interface Requirement {
  /** The line as written (comments removed). */
  line: string;
  /** PEP 503 normalized project name. */
  name: string;
  /** "[extra1,extra2]" or "". */
  extras: string;
  /** The version specifier ("==1.2", ">=1,<2"), or "" for any version. */
  specifier: string;
  /** The environment marker after ";", or "". */
  marker: string;
}

export interface ParsedRequirements {
  requirements: Requirement[];
  warnings: string[];
}

/** PEP 503 normalization: lower case, runs of -_. become one "-". */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

const REQUIREMENT = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.*))?$/;
const SPECIFIER = /^(?:(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)(?:,\s*(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)*$/;

export function parseRequirements(text: string): ParsedRequirements {
  const requirements: Requirement[] = [];
  const warnings: string[] = [];
  const problems: string[] = [];
  // A backslash at the end of a line continues it, as pip reads it.
  const joined = text.replace(/\\\r?\n/g, " ");
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    if (line.startsWith("-")) {
      if (/^(-e|--editable|-r|--requirement|-c|--constraint)\b/.test(line)) {
        problems.push(`"${line}": editable installs and nested requirement or constraint files can not be installed (only the task's requirements text reaches the build)`);
      } else {
        warnings.push(`requirements option "${line}" is ignored: the package index is chosen by the user (--pip-index-url, PIP_INDEX_URL, --wheelhouse), not by the task`);
      }
      continue;
    }
    if (/:\/\/|\s@\s|^[./~]/.test(line)) {
      problems.push(`"${line}": a requirement by URL or path bypasses the package index; name a version the index has instead`);
      continue;
    }
    const match = REQUIREMENT.exec(line);
    const specifier = (match?.[3] ?? "").trim();
    if (!match || (specifier !== "" && !SPECIFIER.test(specifier))) {
      problems.push(`"${line}": not a requirement this reader understands (expected name[extras] <specifier> [; marker])`);
      continue;
    }
    requirements.push({
      line,
      name: normalizeProjectName(match[1] ?? ""),
      extras: (match[2] ?? "").replace(/\s+/g, ""),
      specifier: specifier.replace(/\s+/g, ""),
      marker: (match[4] ?? "").trim(),
    });
  }
  if (problems.length > 0) {
    throw new UserError("DYNABOX_TASK_INVALID", `the task environment can not be built:\n  ${problems.join("\n  ")}`, {
      details: { problems },
    });
  }
  return { requirements, warnings };
}

/** The requirements as one canonical text (sorted, normalized): what the packages layer hashes and installs. */
export function canonicalRequirements(requirements: readonly Requirement[]): string {
  const lines = requirements.map(
    (requirement) => `${requirement.name}${requirement.extras}${requirement.specifier}${requirement.marker ? ` ; ${requirement.marker}` : ""}`,
  );
  return [...new Set(lines)].sort().join("\n") + (lines.length > 0 ? "\n" : "");
}

/** The exact version of an `==` pin without wildcards, or undefined. */
export function pinnedVersion(requirement: Requirement): string | undefined {
  const match = /^===?([A-Za-z0-9.+!_-]+)$/.exec(requirement.specifier);
  return match?.[1];
}
