// requirements.txt as a task file writes it, read into what pip will be asked to install.
// Pure: no Docker, no network. Only task files feed this; nothing an agent writes does.
//
// Kept: `name[extras] <specifier> ; <marker>` lines, as pip reads them; and what real tasks carry
// besides: direct references to a git repository or an archive (`pkg @ git+https://…@ref`,
// `git+https://…#egg=pkg`, `pkg @ https://…/pkg-1.0-py3-none-any.whl`), and the option lines
// `-f` / `--find-links URL` (a page of links to wheels, e.g. https://data.dgl.ai/wheels/repo.html)
// and `--extra-index-url URL`, which pip then reads from the requirements file itself.
// These URLs must be https (http only on this machine's loopback), without credentials or `$`
// (pip expands ${VARIABLES} in requirements files: a task must not read the build's).
// Refused (a UserError naming each line): editable installs, nested requirement or constraint
// files, local paths, file:// and ssh URLs, other option lines that change how pip installs.
// Ignored with a warning: `--index-url` (the user names the main index, not the task), and
// options that only tune pip (`--pre`, `--trusted-host`, ...).

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
  /** A direct reference (git+https://…, https://…whl), installed from there rather than an index. */
  url?: string;
}

/** Where a task's requirements file tells pip to look besides the user's index. */
export interface RequirementLinks {
  /** `-f` / `--find-links` pages. */
  findLinks: string[];
  /** `--extra-index-url` indexes. */
  extraIndexUrls: string[];
}

export interface ParsedRequirements extends RequirementLinks {
  requirements: Requirement[];
  warnings: string[];
}

export const NO_LINKS: RequirementLinks = { findLinks: [], extraIndexUrls: [] };

const URL_SCHEMES = new Set(["https:", "http:", "git+https:", "git+http:"]);

