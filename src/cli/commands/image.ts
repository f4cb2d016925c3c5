// `dynabox image build|tag`: build (or reuse) the sandbox image; print the tag for the inputs.

import type { Command } from "commander";
import { z } from "zod";
import { assertDockerReachable, connectDocker } from "../../sandbox/docker.js";
import { ensureSandboxImage, sandboxImageTag } from "../../sandbox/image.js";
import { interruptSignal } from "../shared.js";

const buildFlags = z.object({ force: z.boolean().default(false), json: z.boolean().default(false) });


export function registerImageCommand(program: Command): void {
  const image = program.command("image").description("the sandbox image");

  image
    .command("build")
    .description("build the sandbox image for the current Dockerfile and sandbox/ (reused when it exists)")
    .option("--force", "build even when the image exists (Docker's layer cache still applies)")
    .option("--json", "print the result as JSON")
    .action(async (rawFlags: unknown) => {
      const flags = buildFlags.parse(rawFlags);
      const signal = interruptSignal();
      const docker = connectDocker();
      await assertDockerReachable(docker, signal);
      const result = await ensureSandboxImage(docker, {
        force: flags.force,
        signal,
        onProgress: (line) => process.stderr.write(line + "\n"),
      });
      process.stdout.write(
        (flags.json
          ? JSON.stringify(result)
          : result.built
            ? `built ${result.tag} in ${result.seconds} s`
            : `${result.tag} is up to date`) + "\n",
      );
    });

  image
    .command("tag")
    .description("print the tag of the sandbox image for the current inputs (no Docker needed)")
    .action(() => {
      process.stdout.write(sandboxImageTag() + "\n");
    });
}
