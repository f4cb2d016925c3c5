// Watching a dynabox command's grading containers from a test: which one has been alive long
// enough to be the slow item's (the one to kill, or the moment to interrupt the command).

import { LABEL_OWNER_PID, LABEL_ROLE } from "../../src/sandbox/labels.js";
import { docker } from "./sandbox-fixture.js";

/** The first grading container of `ownerPid` seen alive for `afterMs`; null when `stop()` said so first. */
export async function longRunningGrader(ownerPid: number, afterMs: number, stop: () => boolean): Promise<string | null> {
  const seen = new Map<string, number>();
  while (!stop()) {
    const containers = await docker.listContainers({ filters: { label: [`${LABEL_OWNER_PID}=${ownerPid}`, `${LABEL_ROLE}=grader`] } });
    for (const container of containers) {
      const first = seen.get(container.Id) ?? Date.now();
      seen.set(container.Id, first);
      if (Date.now() - first >= afterMs) return container.Id;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}
