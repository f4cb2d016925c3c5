// `dynabox image build|tag|ls|prune`: build (or reuse) the sandbox image; print the tag for the
// inputs; list and trim the images dynabox made (sandbox, bases, Python sandboxes, environment layers).

import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { assertDockerReachable, connectDocker } from "../../sandbox/docker.js";
import { ensureSandboxImage, sandboxImageTag } from "../../sandbox/image.js";
import { listCachedImages, parseDuration, parseSize, planPrune, removeImages, type CachedImage } from "../../environments/image-cache.js";
import { interruptSignal } from "../shared.js";

const buildFlags = z.object({ force: z.boolean().default(false), json: z.boolean().default(false) });


const listFlags = z.object({ json: z.boolean().default(false), label: z.array(z.string()).optional() });
const pruneFlags = z.object({
  olderThan: z.string().optional(),
  keepSize: z.string().optional(),
  dryRun: z.boolean().default(false),
  json: z.boolean().default(false),
  label: z.array(z.string()).optional(),
});

function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function humanAge(date: Date, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function imageJson(image: CachedImage): Record<string, unknown> {
  return {
    tags: image.tags,
    id: image.id,
    kind: image.kind,
    size: image.size,
    own_size: image.ownSize,
    created: image.created.toISOString(),
    last_used: image.lastUsed.toISOString(),
    use_recorded: image.useRecorded,
    parent: image.parent,
    used_by: image.usedBy,
    containers: image.containers,
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerImageCommand(program: Command): void {
  const image = program.command("image").description("the sandbox image and the environment images built on it");

  image
    .command("ls")
    .description("list the images dynabox made: size, last used, what they are built on and what uses them")
    .option("--label <key=value>", "only images with this label (repeatable)", collect)
    .option("--json", "print a JSON array")
    .action(async (rawFlags: unknown) => {
      const flags = listFlags.parse(rawFlags);
      const docker = connectDocker();
      await assertDockerReachable(docker, interruptSignal());
      const images = await listCachedImages(docker, { ...(flags.label ? { labels: flags.label } : {}) });
      if (flags.json) {
        process.stdout.write(JSON.stringify(images.map(imageJson)) + "\n");
        return;
      }
      const rows = images.map((each) => [
        each.tags[0] ?? each.id.slice(7, 19),
        each.kind,
        humanSize(each.ownSize) + (each.ownSize !== each.size ? ` (${humanSize(each.size)} total)` : ""),
        humanAge(each.lastUsed) + (each.useRecorded ? "" : " (built)"),
        [...each.usedBy, ...(each.containers > 0 ? [`${each.containers} container(s)`] : [])].join(", ") || "-",
      ]);
      const header = ["IMAGE", "KIND", "SIZE", "LAST USED", "USED BY"];
      const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
      for (const row of [header, ...rows]) process.stdout.write(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd() + "\n");
      const total = images.reduce((sum, each) => sum + each.ownSize, 0);
      process.stdout.write(`${images.length} image(s), ${humanSize(total)}\n`);
    });

  image
    .command("prune")
    .description("remove images dynabox made that were not used lately (--older-than) or beyond a size (--keep-size)")
    .option("--older-than <duration>", "remove images not used within this long: 30m, 12h, 7d, 2w")
    .option("--keep-size <size>", "then remove the least recently used until the rest fits: 500M, 10G")
    .option("--label <key=value>", "only images with this label (repeatable)", collect)
    .option("--dry-run", "say what would be removed, remove nothing")
    .option("--json", "print {removed, failed, freed_bytes} as JSON")
    .action(async (rawFlags: unknown) => {
      const flags = pruneFlags.parse(rawFlags);
      if (flags.olderThan === undefined && flags.keepSize === undefined) {
        throw new UserError("DYNABOX_USAGE", "image prune needs --older-than DURATION (e.g. 7d) or --keep-size SIZE (e.g. 10G), or both");
      }
      const olderThanMs = flags.olderThan !== undefined ? parseDuration(flags.olderThan) : undefined;
      const keepSizeBytes = flags.keepSize !== undefined ? parseSize(flags.keepSize) : undefined;
      const docker = connectDocker();
      await assertDockerReachable(docker, interruptSignal());
      const images = await listCachedImages(docker, { ...(flags.label ? { labels: flags.label } : {}) });
      const chosen = planPrune(images, { olderThanMs, keepSizeBytes, protect: [sandboxImageTag()] });
      const result = flags.dryRun
        ? { removed: chosen.map((each) => ({ tags: each.tags, id: each.id, size: each.ownSize })), failed: [], freedBytes: chosen.reduce((sum, each) => sum + each.ownSize, 0) }
        : await removeImages(docker, chosen);
      if (flags.json) {
        process.stdout.write(JSON.stringify({ dry_run: flags.dryRun, removed: result.removed, failed: result.failed, freed_bytes: result.freedBytes }) + "\n");
        return;
      }
      for (const each of result.removed) process.stdout.write(`${flags.dryRun ? "would remove" : "removed"} ${each.tags.join(" ") || each.id} (${humanSize(each.size)})\n`);
      for (const each of result.failed) process.stdout.write(`kept ${each.tags.join(" ") || each.id}: ${each.reason}\n`);
      process.stdout.write(`${flags.dryRun ? "would free" : "freed"} ${humanSize(result.freedBytes)}\n`);
    });

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
