// Task environment images: what a task needs beyond the sandbox image (Python requirements,
// Debian packages, a few Dockerfile lines), layered on it once and reused. Shared by the families.
//
//   ensureTaskImage(context, spec) -> image tag
//
// - An empty spec gives the sandbox image itself: no build.
// - Python requirements are installed by pip, with their pins, from the index the user chose
//   (src/environments/: a Python layer with a venv, then a packages layer per requirements set and
//   index). A pin the index can not meet is an error naming it and the index. A task's git and
//   archive references and its --find-links / --extra-index-url lines are installed too.
// - When no index answers, requirements become Debian packages only if the user allowed it
//   (allowDebianSubstitutes); each substitution is a warning in the result.
// - Debian packages and Dockerfile lines go in a last "task" layer, installed as root; the image
//   ends as USER 1000:1000 (the sandbox user).
// - Every layer's tag hashes its parent's tag and its inputs: built once, reused by every row that
//   shares it; builds take a per-tag lock, report one line each, and stop after a timeout.
//
// planTaskImage and taskImageDockerfile are pure and unit-tested; ensureTaskImage does the Docker part.

import { UserError } from "../errors.js";
import { describeSubstitution, debianSubstitutions } from "../environments/debian-substitutes.js";
import { ensureLayer, layerTag, pythonLayerBuild, type LayerContext } from "../environments/layers.js";
import { indexSource, noIndexError, probeIndex } from "../environments/package-source.js";
import { packagesLayerBuild } from "../environments/pip-layer.js";
import { ensurePythonSandbox, parseRequestedPython } from "../environments/python-images.js";
import { parseRequirements, type Requirement, type RequirementLinks } from "../environments/requirements.js";
import { environmentSettingsFromEnvironment } from "../environments/settings.js";
import { imageExists } from "../sandbox/docker.js";
import { reportWarning, type GradingContext } from "./context.js";

export { debianPackageFor } from "../environments/debian-substitutes.js";
export { normalizeProjectName } from "../environments/requirements.js";

export const TASK_IMAGE_REPOSITORY = "dynabox-task";
/** Image label holding the hash a task image was built from. */
export const LABEL_TASK_ENVIRONMENT = "dynabox.task-environment";
/** The Python of the sandbox image (Debian bookworm). */
export const SANDBOX_PYTHON_VERSION = "3.11";

export interface TaskEnvironmentSpec {
  /** Debian packages to install with apt, e.g. ["libxml2-dev"]. */
  debianPackages?: string[];
  /** requirements.txt text, installed with pip (pins honoured) from the user's index. */
  pythonRequirements?: string;
  /** Dockerfile lines run as root after the packages (the build has no network but the Debian mirror). */
  dockerfileSnippet?: string;
  /** The task's Python ("3.9", "python3.13"): the layers go on a sandbox with that Python. */
  python?: string;
  /** Install wheels only (requirements named by a program, not by task files): no setup.py runs. */
  binaryOnly?: boolean;
}

export interface TaskImagePlan {
  /** The Python requirements for pip. */
  requirements: Requirement[];
  /** The requirements file's own --find-links pages and --extra-index-url indexes. */
  links: RequirementLinks;
  /** Sorted, unique: the spec's Debian packages. */
  debianPackages: string[];
  dockerfileSnippet: string;
  /** The requested Python, "" for the sandbox image's. */
  python: string;
  warnings: string[];
  /** Nothing to add: the sandbox image itself serves. */
  empty: boolean;
}

const DEBIAN_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * What a spec will install, with warnings; throws a UserError for what can never be installed
 * (editable installs, URLs, nested requirement files, bad Debian package names).
 */
