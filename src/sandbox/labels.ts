// Every container and volume dynabox creates carries these labels, so that `dynabox clean`
// and the start-up sweep can find what a dead process left behind.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";

export const LABEL_MANAGED = "dynabox.managed";
export const LABEL_RUN = "dynabox.run";
export const LABEL_OWNER_PID = "dynabox.owner.pid";
export const LABEL_OWNER_START = "dynabox.owner.start";
export const LABEL_OWNER_HOST = "dynabox.owner.host";
export const LABEL_ROLE = "dynabox.role";

export interface OwnerIdentity {
  pid: number;
  /** Process start time as the OS reports it; tells a live owner from a reused pid. */
  startTime: string;
  host: string;
}

/** The start time of a process (Linux: field 22 of /proc/PID/stat), or "" where unknown. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return afterName[19] ?? "";
  } catch {
    return "";
  }
}

export function currentOwner(): OwnerIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid), host: hostname() };
}

export function ownerLabels(owner: OwnerIdentity, runId: string, role: string): Record<string, string> {
  return {
    [LABEL_MANAGED]: "true",
    [LABEL_RUN]: runId,
    [LABEL_OWNER_PID]: String(owner.pid),
    [LABEL_OWNER_START]: owner.startTime,
    [LABEL_OWNER_HOST]: owner.host,
    [LABEL_ROLE]: role,
  };
}

/**
 * Whether the process that created a labelled resource is gone. Only answerable for owners on
 * this host; resources of other hosts (a shared remote engine) are never judged dead here.
 */
export function isOwnerDead(labels: Record<string, string | undefined>, here: string = hostname()): boolean {
  if (labels[LABEL_OWNER_HOST] !== here) return false;
  const pid = Number(labels[LABEL_OWNER_PID]);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  const start = processStartTime(pid);
  if (start === "") {
    try {
      process.kill(pid, 0);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
    return false;
  }
  return start !== labels[LABEL_OWNER_START];
}
