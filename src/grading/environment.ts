// Task environment images: what a task needs beyond the sandbox image (Debian packages, Python
// requirements, a few Dockerfile lines), layered on it once and reused. Shared by the families.
//
//   ensureTaskImage(context, spec) -> image tag
//
// - An empty spec gives the sandbox image itself: no build.
// - Otherwise the image is `FROM <sandbox image id>`, installs as root, and ends as USER 1000:1000
//   (the sandbox user); its tag `dynabox-task:<16 hex>` hashes the base image id and the spec, so it
//   is built once per sandbox image and spec, and a changed sandbox image gets a fresh build.
// - Python requirements become Debian packages `python3-<name>` (with a table for the names that
//   differ, such as scikit-learn -> python3-sklearn), installed with apt at build time. The build can
//   reach the Debian mirror but not PyPI, and Debian has one version of each package: version pins
//   can not be honoured, which is reported as a warning. A requirement Debian does not package is an
//   error that names it.
// - Builds hold the machine-wide image build lock, go through buildImage (src/sandbox/image.ts, the
//   one build loop), report each output line through context.onProgress, and stop after a timeout
//   (default 900 s).
//
// planTaskImage and taskImageDockerfile are pure and unit-tested; ensureTaskImage does the Docker part.

import { createHash } from "node:crypto";
import { packFiles } from "../sandbox/archive.js";
import { UserError } from "../errors.js";
import { imageExists } from "../sandbox/docker.js";
import { acquireBuildLock, buildImage } from "../sandbox/image.js";
import { LABEL_MANAGED } from "../sandbox/labels.js";
import { reportWarning, type GradingContext } from "./context.js";

export const TASK_IMAGE_REPOSITORY = "dynabox-task";
/** Image label holding the hash a task image was built from. */
export const LABEL_TASK_ENVIRONMENT = "dynabox.task-environment";
/** The Python of the sandbox image (Debian bookworm). */
export const SANDBOX_PYTHON_VERSION = "3.11";

export interface TaskEnvironmentSpec {
  /** Debian packages to install with apt, e.g. ["python3-toml", "libxml2-dev"]. */
  debianPackages?: string[];
  /** requirements.txt text; each requirement is installed as its Debian package. */
  pythonRequirements?: string;
  /** Dockerfile lines run as root after the packages (no network to PyPI; the Debian mirror works). */
  dockerfileSnippet?: string;
}

export interface PlannedRequirement {
  /** The line as written. */
  line: string;
  /** The normalized project name (PEP 503). */
  name: string;
  /** The Debian package installed for it; null when it is skipped (standard library). */
  debianPackage: string | null;
  /** The version constraint that could not be honoured, if any. */
  versionConstraint: string | null;
}

export interface TaskImagePlan {
  /** Sorted, unique: the spec's packages and the requirements' packages. */
  debianPackages: string[];
  requirements: PlannedRequirement[];
  dockerfileSnippet: string;
  warnings: string[];
  /** Nothing to add: the sandbox image itself serves. */
  empty: boolean;
}

/** PyPI names whose Debian package is not python3-<name>. */
const DEBIAN_NAMES: Record<string, string> = {
  "scikit-learn": "python3-sklearn",
  sklearn: "python3-sklearn",
  "scikit-image": "python3-skimage",
  beautifulsoup4: "python3-bs4",
  pyyaml: "python3-yaml",
  pillow: "python3-pil",
  "opencv-python": "python3-opencv",
  "opencv-python-headless": "python3-opencv",
  "python-dateutil": "python3-dateutil",
  attrs: "python3-attr",
  pyzmq: "python3-zmq",
  "psycopg2-binary": "python3-psycopg2",
  pytz: "python3-tz",
  pyjwt: "python3-jwt",
  "python-dotenv": "python3-dotenv",
  pyopenssl: "python3-openssl",
  gitpython: "python3-git",
  "websocket-client": "python3-websocket",
  pyserial: "python3-serial",
  pyusb: "python3-usb",
  "python-magic": "python3-magic",
  "protobuf": "python3-protobuf",
  "msgpack-python": "python3-msgpack",
  "pycryptodomex": "python3-pycryptodome",
  "tables": "python3-tables",
  "llvmlite": "python3-llvmlite",
  "typing-extensions": "python3-typing-extensions",
};

/** Requirements that Python 3.11 already has in its standard library. */
const STANDARD_LIBRARY = new Set(["argparse", "dataclasses", "typing", "enum34", "pathlib", "futures", "importlib", "asyncio", "unittest2"]);

/** PEP 503 normalization: lower case, runs of -_. become one "-". */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** The Debian package for a PyPI project name. */
export function debianPackageFor(name: string): string {
  const normalized = normalizeProjectName(name);
  return DEBIAN_NAMES[normalized] ?? `python3-${normalized}`;
}

const DEBIAN_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const REQUIREMENT = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;.*)?$/;

/**
 * Turns a spec into what will be installed, with warnings; throws a UserError for what can never
 * work offline (editable installs, URLs, nested requirement files, bad package names).
 */
