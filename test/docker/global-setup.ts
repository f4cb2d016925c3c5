// Global setup of the docker project: the engine must answer (these suites are part of
// `npm test`), the sandbox image is built or reused once, and its tag is provided to the tests.
// At teardown, containers of this test run (owned by this process or its workers, or by dead
// owners) are swept, and a leak is reported.

import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { assertDockerReachable, assertRuntimeAvailable, connectDocker } from "../../src/sandbox/docker.js";
import { ensureSandboxImage } from "../../src/sandbox/image.js";
import { LABEL_OWNER_HOST, LABEL_OWNER_PID, isOwnerDead } from "../../src/sandbox/labels.js";
import { removeManaged } from "../../src/sandbox/reaper.js";
import { hostname } from "node:os";

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(parent) ? parent : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is this process or one of its descendants (the vitest workers). */
function isOursOrDescendant(pid: number): boolean {
  for (let current: number | undefined = pid, hops = 0; current !== undefined && current > 1 && hops < 16; hops++) {
    if (current === process.pid) return true;
    current = parentPid(current);
  }
  return false;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const docker = connectDocker();
  try {
    await assertDockerReachable(docker);
  } catch (error) {
    const how = process.env.CI
      ? "CI=true: the docker suites need an engine; .ci/run starts one with scripts/ensure-docker.sh"
      : "start one with: sudo bash scripts/ensure-docker.sh (or set DOCKER_HOST); or run only the unit tests: npx vitest run --project unit";
    throw new Error(`the docker test project needs a Docker engine. ${(error as Error).message}\n${how}`, { cause: error });
  }

  const runtime = process.env.DYNABOX_TEST_RUNTIME;
  if (runtime) {
    // Asked for explicitly, so a missing runtime is a failure, never a quiet run under runc.
    await assertRuntimeAvailable(docker, runtime);
    process.stderr.write(`[dynabox runtime] the suites run under ${runtime}\n`);
  }

  const write = (line: string) => process.stderr.write(`[dynabox image] ${line}\n`);
  const result = await ensureSandboxImage(docker, { onProgress: write });
  write(result.built ? `built ${result.tag} in ${result.seconds} s` : `reusing ${result.tag}`);
  project.provide("sandboxImage", result.tag);

  return async () => {
    const swept = await removeManaged(docker, (labels) => {
      if (labels[LABEL_OWNER_HOST] === hostname() && isOursOrDescendant(Number(labels[LABEL_OWNER_PID]))) return true;
      return isOwnerDead(labels);
    });
    const count = swept.removedContainers + swept.removedVolumes;
    if (count > 0) {
      process.stderr.write(
        `[dynabox teardown] swept ${swept.removedContainers} container(s) and ${swept.removedVolumes} volume(s) left behind: ` +
          [...swept.containers, ...swept.volumes].map((resource) => resource.name).join(", ") +
          "\n",
      );
    }
  };
}
