// The task's own Python: a sandbox image with the kernel on another Python version than the
// default image's 3.11 (RES-Q testbed_environment, an mlab task.json "python", ...).
//
// Where the interpreter comes from, in order:
//   1. the official python:X.Y-slim image, when the engine has it or a registry answers;
//   2. air-gapped: the Debian release that ships X.Y (bullseye 3.9, bookworm 3.11, trixie 3.13),
//      as debian:<release>-slim or bootstrapped from the Debian mirror (debootstrap + import);
//   3. otherwise a clear error that lists the versions this machine can have.
// On that base goes a small sandbox: python3 (and venv for pip), git, the sandbox user and the
// kernel from sandbox/. Tag `dynabox-sandbox-py:<16 hex>` hashes the base name, the Dockerfile
// and the kernel's files, so it is built once per engine and reused.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { UserError } from "../errors.js";
import { ensureDebianBaseImage, tryPull } from "../sandbox/base-image.js";
import { imageExists } from "../sandbox/docker.js";
import { acquireBuildLock, buildImage, listImageInputs, projectRoot } from "../sandbox/image.js";
import { LABEL_MANAGED } from "../sandbox/labels.js";
import { packFiles } from "../sandbox/archive.js";
import { recordImageUse } from "./image-cache.js";

export const PYTHON_SANDBOX_REPOSITORY = "dynabox-sandbox-py";
/** The default sandbox image's Python (Debian bookworm). */
export const DEFAULT_PYTHON_VERSION = "3.11";
/** Debian releases and the Python 3 each ships. */
export const DEBIAN_PYTHONS: Readonly<Record<string, string>> = { "3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie" };
/** Label: the Python version of an image. */
export const LABEL_PYTHON = "dynabox.python";

export type RequestedPython = { kind: "any" } | { kind: "version"; version: string } | { kind: "unknown"; text: string };

/** "python3.9", "3.9", "python=3.9", "Python3.9.7" -> 3.9; "", "python3", "python" -> any. */
export function parseRequestedPython(text: string): RequestedPython {
  const trimmed = text.trim();
  if (trimmed === "") return { kind: "any" };
  const match = /^(?:python|py)?[-=\s]*(?:(\d+)(?:\.(\d+))?(?:\.\d+)?)?$/i.exec(trimmed);
  if (!match) return { kind: "unknown", text: trimmed };
  if (match[1] === undefined) return { kind: "any" };
  if (match[1] !== "3") return { kind: "unknown", text: trimmed };
  if (match[2] === undefined) return { kind: "any" };
  return { kind: "version", version: `3.${Number(match[2])}` };
}

/** The kernel and graders run on Python 3.8 and later. */
export function supportedVersion(version: string): boolean {
  const minor = Number(version.split(".")[1]);
  return version.startsWith("3.") && minor >= 8;
}

export interface PythonBase {
  image: string;
  /** "official" python:X.Y-slim (Python in /usr/local, nothing from apt), or a Debian release. */
  flavor: "official" | "debian";
}

export function pythonSandboxDockerfile(base: PythonBase, version: string): string {
  const packages = base.flavor === "official" ? "git ca-certificates" : "python3 python3-venv python-is-python3 git ca-certificates";
  return [
    `FROM ${base.image}`,
    "ENV DEBIAN_FRONTEND=noninteractive",
    `RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages} && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*`,
    // The image must hold the Python asked for: a wrong release fails here, not in a test.
    `RUN python3 -c "import sys; v = '%d.%d' % sys.version_info[:2]; assert v == '${version}', 'Python ' + v + ', not ${version}'"`,
    "RUN useradd --uid 1000 --user-group --no-create-home --home-dir /tmp --shell /bin/bash sandbox && mkdir -p /workspace && chown sandbox:sandbox /workspace",
    "COPY sandbox/ /opt/dynabox/",
    "ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg MPLCONFIGDIR=/tmp/.matplotlib PYTHONPATH=/opt/dynabox/lib",
    "USER 1000:1000",
    "WORKDIR /workspace",
    'ENTRYPOINT ["python3", "/opt/dynabox/kernel.py"]',
  ].join("\n") + "\n";
}

function sandboxFiles(root: string): { path: string; content: Buffer; mode: number }[] {
  return listImageInputs(root)
    .filter((input) => input.relativePath.startsWith("sandbox/") && input.kind === "file")
    .map((input) => ({ path: input.relativePath, content: readFileSync(input.absolutePath), mode: input.mode }));
}

export function pythonSandboxTag(base: PythonBase, dockerfile: string, files: readonly { path: string; content: Buffer }[]): string {
  const hash = createHash("sha256").update(`${base.image}\0${dockerfile}`);
  for (const file of files) hash.update(`\0${file.path}\0${file.content.length}\0`).update(file.content);
  return `${PYTHON_SANDBOX_REPOSITORY}:${hash.digest("hex").slice(0, 16)}`;
}

export interface PythonImageContext {
  docker: Dockerode;
  /** The default sandbox image (Python 3.11). */
  sandboxImage: string;
  signal?: AbortSignal | undefined;
  onProgress?: ((line: string) => void) | undefined;
  verbose?: boolean | undefined;
  /** How long a pull may stay silent before registries count as unreachable (default 20 s). */
  pullTimeoutMilliseconds?: number | undefined;
}

