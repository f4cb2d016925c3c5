// `dynabox clean`: remove containers and volumes dynabox made: those of dead processes (--dead,
// the safe form on a shared engine), of one run (--run), or all of them, live or not.

import type { Command } from "commander";
import { z } from "zod";
import { assertDockerReachable, connectDocker } from "../../sandbox/docker.js";
import { cleanAll, sweepDeadOwners } from "../../sandbox/reaper.js";
import { parseFlags } from "../flags.js";
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
    .description(
      "remove containers and volumes dynabox made. Use --dead (safe on a shared engine: only those whose dynabox process is gone) " +
        "or --run ID (one run's, the id a run prints at its start); without either it removes EVERY dynabox container, also other people's running sandboxes",
    )
    .option("--run <id>", "only the containers of this run id (printed at the run's start)")
    .option("--dead", "only the containers whose dynabox process is gone (recommended; what every start sweeps)")
    .option("--json", "print what was removed as JSON")
    .action(async (rawFlags: unknown) => {
      const flags = parseFlags(cleanFlags, rawFlags);
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
