// ScienceAgentBench's Python: upstream's harness runs every program in a conda env on Python 3.10
// (evaluation/harness/dockerfiles.py), with a pinned stack (config_conda_env.py). dynabox asks for
// the same:
//
//   python:3.10-slim on the engine, or pulled    -> a 3.10 sandbox (src/environments/python-images.ts)
//                                                   with upstream's pinned base stack from the index
//   otherwise (air-gapped: no Debian release ships 3.10)
//                                                -> the sandbox image (Python 3.11, Debian's stack),
//                                                   with a warning on every SAB result naming the
//                                                   Python used and how to get 3.10
//
// Never silently: the warning goes into each verdict's row and the summary's warning count. The
// decision is made once per engine and sandbox image in a process (a failed pull is not retried for
// every program).

import type Dockerode from "dockerode";
import { UserError, isAbortError } from "../errors.js";
import { reportWarning, type GradingContext } from "../grading/context.js";
import { ensureTaskImage, SANDBOX_PYTHON_VERSION } from "../grading/environment.js";

export const SAB_UPSTREAM_PYTHON = "3.10";

/**
 * Upstream's base stack with its pins (config_conda_env.py adds numpy, scipy, matplotlib, torch,
 * tensorflow, rdkit, tf_keras to every program; pandas and scikit-learn as its programs and evals
 * need them). On the default sandbox image Debian's packages stand in for it.
 */
export const SAB_BASE_STACK = [
  "numpy<2.0",
  "scipy<1.14.0",
  "matplotlib<3.8.0",
  "pandas<=1.5.3",
  "scikit-learn",
  "torch<=2.3.0",
  "tensorflow<=2.17.0",
  "tf_keras<=2.17.0",
  "rdkit<=2023.09.5",
].join("\n") + "\n";

export interface SabBase {
  /** The image SAB programs (and the agent's sandbox) start from. */
  image: string;
  /** The Python it has. */
  python: string;
  /** Set when it is not upstream's 3.10: what was used, why, and how to get 3.10. */
  warning?: string;
}

/** The warning for grading on the sandbox image's Python instead of upstream's 3.10. */
export function sabPythonWarning(reason: string): string {
  return (
    `ScienceAgentBench's upstream harness runs programs on Python ${SAB_UPSTREAM_PYTHON}; this one ran on Python ${SANDBOX_PYTHON_VERSION} ` +
    `(the sandbox image, Debian's scientific stack), because ${reason}. To grade on ${SAB_UPSTREAM_PYTHON}: ` +
    `load the image into this engine (docker save python:${SAB_UPSTREAM_PYTHON}-slim where a registry answers, then docker load -i on this machine), ` +
    "or let the engine reach a registry; results may differ where a package behaves differently on the two Pythons"
  );
}

const decided = new WeakMap<Dockerode, Map<string, Promise<SabBase>>>();

/** Upstream's Python 3.10 with its stack when it can be had; otherwise the sandbox image with the warning. Reports the warning. */
export async function sabBaseImage(context: GradingContext): Promise<SabBase> {
  let byImage = decided.get(context.docker);
  if (byImage === undefined) {
    byImage = new Map();
    decided.set(context.docker, byImage);
  }
  let pending = byImage.get(context.sandboxImage);
  if (pending === undefined) {
    pending = decide(context);
    byImage.set(context.sandboxImage, pending);
    // An abort or an engine failure is not a decision: the next task asks again.
    pending.catch(() => byImage!.delete(context.sandboxImage));
  }
  const base = await pending;
  if (base.warning !== undefined) reportWarning(context, base.warning);
  return base;
}

/** `DYNABOX_SAB_PYTHON=sandbox`: keep ScienceAgentBench on the sandbox image (no 3.10 build), still with the warning. */
export const SAB_PYTHON_VARIABLE = "DYNABOX_SAB_PYTHON";

async function decide(context: GradingContext): Promise<SabBase> {
  if ((process.env[SAB_PYTHON_VARIABLE] ?? "").trim().toLowerCase() === "sandbox") {
    return { image: context.sandboxImage, python: SANDBOX_PYTHON_VERSION, warning: sabPythonWarning(`${SAB_PYTHON_VARIABLE}=sandbox asks for the sandbox image`) };
  }
  // Progress only: the warning is reported to each task by sabBaseImage.
  const quiet: GradingContext = { ...context, onWarning: () => {} };
  let image: string;
  try {
    image = await ensureTaskImage(quiet, { python: SAB_UPSTREAM_PYTHON, pythonRequirements: SAB_BASE_STACK, binaryOnly: true });
  } catch (error) {
    if (isAbortError(error) || context.signal?.aborted) throw error;
    if (!UserError.isInstance(error)) throw error;
    const reason = /can not be had here/.test(error.message)
      ? `python:${SAB_UPSTREAM_PYTHON}-slim is not on this engine, no registry answers, and no Debian release ships ${SAB_UPSTREAM_PYTHON}`
      : `upstream's stack could not be installed on Python ${SAB_UPSTREAM_PYTHON} (${error.message})`;
    return { image: context.sandboxImage, python: SANDBOX_PYTHON_VERSION, warning: sabPythonWarning(reason) };
  }
  return { image, python: SAB_UPSTREAM_PYTHON };
}
