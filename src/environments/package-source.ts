// Which package source a build uses, decided from the user's settings and whether indexes answer:
//
//   --pip-index-url / PIP_INDEX_URL (+ extra indexes)  -> that index; it must answer
//   --wheelhouse only                                  -> pip --no-index --find-links
//   nothing named                                      -> PyPI when it answers
//   no index answers                                   -> Debian substitutes, only with consent
//
// The identity (what goes into a packages layer's hash) names the index URLs and the wheelhouse's
// files, so a layer built from one source is never reused for another.

import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.js";
import { PYPI_INDEX_URL, redactUrl, type EnvironmentSettings } from "./settings.js";

export interface IndexSource {
  kind: "index";
  /** Main index; undefined with a wheelhouse only (pip --no-index). */
  indexUrl: string | undefined;
  extraIndexUrls: string[];
  wheelhouse: string | undefined;
  /** Whether the index was chosen by default (PyPI) rather than named by the user. */
  defaulted: boolean;
  /** For messages: "index http://127.0.0.1:8000/simple", "wheelhouse /data/wheels". */
  description: string;
  /** What the layer hash covers. */
  identity: string;
}

export function indexSource(settings: EnvironmentSettings): IndexSource {
  const named = settings.pipIndexUrl;
  const extraIndexUrls = settings.pipExtraIndexUrls ?? [];
  const wheelhouse = settings.wheelhouse;
  const defaulted = named === undefined && wheelhouse === undefined;
  const indexUrl = named ?? (defaulted || extraIndexUrls.length > 0 ? PYPI_INDEX_URL : undefined);
  const parts = [
    ...(indexUrl !== undefined ? [`index ${redactUrl(indexUrl)}`] : []),
    ...extraIndexUrls.map((url) => `extra index ${redactUrl(url)}`),
    ...(wheelhouse !== undefined ? [`wheelhouse ${wheelhouse}`] : []),
  ];
  const identity = JSON.stringify({
    indexUrl: indexUrl ?? null,
    extraIndexUrls,
    wheelhouse: wheelhouse !== undefined ? wheelhouseFingerprint(wheelhouse) : null,
  });
  return { kind: "index", indexUrl, extraIndexUrls, wheelhouse, defaulted, description: parts.join(", "), identity };
}

/** The wheelhouse's file names, sizes and modification times: cheap, and changes when a file does. */
export function wheelhouseFingerprint(folder: string): string {
  const hash = createHash("sha256");
  const names = readdirSync(folder).sort();
  for (const name of names) {
    const stat = statSync(path.join(folder, name));
    if (!stat.isFile()) continue;
    hash.update(`${name}\0${stat.size}\0${Math.round(stat.mtimeMs)}\n`);
  }
  return hash.digest("hex");
}

/** The wheelhouse's regular files (what is copied into the build). */
export function wheelhouseFiles(folder: string): string[] {
  return readdirSync(folder)
    .sort()
    .filter((name) => statSync(path.join(folder, name)).isFile());
}

const probeCache = new Map<string, { at: number; problem: string | undefined }>();

/**
 * Whether an index answers from this host: undefined when it does, otherwise why not. Any HTTP
 * answer counts (a private index may answer 404 for an unknown project). Remembered for a minute.
 */
export async function probeIndex(url: string, options: { timeoutMs?: number; signal?: AbortSignal | undefined } = {}): Promise<string | undefined> {
  const cached = probeCache.get(url);
  if (cached && performance.now() - cached.at < 60_000) return cached.problem;
  // A project page, not the root: PyPI's root lists every project (tens of MB).
  const target = url.replace(/\/+$/, "") + "/pip/";
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 8_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let problem: string | undefined;
  try {
    const response = await fetch(target, { method: "GET", signal, redirect: "follow" });
    await response.body?.cancel().catch(() => undefined);
    problem = response.status >= 500 ? `it answered HTTP ${response.status}` : undefined;
  } catch (error) {
    options.signal?.throwIfAborted();
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    problem = timeout.aborted ? `no answer within ${Math.round((options.timeoutMs ?? 8_000) / 1000)} s` : (cause?.code ?? cause?.message ?? (error as Error).message);
  }
  probeCache.set(url, { at: performance.now(), problem });
  return problem;
}

/** The error for "no index answers and Debian substitutes were not allowed". */
export function noIndexError(source: IndexSource, problem: string): UserError {
  const where = source.defaulted ? `PyPI (${PYPI_INDEX_URL}) does not answer (${problem})` : `the package index does not answer: ${source.description} (${problem})`;
  return new UserError(
    "DYNABOX_TASK_INVALID",
    `the task needs Python requirements, but ${where}. ` +
      "Name an index that answers with --pip-index-url URL (or PIP_INDEX_URL; a mirror on this machine's loopback works), " +
      "or a folder of wheels with --wheelhouse DIR; or pass --allow-debian-substitutes to install Debian's packages instead " +
      "(their versions, not the pinned ones; each substitution is listed in the result)",
    { details: { source: source.description, problem } },
  );
}
