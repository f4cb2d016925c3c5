// `dynabox clean`: remove every container and volume dynabox made, live or not.

import type { Command } from "commander";
import { z } from "zod";
import { assertDockerReachable, connectDocker } from "../../sandbox/docker.js";
import { cleanAll, sweepDeadOwners } from "../../sandbox/reaper.js";
import { parseEngineSpec } from "../../engines/spec.js";
import { engineSelection } from "../engine-options.js";

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
      // The default engine, or each --engine given (labels and sweeps work per engine).
      const addresses = engineSelection().engines ?? [];
      const dockers = addresses.length === 0 ? [connectDocker()] : addresses.map((address) => connectDocker(parseEngineSpec(address).connection));
      const result = { removedContainers: 0, removedVolumes: 0, containers: [] as { name: string }[], volumes: [] as { name: string }[] };
      for (const docker of dockers) {
        await assertDockerReachable(docker);
        const swept = flags.dead ? await sweepDeadOwners(docker) : await cleanAll(docker, flags.run === undefined ? {} : { runId: flags.run });
        result.removedContainers += swept.removedContainers;
        result.removedVolumes += swept.removedVolumes;
        result.containers.push(...swept.containers);
        result.volumes.push(...swept.volumes);
      }
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
