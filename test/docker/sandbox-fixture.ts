// Shared by the docker suites: a Docker client and sandboxes that are always disposed, even
// when a test fails.

import { afterAll, afterEach, inject } from "vitest";
import { connectDocker } from "../../src/sandbox/docker.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../src/sandbox/sandbox.js";

/**
 * The OCI runtime the suites run under: the engine's default, or DYNABOX_TEST_RUNTIME=runsc to run
 * the kernel and attack suites under gVisor (global setup checks the engine has it).
 */
export const testRuntime = process.env.DYNABOX_TEST_RUNTIME || undefined;

export const docker = connectDocker(undefined, testRuntime ? { runtime: testRuntime } : {});
export const image = (): string => inject("sandboxImage");

const live = new Set<Sandbox>();

/** Starts a sandbox from the test image; it is disposed after the test. */
export async function sandbox(options: Partial<SandboxOptions> = {}): Promise<Sandbox> {
  const started = await startSandbox(docker, { image: image(), role: "test", ...options });
  live.add(started);
  return started;
}

async function disposeAll(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.allSettled(all.map((each) => each.dispose()));
}

afterEach(disposeAll);
afterAll(disposeAll);

/** Processes in the sandbox other than PID 1 and the kernel worker, as seen from a cell. */
export const STRAY_PROCESSES = [
  "import os",
  "def alive(pid):",
  "    try:",
  "        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'",
  "    except OSError:",
  "        return False",
  "[p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid()) and alive(p)]",
].join("\n");