export function planTaskImage(spec: TaskEnvironmentSpec): TaskImagePlan {
  const warnings: string[] = [];
  const requirements: PlannedRequirement[] = [];
  const problems: string[] = [];
  for (const raw of (spec.pythonRequirements ?? "").split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    if (line.startsWith("-")) {
      if (/^(-e|--editable|-r|--requirement|-c|--constraint)\b/.test(line)) {
        problems.push(`"${line}": editable installs and nested requirement files can not be installed offline`);
      } else {
        warnings.push(`requirements option "${line}" is ignored: packages come from Debian, not from a package index`);
      }
      continue;
    }
    if (/:\/\/|\s@\s/.test(line)) {
      problems.push(`"${line}": a requirement by URL needs PyPI or the network, which the build can not reach`);
      continue;
    }
    const match = REQUIREMENT.exec(line);
    if (!match) {
      problems.push(`"${line}": not a requirement this reader understands (expected name[extras] <version>)`);
      continue;
    }
    const name = normalizeProjectName(match[1] ?? "");
    const constraint = (match[3] ?? "").trim();
    if (STANDARD_LIBRARY.has(name)) {
      warnings.push(`requirement "${line}" is skipped: ${name} is part of Python ${SANDBOX_PYTHON_VERSION}'s standard library`);
      requirements.push({ line, name, debianPackage: null, versionConstraint: null });
      continue;
    }
    requirements.push({ line, name, debianPackage: debianPackageFor(name), versionConstraint: constraint === "" ? null : constraint });
  }
  for (const name of spec.debianPackages ?? []) {
    if (!DEBIAN_PACKAGE_NAME.test(name)) problems.push(`"${name}" is not a Debian package name`);
  }
  if (problems.length > 0) {
    throw new UserError("DYNABOX_TASK_INVALID", `the task environment can not be built:\n  ${problems.join("\n  ")}`, {
      details: { problems },
    });
  }
  const pinned = requirements.filter((requirement) => requirement.versionConstraint !== null);
  if (pinned.length > 0) {
    warnings.push(
      `versions can not be pinned (packages come from Debian bookworm, PyPI is not reachable): ` +
        pinned.map((requirement) => `${requirement.name}${requirement.versionConstraint} -> ${requirement.debianPackage}`).join(", "),
    );
  }
  const debianPackages = [
    ...new Set([
      ...(spec.debianPackages ?? []),
      ...requirements.flatMap((requirement) => (requirement.debianPackage ? [requirement.debianPackage] : [])),
    ]),
  ].sort();
  const dockerfileSnippet = (spec.dockerfileSnippet ?? "").trim();
  return { debianPackages, requirements, dockerfileSnippet, warnings, empty: debianPackages.length === 0 && dockerfileSnippet === "" };
}

/** The marker the build prints when apt does not know some packages. */
export const MISSING_PACKAGES_MARKER = "DYNABOX_MISSING_DEBIAN_PACKAGES:";

/** The Dockerfile of a task image on `baseImage` (an image id or tag). */
export function taskImageDockerfile(baseImage: string, plan: TaskImagePlan): string {
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

/** `dynabox-task:<16 hex>` from the base image's id and the Dockerfile. */
export function taskImageTag(baseImageId: string, dockerfile: string): string {
  const hash = createHash("sha256").update(`${baseImageId}\0${dockerfile}`).digest("hex");
  return `${TASK_IMAGE_REPOSITORY}:${hash.slice(0, 16)}`;
}

export interface EnsureTaskImageOptions {
  /** Longest a build may take (default 900 s). */
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
  const plan = planTaskImage(spec);
  for (const warning of plan.warnings) {
    options.onWarning?.(warning);
    reportWarning(context, warning);
  }
  if (plan.empty) return context.sandboxImage;
  const baseImageId = ((await context.docker.getImage(context.sandboxImage).inspect()) as { Id: string }).Id;
  const dockerfile = taskImageDockerfile(baseImageId, plan);
  const tag = taskImageTag(baseImageId, dockerfile);
  if (await imageExists(context.docker, tag)) return tag;
  const progress = context.onProgress ?? (() => {});
  const lock = await acquireBuildLock({ signal: context.signal, onWait: progress });
  try {
    if (await imageExists(context.docker, tag)) return tag;
    progress(`building task environment ${tag} (${plan.debianPackages.join(" ") || "Dockerfile lines"})`);
    await buildTaskImage(context, tag, dockerfile, plan, options.buildTimeoutSeconds ?? 900);
    return tag;
  } finally {
    lock.release();
  }
}

/** buildImage, turning the missing-packages marker in the output into a UserError that names them. */
async function buildTaskImage(
  context: GradingContext,
  tag: string,
  dockerfile: string,
  plan: TaskImagePlan,
  timeoutSeconds: number,
): Promise<void> {
  const progress = context.onProgress ?? (() => {});
  let missing: string[] = [];
  try {
    await buildImage(context.docker, {
      context: await packFiles([{ path: "Dockerfile", content: dockerfile }]),
      tag,
      name: `task environment ${tag}`,
      labels: { [LABEL_MANAGED]: "true", [LABEL_TASK_ENVIRONMENT]: tag.split(":")[1] ?? "" },
      signal: context.signal,
      timeoutMs: timeoutSeconds * 1000,
      onProgress: (line) => {
        if (line.startsWith(MISSING_PACKAGES_MARKER)) missing = line.slice(MISSING_PACKAGES_MARKER.length).trim().split(/\s+/);
        progress(line);
      },
    });
  } catch (error) {
    if (missing.length === 0 || context.signal?.aborted) throw error;
    const named = missing.map((debianPackage) => {
      const requirement = plan.requirements.find((each) => each.debianPackage === debianPackage);
      return requirement ? `requirement "${requirement.line}" (Debian package ${debianPackage})` : `Debian package ${debianPackage}`;
    });
    throw new UserError(
      "DYNABOX_TASK_INVALID",
      `the task environment needs ${named.join(", ")}, which Debian bookworm does not have. ` +
        "PyPI is not reachable from dynabox's builds, so only Python requirements that Debian packages can be installed; " +
        "drop the requirement, or provide it another way (a Dockerfile snippet that installs it from the Debian mirror)",
      { details: { missing } },
    );
  }
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