/** Why a URL from a task file can not be used, or undefined when it can. */
export function taskUrlProblem(url: string, kinds: "page" | "reference"): string | undefined {
  if (/[\s"'`$\\]/.test(url)) return "it holds a space, a quote, a backslash or a $ (pip would expand ${VARIABLES})";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "it is not a URL";
  }
  const allowed = kinds === "page" ? new Set(["https:", "http:"]) : URL_SCHEMES;
  if (!allowed.has(parsed.protocol)) {
    return kinds === "page" ? "only https (or http on this machine's loopback) pages can be used" : "only git+https, https (or http on this machine's loopback) can be used";
  }
  if (parsed.username !== "" || parsed.password !== "") return "it carries credentials; a task file must not";
  const loopback = parsed.hostname === "localhost" || parsed.hostname === "[::1]" || /^127\./.test(parsed.hostname);
  if (parsed.protocol.endsWith("http:") && !loopback) return "plain http off this machine's loopback is not trusted; use https";
  return undefined;
}

/** True for a URL on this machine's loopback. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url.replace(/^git\+/, "")).hostname;
    return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** The project a bare `git+https://host/owner/name.git@ref#egg=pkg` line installs: the egg, else the repository's name. */
function projectOfUrl(url: string): string {
  const egg = /[#&]egg=([A-Za-z0-9._-]+)/.exec(url)?.[1];
  if (egg !== undefined) return egg;
  const pathPart = new URL(url).pathname.replace(/@[^/]*$/, "").replace(/\/+$/, "");
  const last = pathPart.split("/").pop() ?? "";
  return last.replace(/\.git$/, "").replace(/-\d[^-]*-.*\.whl$|\.(tar\.gz|zip|whl)$/, "");
}

/** PEP 503 normalization: lower case, runs of -_. become one "-". */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

const REQUIREMENT = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.*))?$/;
const SPECIFIER = /^(?:(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)(?:,\s*(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)*$/;

const OPTION_WITH_URL = /^(-f|--find-links|--extra-index-url)(?:\s*=\s*|\s+)(\S+)$/;
const DIRECT_REFERENCE = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*@\s*(\S+)(?:\s+;\s*(.*)|\s*;\s+(.*))?$/;

export function parseRequirements(text: string): ParsedRequirements {
  const requirements: Requirement[] = [];
  const warnings: string[] = [];
  const problems: string[] = [];
  const findLinks: string[] = [];
  const extraIndexUrls: string[] = [];
  // A backslash at the end of a line continues it, as pip reads it.
  const joined = text.replace(/\\\r?\n/g, " ");
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    if (line.startsWith("-")) {
      const option = OPTION_WITH_URL.exec(line);
      if (option) {
        const url = option[2] ?? "";
        const problem = taskUrlProblem(url, "page");
        if (problem !== undefined) problems.push(`"${line}": ${problem}`);
        else (option[1] === "--extra-index-url" ? extraIndexUrls : findLinks).push(url);
        continue;
      }
      if (/^(-e|--editable|-r|--requirement|-c|--constraint)\b/.test(line)) {
        problems.push(`"${line}": editable installs and nested requirement or constraint files can not be installed (only the task's requirements text reaches the build)`);
      } else {
        warnings.push(`requirements option "${line}" is ignored: the package index is chosen by the user (--pip-index-url, PIP_INDEX_URL, --wheelhouse), not by the task`);
      }
      continue;
    }
    const direct = DIRECT_REFERENCE.exec(line);
    const bare = /^[a-z+]+:\/\//i.test(line) ? /^(\S+)(?:\s*;\s*(.*))?$/.exec(line) : null;
    if (direct || bare) {
      const url = (direct ? direct[3] : bare![1]) ?? "";
      const problem = taskUrlProblem(url, "reference");
      if (problem !== undefined) {
        problems.push(`"${line}": ${problem}`);
        continue;
      }
      const name = direct ? (direct[1] ?? "") : projectOfUrl(url);
      if (name === "" || !/^[A-Za-z0-9._-]+$/.test(name)) {
        problems.push(`"${line}": can not tell which project it installs; write it as name @ ${url}`);
        continue;
      }
      requirements.push({
        line,
        name: normalizeProjectName(name),
        extras: direct ? (direct[2] ?? "").replace(/\s+/g, "") : "",
        specifier: "",
        marker: ((direct ? (direct[4] ?? direct[5]) : bare![2]) ?? "").trim(),
        // `#egg=` only named the project; `name @ url` says it now.
        url: direct ? url : url.replace(/#egg=[A-Za-z0-9._-]+$/, ""),
      });
      continue;
    }
    if (/:\/\/|\s@|^[./~]|^file:/.test(line)) {
      problems.push(`"${line}": a local path or a URL of a kind pip can not fetch in the build; name a version the index has, or a git+https / https URL`);
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
  return { requirements, warnings, findLinks: [...new Set(findLinks)], extraIndexUrls: [...new Set(extraIndexUrls)] };
}

/**
 * The requirements as one canonical text (sorted, normalized), the task's find-links and extra
 * index lines first: what the packages layer hashes and installs. A git reference is hashed as
 * written: pin a commit (`@<sha>`) for a layer that means the same code on every machine.
 */
export function canonicalRequirements(requirements: readonly Requirement[], links: RequirementLinks = NO_LINKS): string {
  const options = [...[...new Set(links.findLinks)].sort().map((url) => `--find-links ${url}`), ...[...new Set(links.extraIndexUrls)].sort().map((url) => `--extra-index-url ${url}`)];
  const lines = requirements.map((requirement) => {
    const marker = requirement.marker ? ` ; ${requirement.marker}` : "";
    return requirement.url !== undefined ? `${requirement.name}${requirement.extras} @ ${requirement.url}${marker}` : `${requirement.name}${requirement.extras}${requirement.specifier}${marker}`;
  });
  const all = [...options, ...[...new Set(lines)].sort()];
  return all.join("\n") + (all.length > 0 ? "\n" : "");
}

/** The exact version of an `==` pin without wildcards, or undefined. */
export function pinnedVersion(requirement: Requirement): string | undefined {
  const match = /^===?([A-Za-z0-9.+!_-]+)$/.exec(requirement.specifier);
  return match?.[1];
}
