// `dynabox clean`: remove every container and volume dynabox made, live or not.

import type { Command } from "commander";
import { z } from "zod";
import { assertDockerReachable, connectDocker } from "../../sandbox/docker.js";
import { cleanAll, sweepDeadOwners } from "../../sandbox/reaper.js";

const cleanFlags = z.object({
  json: z.boolean().default(false),
  run: z.string().min(1).optional(),
  dead: z.boolean().default(false),
});

export function registerCleanCommand(program: Command): void {
  program
    .command("clean")
    .description("remove every container and volume labelled dynabox.managed (also stops running sandboxes)")
    .option("--run <id>", "only the containers of this run id")
    .option("--dead", "only the containers whose dynabox process is gone (what every start sweeps)")
    .option("--json", "print what was removed as JSON")
    .action(async (rawFlags: unknown) => {
      const flags = cleanFlags.parse(rawFlags);
      const docker = connectDocker();
      await assertDockerReachable(docker);
      const result = flags.dead
        ? await sweepDeadOwners(docker)
        : await cleanAll(docker, flags.run === undefined ? {} : { runId: flags.run });
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({
            removedContainers: result.removedContainers,
            removedVolumes: result.removedVolumes,
            containers: result.containers.map((container) => container.name),
            volumes: result.volumes.map((volume) => volume.name),
          }) + "\n",
        );
        return;
      }
      const lines = [
        ...result.containers.map((container) => `removed container ${container.name}`),
        ...result.volumes.map((volume) => `removed volume ${volume.name}`),
        `removed ${result.removedContainers} container(s) and ${result.removedVolumes} volume(s)`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
