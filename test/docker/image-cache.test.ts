// `dynabox image ls` and `image prune` on images this test makes (two small task layers on the
// sandbox image, carrying a label only this test uses, so nothing else on the engine is touched).

import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listCachedImages, planPrune, removeImages } from "../../src/environments/image-cache.js";
import { ensureLayer, layerTag } from "../../src/environments/layers.js";
import { imageExists } from "../../src/sandbox/docker.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const label = `dynabox.test-image-cache=${process.pid}-${Date.now()}`;
let usage: string;
const tags: string[] = [];

beforeAll(async () => {
  usage = await mkdtemp(path.join(tmpdir(), "dynabox-image-usage-"));
  process.env.DYNABOX_CACHE_DIR = path.dirname(path.join(usage, "image-usage"));
  for (const name of ["old", "new"]) {
    const dockerfile = `FROM ${image()}\nUSER root\nRUN echo ${name}-${label} > /opt/dynabox-test-marker\nUSER 1000:1000\n`;
    const tag = layerTag("dynabox-task", image(), [dockerfile]);
    await ensureLayer(
      { docker },
      { tag, kind: "task", parent: image(), files: [], dockerfile, summary: name, labels: { [label.split("=")[0]!]: label.split("=")[1]! } },
    );
    tags.push(tag);
  }
});
afterAll(async () => {
  for (const tag of tags) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  delete process.env.DYNABOX_CACHE_DIR;
  await rm(usage, { recursive: true, force: true });
});

describe("the image cache", () => {
  it("lists the images with kind, parent, own size and recorded last use; the parent says what uses it", async () => {
    const images = await listCachedImages(docker, { labels: [label] });
    expect(images.map((each) => each.tags[0]).sort()).toEqual([...tags].sort());
    for (const each of images) {
      expect(each).toMatchObject({ kind: "task", parent: image(), useRecorded: true, containers: 0 });
      expect(each.size).toBeGreaterThan(each.ownSize);
    }
    const all = await listCachedImages(docker);
    const sandbox = all.find((each) => each.tags.includes(image()));
    expect(sandbox?.usedBy).toEqual(expect.arrayContaining(tags));
  });

  it("prune --older-than removes what was not used lately, keeps the rest; --keep-size trims by least recent use", async () => {
    const [oldTag, newTag] = tags as [string, string];
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    await utimes(path.join(usage, "image-usage", oldTag.replace(/[^A-Za-z0-9_.-]/g, "_")), tenDaysAgo, tenDaysAgo).catch(async () => {
      throw new Error(`no usage record for ${oldTag} under ${usage}`);
    });
    const images = await listCachedImages(docker, { labels: [label] });
    const chosen = planPrune(images, { olderThanMs: 7 * 86_400_000 });
    expect(chosen.map((each) => each.tags[0])).toEqual([oldTag]);
    // Nothing removed by a dry run through the CLI either.
    const dry = await execa("node", [cli, "image", "prune", "--older-than", "7d", "--label", label, "--dry-run", "--json"], {
      env: { DYNABOX_CACHE_DIR: process.env.DYNABOX_CACHE_DIR! },
    });
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, removed: [{ tags: [oldTag] }] });
    expect(await imageExists(docker, oldTag)).toBe(true);

    const result = await removeImages(docker, chosen);
    expect(result.removed.map((each) => each.tags[0])).toEqual([oldTag]);
    expect(await imageExists(docker, oldTag)).toBe(false);
    expect(await imageExists(docker, newTag)).toBe(true);

    // keep-size 0: the rest goes too, through the CLI; the sandbox image itself is never chosen.
    const listed = JSON.parse((await execa("node", [cli, "image", "ls", "--label", label, "--json"])).stdout) as { tags: string[] }[];
    expect(listed.map((each) => each.tags[0])).toEqual([newTag]);
    const pruned = await execa("node", [cli, "image", "prune", "--keep-size", "0", "--label", label, "--json"]);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ dry_run: false, removed: [{ tags: [newTag] }], failed: [] });
    expect(await imageExists(docker, newTag)).toBe(false);
    expect(await imageExists(docker, image())).toBe(true);
  });

  it("refuses a prune without a limit, and bad durations and sizes, naming the fix", async () => {
    const none = await execa("node", [cli, "image", "prune"], { reject: false });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/needs --older-than DURATION \(e\.g\. 7d\) or --keep-size SIZE/);
    const bad = await execa("node", [cli, "image", "prune", "--older-than", "soon"], { reject: false });
    expect(bad.stderr).toMatch(/--older-than soon: expected a number and a unit/);
  });
});
