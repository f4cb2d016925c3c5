// Environment images, layered and content-addressed:
//
//   sandbox image (base + Python + kernel)
//     -> dynabox-python:<hash>   a venv (--system-site-packages) with pip, on the image's Python
//     -> dynabox-env:<hash>      the task's requirements, installed by pip from the chosen index
//     -> dynabox-task:<hash>     Debian packages and Dockerfile lines of the task
//
// Each tag hashes its parent's tag and its own Dockerfile and inputs, so rows that share a
// requirements set share one image, and a changed parent gives fresh children. A build holds a
// lock file per tag: two processes never build the same hash at once, different hashes build in
// parallel. Progress is one line per build ("building …", "built … in N s"), every line of
// output only with verbose.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { packFiles } from "../sandbox/archive.js";
import { imageExists } from "../sandbox/docker.js";
import { acquireBuildLock, buildImage } from "../sandbox/image.js";
import { LABEL_MANAGED } from "../sandbox/labels.js";
import { recordImageUse } from "./image-cache.js";

export const PYTHON_LAYER_REPOSITORY = "dynabox-python";
export const PACKAGES_LAYER_REPOSITORY = "dynabox-env";
/** Label on every environment layer: which kind it is (python, packages, task). */
export const LABEL_LAYER = "dynabox.layer";
/** Label: the tag of the image a layer was built on. */
export const LABEL_PARENT = "dynabox.parent";
/** Where the venv lives in every image with a Python layer. */
export const VENV_PATH = "/opt/dynabox/venv";
export const ENVIRONMENT_FOLDER = "/opt/dynabox/environment";

export interface LayerContext {
  docker: Dockerode;
  signal?: AbortSignal | undefined;
  onProgress?: ((line: string) => void) | undefined;
  verbose?: boolean | undefined;
  buildTimeoutSeconds?: number | undefined;
}

export interface LayerBuild {
  tag: string;
  /** "python layer", "packages layer", "task layer": for messages. */
  kind: "python" | "packages" | "task";
  parent: string;
  /** Files of the build context besides the Dockerfile. */
  files: { path: string; content: Buffer | string; mode?: number }[];
  dockerfile: string;
  buildArgs?: Record<string, string> | undefined;
  /** What this build installs, for the one progress line. */
  summary: string;
  networkMode?: "host" | undefined;
  /** More image labels. */
  labels?: Record<string, string> | undefined;
  /** Turns a failed build's output into a clearer error (e.g. an unmeetable pin); undefined keeps the original. */
  explainFailure?: ((output: string[]) => Error | undefined) | undefined;
}

/** `<repository>:<16 hex>` over the parent's tag and the layer's inputs. */
export function layerTag(repository: string, parent: string, inputs: readonly string[]): string {
  const hash = createHash("sha256").update(parent);
  for (const input of inputs) hash.update("\0").update(input);
  return `${repository}:${hash.digest("hex").slice(0, 16)}`;
}

export interface LayerResult {
  tag: string;
  built: boolean;
  seconds: number;
}

/** Reuses the layer's image when tagged; otherwise builds it once (per-tag lock across processes). */
export async function ensureLayer(context: LayerContext, build: LayerBuild): Promise<LayerResult> {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 100) / 10;
  recordImageUse(build.tag);
  if (await imageExists(context.docker, build.tag)) return { tag: build.tag, built: false, seconds: seconds() };
  const progress = context.onProgress ?? (() => {});
  const lock = await acquireBuildLock({
    path: path.join(tmpdir(), `dynabox-image-build-${build.tag.replace(/[^A-Za-z0-9_.-]/g, "_")}.lock`),
    signal: context.signal,
    onWait: progress,
  });
  try {
    if (await imageExists(context.docker, build.tag)) return { tag: build.tag, built: false, seconds: seconds() };
    progress(`building ${build.kind} layer ${build.tag} (${build.summary})`);
    const output: string[] = [];
    try {
      await buildImage(context.docker, {
        context: await packFiles([{ path: "Dockerfile", content: build.dockerfile }, ...build.files]),
        tag: build.tag,
        name: `${build.kind} layer ${build.tag}`,
        buildArgs: build.buildArgs,
        labels: { [LABEL_MANAGED]: "true", [LABEL_LAYER]: build.kind, [LABEL_PARENT]: build.parent, ...build.labels },
        networkMode: build.networkMode,
        signal: context.signal,
        timeoutMs: (context.buildTimeoutSeconds ?? 900) * 1000,
        onProgress: (line) => {
          output.push(line);
          if (output.length > 400) output.shift();
          if (context.verbose) progress(`  ${line}`);
        },
      });
    } catch (error) {
      if (context.signal?.aborted) throw error;
      throw build.explainFailure?.(output) ?? error;
    }
    progress(`built ${build.kind} layer ${build.tag} in ${seconds()} s`);
    return { tag: build.tag, built: true, seconds: seconds() };
  } finally {
    lock.release();
  }
}

/** The Python layer: a venv that sees the image's packages and has pip, first on PATH. */
export function pythonLayerDockerfile(parent: string): string {
  return [
    `FROM ${parent}`,
    "USER root",
    "ENV DEBIAN_FRONTEND=noninteractive",
    // Debian's python3 is "externally managed" (PEP 668): pip goes into a venv, never into /usr.
    // The venv sees the image's own packages (numpy, pandas...) and its pins win over them.
    "RUN set -e; if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then " +
      "apt-get update -qq; apt-get install -y -qq --no-install-recommends python3-venv; apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*; fi; " +
      `python3 -m venv --system-site-packages ${VENV_PATH}; ${VENV_PATH}/bin/python -m pip --version`,
    `ENV PATH=${VENV_PATH}/bin:$PATH VIRTUAL_ENV=${VENV_PATH} PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1`,
    "USER 1000:1000",
    "WORKDIR /workspace",
  ].join("\n") + "\n";
}

export function pythonLayerBuild(parent: string): LayerBuild {
  const dockerfile = pythonLayerDockerfile(parent);
  return {
    tag: layerTag(PYTHON_LAYER_REPOSITORY, parent, [dockerfile]),
    kind: "python",
    parent,
    files: [],
    dockerfile,
    summary: "a venv with pip",
  };
}

/** Reads a file for a build context, for callers that copy a wheelhouse. */
export function readContextFile(file: string): Buffer {
  return readFileSync(file);
}
