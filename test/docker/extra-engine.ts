// A second Docker engine for a test file (scripts/extra-dockerd.sh: own data root, socket and
// network namespace), started once per file and stopped with its folder and namespace after it,
// whether the tests passed or not.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";

const SCRIPT = path.resolve("scripts/extra-dockerd.sh");

export interface ExtraEngine {
  /** The engine's unix socket. */
  socket: string;
  /** Its folder (data root, log, pidfile). */
  folder: string;
  /** The network namespace the daemon runs in (/var/run/netns/<namespace>). */
  namespace: string;
  /** Stops the daemon, unmounts and removes the folder and namespace; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts an extra dockerd named `name` (a-z, 0-9, -); `extraArguments` go to dockerd, `environment`
 * to the script (DYNABOX_ENGINE_LINK: a veth link to the namespace).
 */
export async function startExtraEngine(name: string, extraArguments: readonly string[] = [], environment: Record<string, string> = {}): Promise<ExtraEngine> {
  const folder = await mkdtemp(path.join(tmpdir(), `dynabox-engine-${name}-`));
  const stop = async (): Promise<void> => {
    await execa("bash", [SCRIPT, "stop", name, folder], { reject: false });
  };
  try {
    const socket = (await execa("bash", [SCRIPT, "start", name, folder, ...extraArguments], { env: environment })).stdout.trim();
    return { socket, folder, namespace: `dynabox-${name}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