export function planTaskImage(spec: TaskEnvironmentSpec): TaskImagePlan {
  const { requirements, warnings, findLinks, extraIndexUrls } = parseRequirements(spec.pythonRequirements ?? "");
  const bad = (spec.debianPackages ?? []).filter((name) => !DEBIAN_PACKAGE_NAME.test(name));
  if (bad.length > 0) {
    const problems = bad.map((name) => `"${name}" is not a Debian package name`);
    throw new UserError("DYNABOX_TASK_INVALID", `the task environment can not be built:\n  ${problems.join("\n  ")}`, { details: { problems } });
  }
  const debianPackages = [...new Set(spec.debianPackages ?? [])].sort();
  const dockerfileSnippet = (spec.dockerfileSnippet ?? "").trim();
  const python = (spec.python ?? "").trim();
  const wanted = parseRequestedPython(python);
  if (wanted.kind === "unknown") {
    throw new UserError("DYNABOX_TASK_INVALID", `the task environment asks for the Python "${python}", which is not a Python 3 version (expected e.g. "3.9")`);
  }
  return {
    requirements,
    links: { findLinks, extraIndexUrls },
    debianPackages,
    dockerfileSnippet,
    python: wanted.kind === "any" || wanted.version === SANDBOX_PYTHON_VERSION ? "" : python,
    warnings,
    empty: requirements.length === 0 && debianPackages.length === 0 && dockerfileSnippet === "" && (wanted.kind === "any" || wanted.version === SANDBOX_PYTHON_VERSION),
  };
}

/** The marker the build prints when apt does not know some packages. */
export const MISSING_PACKAGES_MARKER = "DYNABOX_MISSING_DEBIAN_PACKAGES:";

/** The Dockerfile of the task layer on `baseImage`: Debian packages, then the task's lines. */
export function taskImageDockerfile(baseImage: string, plan: Pick<TaskImagePlan, "debianPackages" | "dockerfileSnippet">): string {
  const lines = [`FROM ${baseImage}`, "USER root", "ENV DEBIAN_FRONTEND=noninteractive"];
  if (plan.debianPackages.length > 0) {
    const packages = plan.debianPackages.join(" ");
    lines.push(
      "RUN set -e; apt-get update -qq; missing=''; " +
        `for package in ${packages}; do apt-cache show "$package" >/dev/null 2>&1 || missing="$missing $package"; done; ` +
        `if [ -n "$missing" ]; then echo "${MISSING_PACKAGES_MARKER}$missing"; exit 3; fi; ` +
        `apt-get install -y -qq --no-install-recommends ${packages}; ` +
        "apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*",
    );
  }
  if (plan.dockerfileSnippet !== "") lines.push(plan.dockerfileSnippet);
  // The sandbox runs as uid 1000 whatever the image says, but the image should say so too.
  lines.push("USER 1000:1000", "WORKDIR /workspace");
  return lines.join("\n") + "\n";
}

/** `dynabox-task:<16 hex>` from the parent image and the Dockerfile. */
export function taskImageTag(parent: string, dockerfile: string): string {
  return layerTag(TASK_IMAGE_REPOSITORY, parent, [dockerfile]);
}

export interface EnsureTaskImageOptions {
  /** Longest one build may take (default: the context's settings, else 900 s). */
  buildTimeoutSeconds?: number;
  /** Told each warning (also sent to context.onWarning, or onProgress as "warning: ..."). */
  onWarning?: (warning: string) => void;
}

