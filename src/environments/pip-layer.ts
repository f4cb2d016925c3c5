// The packages layer: the task's requirements installed with pip, from the index the user chose,
// into the Python layer's venv. Pins are pip's to honour: a pin the index can not meet fails the
// build, and the error names the requirement and the index tried (never a silent substitute).
//
// The build runs with the host's network (only this build: an index on the host's loopback must
// work); run-time containers never get a network from it. Index URLs go in as build arguments,
// so they are in `docker history` of the image: prefer an index without credentials in its URL.

import path from "node:path";
import { UserError } from "../errors.js";
import { wheelhouseFiles, type IndexSource } from "./package-source.js";
import { ENVIRONMENT_FOLDER, layerTag, PACKAGES_LAYER_REPOSITORY, readContextFile, type LayerBuild } from "./layers.js";
import { canonicalRequirements, isLoopbackUrl, NO_LINKS, type Requirement, type RequirementLinks } from "./requirements.js";

export { isLoopbackUrl } from "./requirements.js";

const WHEELHOUSE_IN_IMAGE = "/tmp/dynabox-wheelhouse";

/** pip's arguments for a source (the URLs themselves come from build arguments). */
export function pipSourceArguments(source: IndexSource): string[] {
  const args: string[] = [];
  if (source.indexUrl === undefined) args.push("--no-index");
  else args.push('--index-url "$PIP_INDEX_URL"');
  if (source.extraIndexUrls.length > 0) args.push('$(for url in $PIP_EXTRA_INDEX_URLS; do printf -- "--extra-index-url %s " "$url"; done)');
  // pip trusts http only on loopback; a plain-http mirror elsewhere must be named trusted.
  for (const url of [source.indexUrl, ...source.extraIndexUrls]) {
    if (url === undefined) continue;
    const parsed = new URL(url);
    if (parsed.protocol === "http:" && !/^(localhost|127\.|\[::1\])/.test(parsed.host)) args.push(`--trusted-host ${parsed.hostname}`);
  }
  if (source.wheelhouse !== undefined) args.push(`--find-links ${WHEELHOUSE_IN_IMAGE}`);
  return args;
}

export interface PackagesLayerOptions {
  /**
   * Wheels only (pip --only-binary :all:): for requirements named by a program (ScienceAgentBench
   * imports), so that no package's setup.py runs in a build because of what a program imported.
   */
  binaryOnly?: boolean;
  /** The task's own --find-links pages and --extra-index-url indexes (requirements file lines). */
  links?: RequirementLinks;
}

export function packagesLayerDockerfile(parent: string, source: IndexSource, options: PackagesLayerOptions = {}): string {
  const pip = [
    "pip install --no-cache-dir --progress-bar off --retries 2 --timeout 30",
    ...(options.binaryOnly ? ["--only-binary :all:"] : []),
    ...pipSourceArguments(source),
    `-r ${ENVIRONMENT_FOLDER}/requirements.txt`,
  ].join(" ");
  return [
    `FROM ${parent}`,
    "USER root",
    "ARG PIP_INDEX_URL",
    "ARG PIP_EXTRA_INDEX_URLS",
    `COPY requirements.txt ${ENVIRONMENT_FOLDER}/requirements.txt`,
    ...(source.wheelhouse !== undefined ? [`COPY wheelhouse/ ${WHEELHOUSE_IN_IMAGE}/`] : []),
    // PIP_CONFIG_FILE=/dev/null: no pip.conf in the image chooses another index behind the user's back.
    `RUN set -e; export PIP_CONFIG_FILE=/dev/null; ${pip}; ` +
      `pip list --format=freeze > ${ENVIRONMENT_FOLDER}/installed.txt` +
      (source.wheelhouse !== undefined ? `; rm -rf ${WHEELHOUSE_IN_IMAGE}` : ""),
    "USER 1000:1000",
    "WORKDIR /workspace",
  ].join("\n") + "\n";
}

