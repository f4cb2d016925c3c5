// `dynabox doctor`'s Slurm line: only `--slurm` needs Slurm, so its absence is fine; Slurm's
// commands without a controller that answers are worth a warning (a wrong SLURM_CONF, a
// controller down), since `--slurm` would fail on them.

import { execa } from "execa";

export interface SlurmCheck {
  name: "slurm";
  status: "ok" | "warn";
  detail: string;
  fix?: string;
}

export async function slurmCheck(): Promise<SlurmCheck> {
  const version = await execa("sbatch", ["--version"], { reject: false, timeout: 5_000 });
  if (version.failed && (version as { code?: string }).code === "ENOENT") {
    return { name: "slurm", status: "ok", detail: "Slurm's sbatch is not here: needed only for --slurm (submit from a cluster's login node)" };
  }
  const partitions = await execa("sinfo", ["--noheader", "--format=%P %a %D %T"], { reject: false, timeout: 10_000 });
  if (partitions.exitCode !== 0) {
    return {
      name: "slurm",
      status: "warn",
      detail: `${version.stdout.trim() || "sbatch"} is here but the controller does not answer: ${(partitions.stderr || partitions.stdout).trim().split("\n")[0] ?? "no answer"}`,
      fix: "check SLURM_CONF and that slurmctld runs (scontrol ping); only --slurm needs it",
    };
  }
  const described = partitions.stdout
    .trim()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [partition, availability, nodes, state] = line.trim().split(/\s+/);
      return `${partition} (${availability}, ${nodes} node(s) ${state})`;
    });
  return { name: "slurm", status: "ok", detail: `${version.stdout.trim()}; partitions: ${described.join(", ") || "none"}` };
}