/** Builds (once) or reuses the image for `spec`, returning its tag; the sandbox image for an empty spec. */
export async function ensureTaskImage(
  context: GradingContext,
  spec: TaskEnvironmentSpec,
  options: EnsureTaskImageOptions = {},
): Promise<string> {
  const warn = (warning: string): void => {
    options.onWarning?.(warning);
    reportWarning(context, warning);
  };
  const plan = planTaskImage(spec);
  for (const warning of plan.warnings) warn(warning);
  if (plan.empty) return context.sandboxImage;
  const settings = context.environment ?? environmentSettingsFromEnvironment();
  const layers: LayerContext = {
    docker: context.docker,
    signal: context.signal,
    onProgress: context.onProgress,
    verbose: settings.verbose,
    buildTimeoutSeconds: options.buildTimeoutSeconds ?? settings.buildTimeoutSeconds,
  };
  let image = context.sandboxImage;
  if (plan.python !== "") {
    image = await ensurePythonSandbox(
      { docker: context.docker, sandboxImage: context.sandboxImage, signal: context.signal, onProgress: context.onProgress, verbose: settings.verbose },
      plan.python,
    );
  }
  const debianPackages = [...plan.debianPackages];
  if (plan.requirements.length > 0) {
    const source = indexSource(settings);
    const python = pythonLayerBuild(image);
    const packages = packagesLayerBuild(python.tag, plan.requirements, source, { binaryOnly: spec.binaryOnly === true, links: plan.links });
    // A layer already built needs no index: reuse is a lookup, with no network.
    const problem = (await imageExists(context.docker, packages.tag))
      ? undefined
      : source.indexUrl === undefined
        ? undefined
        : await probeIndex(source.indexUrl, { signal: context.signal });
    if (problem === undefined) {
      await ensureLayer(layers, python);
      image = (await ensureLayer(layers, packages)).tag;
    } else if (settings.allowDebianSubstitutes) {
      warn(`no package index answers (${source.description}: ${problem}); installing Debian substitutes as allowed`);
      for (const substitution of debianSubstitutions(plan.requirements)) {
        warn(describeSubstitution(substitution));
        if (substitution.debianPackage !== null) debianPackages.push(substitution.debianPackage);
      }
    } else {
      throw noIndexError(source, problem);
    }
  }
  const taskPackages = [...new Set(debianPackages)].sort();
  if (taskPackages.length === 0 && plan.dockerfileSnippet === "") return image;
  const dockerfile = taskImageDockerfile(image, { debianPackages: taskPackages, dockerfileSnippet: plan.dockerfileSnippet });
  const tag = taskImageTag(image, dockerfile);
  const result = await ensureLayer(layers, {
    tag,
    kind: "task",
    parent: image,
    files: [],
    dockerfile,
    summary: taskPackages.length > 0 ? taskPackages.join(" ") : "Dockerfile lines",
    labels: { [LABEL_TASK_ENVIRONMENT]: tag.split(":")[1] ?? "" },
    explainFailure: (output) => missingPackagesError(output, plan.requirements),
  });
  return result.tag;
}

/** The missing-packages marker in a failed task layer's output, as a UserError that names them. */
function missingPackagesError(output: readonly string[], requirements: readonly Requirement[]): Error | undefined {
  const line = output.find((each) => each.startsWith(MISSING_PACKAGES_MARKER));
  if (line === undefined) return undefined;
  const missing = line.slice(MISSING_PACKAGES_MARKER.length).trim().split(/\s+/);
  const substitutions = debianSubstitutions(requirements);
  const named = missing.map((debianPackage) => {
    const substitution = substitutions.find((each) => each.debianPackage === debianPackage);
    return substitution ? `requirement "${substitution.requirement}" (Debian package ${debianPackage})` : `Debian package ${debianPackage}`;
  });
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `the task environment needs ${named.join(", ")}, which the Debian mirror does not have. ` +
      "Name a package index that has it (--pip-index-url, PIP_INDEX_URL, --wheelhouse), or drop the requirement",
    { details: { missing } },
  );
}

export type PythonMismatchPolicy = "error" | "warn";

/**
 * Checks a requested Python (`testbed_environment`: "python3.11", "python3", "3.10", "") against
 * the sandbox's. Returns a warning when the policy is "warn" and they differ; throws a UserError
 * when the policy is "error" (the default).
 */
export function checkPythonVersion(requested: string, policy: PythonMismatchPolicy = "error"): string | undefined {
  const text = requested.trim();
  if (text === "") return undefined;
  // Accepted forms: "python3.11", "python3", "python", "3.10", "python=3.10" (conda style).
  const match = /^(?:python|py)?[-=\s]*(?:(\d+)(?:\.(\d+))?(?:\.\d+)?)?$/i.exec(text);
  const [major, minor] = SANDBOX_PYTHON_VERSION.split(".");
  const fits =
    match !== null && (match[1] === undefined || (match[1] === major && (match[2] === undefined || match[2] === minor)));
  if (fits) return undefined;
  const message = match
    ? `the task asks for ${text}, but the sandbox image has Python ${SANDBOX_PYTHON_VERSION}`
    : `the task asks for the environment "${text}", which is not a Python version dynabox knows (it has Python ${SANDBOX_PYTHON_VERSION})`;
  if (policy === "warn") return `${message}; running on Python ${SANDBOX_PYTHON_VERSION} anyway (--python-mismatch warn)`;
  throw new UserError(
    "DYNABOX_TASK_INVALID",
    `${message}. To run it on Python ${SANDBOX_PYTHON_VERSION} anyway, pass --python-mismatch warn ` +
      "(the test may then fail for reasons that have nothing to do with the agent's work)",
    { details: { requested: text, available: SANDBOX_PYTHON_VERSION } },
  );
}