/** Remembered per process: a pull that failed is not tried again for every task. */
const unreachable = new Map<string, string>();

/** The versions this machine can supply, for error messages. */
export function availablePythons(): string {
  return Object.entries(DEBIAN_PYTHONS)
    .map(([version, release]) => `${version} (Debian ${release}${version === DEFAULT_PYTHON_VERSION ? ", the default sandbox image" : ""})`)
    .join(", ");
}

/**
 * The sandbox image for a requested Python: the default image for "any" and 3.11; otherwise a
 * small sandbox on that Python, built once. A version nobody can supply is a UserError that says
 * which versions can be had here.
 */
export async function ensurePythonSandbox(context: PythonImageContext, requested: string): Promise<string> {
  const wanted = parseRequestedPython(requested);
  if (wanted.kind === "any") return context.sandboxImage;
  if (wanted.kind === "unknown") {
    throw new UserError(
      "DYNABOX_TASK_INVALID",
      `the task asks for the environment "${wanted.text}", which is not a Python 3 version dynabox knows; it can supply ${availablePythons()}, ` +
        "or any 3.x when a registry serves python:3.x-slim",
      { details: { requested: wanted.text } },
    );
  }
  const version = wanted.version;
  if (version === DEFAULT_PYTHON_VERSION) return context.sandboxImage;
  if (!supportedVersion(version)) {
    throw new UserError("DYNABOX_TASK_INVALID", `the task asks for ${requested.trim()}; dynabox's kernel runs on Python 3.8 and later`, {
      details: { requested: version },
    });
  }
  const progress = context.onProgress ?? (() => {});
  const root = projectRoot();
  const files = sandboxFiles(root);
  // A tagged image for either base is reused without asking a registry.
  const candidates: PythonBase[] = [{ image: `python:${version}-slim`, flavor: "official" }];
  const release = DEBIAN_PYTHONS[version];
  if (release !== undefined) {
    candidates.push({ image: `debian:${release}-slim`, flavor: "debian" }, { image: `dynabox-base:${release}`, flavor: "debian" });
  }
  for (const base of candidates) {
    const tag = pythonSandboxTag(base, pythonSandboxDockerfile(base, version), files);
    if (await imageExists(context.docker, tag)) {
      recordImageUse(tag);
      return tag;
    }
  }
  const lock = await acquireBuildLock({
    path: path.join(tmpdir(), `dynabox-image-build-python-${version}.lock`),
    signal: context.signal,
    onWait: progress,
  });
  try {
    for (const base of candidates) {
      const tag = pythonSandboxTag(base, pythonSandboxDockerfile(base, version), files);
      if (await imageExists(context.docker, tag)) return tag;
    }
    const base = await findPythonBase(context, requested.trim(), version, release);
    const dockerfile = pythonSandboxDockerfile(base, version);
    const tag = pythonSandboxTag(base, dockerfile, files);
    const started = performance.now();
    progress(`building Python ${version} sandbox ${tag} from ${base.image}`);
    await buildImage(context.docker, {
      context: await packFiles([{ path: "Dockerfile", content: dockerfile }, ...files]),
      tag,
      name: `Python ${version} sandbox ${tag}`,
      labels: { [LABEL_MANAGED]: "true", [LABEL_PYTHON]: version, "dynabox.layer": "python-sandbox", "dynabox.parent": base.image },
      signal: context.signal,
      timeoutMs: 900_000,
      ...(context.verbose ? { onProgress: (line: string) => progress(`  ${line}`) } : {}),
    });
    recordImageUse(tag);
    progress(`built Python ${version} sandbox ${tag} in ${Math.round((performance.now() - started) / 100) / 10} s`);
    return tag;
  } finally {
    lock.release();
  }
}

async function findPythonBase(context: PythonImageContext, asked: string, version: string, release: string | undefined): Promise<PythonBase> {
  const official = `python:${version}-slim`;
  if (await imageExists(context.docker, official)) return { image: official, flavor: "official" };
  let problem = unreachable.get(official);
  if (problem === undefined) {
    context.onProgress?.(`pulling ${official}`);
    problem = await tryPull(context.docker, official, {
      ...(context.signal ? { signal: context.signal } : {}),
      pullTimeoutMilliseconds: context.pullTimeoutMilliseconds ?? 20_000,
    });
    if (problem === undefined) return { image: official, flavor: "official" };
    unreachable.set(official, problem);
  }
  if (release === undefined) {
    throw new UserError(
      "DYNABOX_TASK_INVALID",
      `the task asks for ${asked}, which can not be had here: ${official} could not be pulled (${problem}) and no Debian release ships ${version}. ` +
        `This machine can supply ${availablePythons()}; run where a registry answers, or load ${official} with docker load`,
      { details: { requested: version, pullProblem: problem } },
    );
  }
  const progress = context.onProgress;
  const image = await ensureDebianBaseImage(context.docker, {
    suite: release,
    ...(context.signal ? { signal: context.signal } : {}),
    // debootstrap's hundreds of lines only with verbose: one line per step otherwise.
    ...(progress ? { onProgress: (line: string) => (context.verbose || !line.startsWith("debootstrap: ") ? progress(line) : undefined) } : {}),
    pullTimeoutMilliseconds: context.pullTimeoutMilliseconds ?? 20_000,
  });
  return { image, flavor: "debian" };
}