export function packagesLayerBuild(
  parent: string,
  requirements: readonly Requirement[],
  source: IndexSource,
  options: PackagesLayerOptions = {},
): LayerBuild {
  const links = options.links ?? NO_LINKS;
  // The task's links and git or archive references are lines of the requirements file: in the hash.
  const text = canonicalRequirements(requirements, links);
  const dockerfile = packagesLayerDockerfile(parent, source, options);
  // The host's network only for an index (the user's, or a page or repository the task's file names)
  // on the host's loopback; anything else is reached from Docker's bridge, where a package's
  // install code can not reach services on the host's loopback.
  const loopback = [
    source.indexUrl,
    ...source.extraIndexUrls,
    ...links.findLinks,
    ...links.extraIndexUrls,
    ...requirements.map((requirement) => requirement.url),
  ].some((url) => url !== undefined && isLoopbackUrl(url));
  const wheelhouseFiles = source.wheelhouse !== undefined ? wheelhouseContents(source.wheelhouse) : [];
  return {
    tag: layerTag(PACKAGES_LAYER_REPOSITORY, parent, [dockerfile, text, source.identity]),
    kind: "packages",
    parent,
    files: [{ path: "requirements.txt", content: text }, ...wheelhouseFiles],
    dockerfile,
    buildArgs: {
      PIP_INDEX_URL: source.indexUrl ?? "",
      PIP_EXTRA_INDEX_URLS: source.extraIndexUrls.join(" "),
    },
    summary: `${requirements.length} requirement(s) from ${source.description}`,
    networkMode: loopback ? "host" : undefined,
    explainFailure: (output) => explainPipFailure(output, requirements, source),
  };
}

function wheelhouseContents(folder: string): { path: string; content: Buffer }[] {
  return wheelhouseFiles(folder).map((name) => ({ path: `wheelhouse/${name}`, content: readContextFile(path.join(folder, name)) }));
}


/**
 * pip's own words for a requirement it could not meet, turned into a UserError naming the
 * requirement as the task wrote it, the versions the index has, and the index tried.
 */
export function explainPipFailure(output: readonly string[], requirements: readonly Requirement[], source: IndexSource): Error | undefined {
  const unmet: { requirement: string; versions: string }[] = [];
  for (const line of output) {
    const match = /Could not find a version that satisfies the requirement (\S+)(?: \(from versions: ([^)]*)\))?/.exec(line);
    if (match) unmet.push({ requirement: match[1] ?? "", versions: (match[2] ?? "").trim() });
  }
  const conflict = output.find((line) => /ResolutionImpossible|conflicting dependencies/.test(line));
  const where = source.description;
  // A git reference that could not be cloned or checked out: git's own words, and the line.
  const gitProblem = output.find((line) => /fatal: |did not match any file\(s\) known to git|Cannot find command 'git'|unable to access '/.test(line));
  if (gitProblem !== undefined && unmet.length === 0) {
    const references = requirements.filter((each) => each.url !== undefined && each.url.startsWith("git+"));
    return new UserError(
      "DYNABOX_TASK_INVALID",
      `the task's git requirement${references.length > 1 ? "s" : ""} ${references.map((each) => `"${each.line}"`).join(", ")} could not be fetched: ${gitProblem.trim()}. ` +
        "Check the repository URL and the ref (a branch, tag or commit it has), and that the build can reach it",
      { details: { git: gitProblem.trim() } },
    );
  }
  if (unmet.length === 0 && conflict === undefined) return undefined;
  if (unmet.length > 0) {
    const named = unmet.map(({ requirement, versions }) => {
      const written = requirements.find((each) => requirement.toLowerCase().replace(/[-_.]+/g, "-").startsWith(each.name));
      const line = written?.line ?? requirement;
      return `"${line}" (${versions === "" || versions === "none" ? "the index has no version of it" : `versions there: ${versions}`})`;
    });
    return new UserError(
      "DYNABOX_TASK_INVALID",
      `the task's requirement${unmet.length > 1 ? "s" : ""} ${named.join(", ")} can not be met from ${where}; ` +
        "nothing else is installed in its place. Add that version to the index, or name an index that has it (--pip-index-url, PIP_INDEX_URL, --wheelhouse)",
      { details: { unmet, source: where } },
    );
  }
  const context = output.slice(Math.max(0, output.indexOf(conflict!) - 6), output.indexOf(conflict!) + 4);
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `the task's requirements conflict with each other (pip, using ${where}):\n  ${context.join("\n  ")}`,
    { details: { source: where } },
  );
}
