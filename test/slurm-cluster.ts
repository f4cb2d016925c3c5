// A one-node Slurm cluster for a test file, started by the project's own script in a temporary
// folder and stopped (daemons by pid, folder removed) after the file, whether it passed or not.
// Without Slurm installed the suite is skipped, except under CI=true, where that is a failure.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const SCRIPT = path.resolve("scripts/slurm-local-cluster.sh");

export function slurmInstalled(): boolean {
  return ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch"].every((file) => existsSync(file));
}

/** Whether the suite runs: Slurm is here, or CI demands it (and the start will say what is missing). */
export function slurmWanted(): boolean {
  return slurmInstalled() || process.env.CI === "true";
}

export interface LocalCluster {
  folder: string;
  /** The environment for Slurm's commands (and dynabox --slurm): SLURM_CONF. */
  environment: Record<string, string>;
  stop(): void;
}

export function startLocalCluster(): LocalCluster {
  if (!slurmInstalled()) throw new Error("Slurm is not installed: run bash scripts/ensure-slurm.sh (CI=true needs it)");
  const folder = mkdtempSync(path.join(tmpdir(), "dynabox-slurm-"));
  const stop = (): void => {
    try {
      execFileSync("bash", [SCRIPT, "stop", folder], { stdio: "inherit" });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  };
  try {
    execFileSync("bash", [SCRIPT, "start", folder], { stdio: ["ignore", "pipe", "inherit"] });
  } catch (error) {
    stop();
    throw error;
  }
  return { folder, environment: { SLURM_CONF: path.join(folder, "slurm.conf") }, stop };
}
