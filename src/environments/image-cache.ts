// The image cache a user can see and trim: every image dynabox made (label dynabox.managed=true):
// bases, sandbox images, Python sandboxes, Python/packages/task layers. For each: size, when it
// was last used, what it was built on and what is built on it.
//
// "Last used" is kept by dynabox itself (Docker does not record it): each time an environment
// image is looked up or built, a file named after its tag is touched under
// <cache>/image-usage/; its modification time is the last use. Images never seen there count from
// their creation.

import { closeSync, mkdirSync, openSync, statSync, utimesSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { UserError } from "../errors.js";
import { LABEL_MANAGED } from "../sandbox/labels.js";
// Kept here (not imported from layers.ts, which imports this module).
const LABEL_LAYER = "dynabox.layer";
const LABEL_PARENT = "dynabox.parent";

export function imageUsageDirectory(): string {
  const base = process.env.DYNABOX_CACHE_DIR
    ? path.resolve(process.env.DYNABOX_CACHE_DIR)
    : path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "dynabox");
  return path.join(base, "image-usage");
}

function usageFile(tag: string, folder: string): string {
  return path.join(folder, tag.replace(/[^A-Za-z0-9_.-]/g, "_"));
}

/** Records that an image was used now. Never fails the caller: the record is a convenience. */
export function recordImageUse(tag: string, folder: string = imageUsageDirectory()): void {
  try {
    const file = usageFile(tag, folder);
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      mkdirSync(folder, { recursive: true });
      closeSync(openSync(file, "a"));
      utimesSync(file, now, now);
    }
  } catch {
    // A read-only cache folder: no usage record, nothing else changes.
  }
}

function lastRecordedUse(tags: readonly string[], folder: string): Date | undefined {
  let latest: Date | undefined;
  for (const tag of tags) {
    try {
      const time = statSync(usageFile(tag, folder)).mtime;
      if (latest === undefined || time > latest) latest = time;
    } catch {
      // never recorded
    }
  }
  return latest;
}

export type ImageKind = "base" | "sandbox" | "python-sandbox" | "python" | "packages" | "task" | "other";

export interface CachedImage {
  id: string;
  tags: string[];
  kind: ImageKind;
  /** Bytes, shared layers included (what `docker images` shows). */
  size: number;
  /** Bytes this image adds over its parent, when the parent is known. */
  ownSize: number;
  created: Date;
  lastUsed: Date;
  /** Whether lastUsed is a recorded use (else it is the creation time). */
  useRecorded: boolean;
  parent: string | null;
  /** Tags of managed images built on this one. */
  usedBy: string[];
  /** Containers (any state) that run this image. */
  containers: number;
  labels: Record<string, string>;
}

function kindOf(tags: readonly string[], labels: Record<string, string>): ImageKind {
  const layer = labels[LABEL_LAYER];
  if (layer === "python" || layer === "packages" || layer === "task" || layer === "python-sandbox") return layer;
  const repository = (tags[0] ?? "").split(":")[0] ?? "";
  if (repository === "dynabox-base") return "base";
  if (repository === "dynabox-sandbox") return "sandbox";
  if (repository === "dynabox-task") return "task";
  return "other";
}

export interface ListOptions {
  /** Only images carrying all these labels ("key=value" or "key"). */
  labels?: string[];
  usageFolder?: string;
}

export async function listCachedImages(docker: Dockerode, options: ListOptions = {}): Promise<CachedImage[]> {
  const folder = options.usageFolder ?? imageUsageDirectory();
  // All managed images, so parents and children are known even when only some are shown.
  const summaries = await docker.listImages({ filters: { label: [`${LABEL_MANAGED}=true`] } });
  const containers = await docker.listContainers({ all: true });
  const images: CachedImage[] = summaries.map((summary) => {
    const tags = (summary.RepoTags ?? []).filter((tag) => tag !== "<none>:<none>");
    const labels = summary.Labels ?? {};
    const created = new Date(summary.Created * 1000);
    const recorded = lastRecordedUse(tags, folder);
    return {
      id: summary.Id,
      tags,
      kind: kindOf(tags, labels),
      size: summary.Size,
      ownSize: summary.Size,
      created,
      lastUsed: recorded ?? created,
      useRecorded: recorded !== undefined,
      parent: labels[LABEL_PARENT] ?? null,
      usedBy: [],
      containers: containers.filter((container) => container.ImageID === summary.Id || tags.includes(container.Image)).length,
      labels,
    };
  });
  const byTag = new Map(images.flatMap((image) => image.tags.map((tag) => [tag, image] as const)));
  for (const image of images) {
    const parent = image.parent !== null ? byTag.get(image.parent) : undefined;
    if (parent === undefined) continue;
    parent.usedBy.push(image.tags[0] ?? image.id);
    image.ownSize = Math.max(0, image.size - parent.size);
  }
  const wanted = (image: CachedImage): boolean =>
    (options.labels ?? []).every((filter) => {
      const [key, ...rest] = filter.split("=");
      return rest.length === 0 ? image.labels[key ?? ""] !== undefined : image.labels[key ?? ""] === rest.join("=");
    });
  return images.filter(wanted).sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** "7d", "12h", "30m", "90s", "2w" -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(text.trim());
  if (!match) throw new UserError("DYNABOX_USAGE", `--older-than ${text}: expected a number and a unit s, m, h, d or w (e.g. 7d)`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[(match[2] ?? "s").toLowerCase() as "s"];
  return Number(match[1]) * unit;
}

/** "10G", "500M", "1.5GB", "2048" (bytes) -> bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?$/i.exec(text.trim());
  if (!match) throw new UserError("DYNABOX_USAGE", `--keep-size ${text}: expected a size such as 10G, 500M or 2048 (bytes)`);
  const unit = (match[2] ?? "b").toLowerCase()[0] as "b" | "k" | "m" | "g" | "t";
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit];
  return Math.round(Number(match[1]) * factor);
}

export interface PrunePlanOptions {
  olderThanMs?: number | undefined;
  keepSizeBytes?: number | undefined;
  now?: Date;
  /** Tags never removed (the current sandbox image). */
  protect?: readonly string[];
}

/**
 * Which images to remove: those not used within olderThan, then the least recently used until
 * what is left fits keepSize (counted by own size, so shared layers count once). Images a
 * container still runs, and parents of kept images, are kept.
 */
export function planPrune(images: readonly CachedImage[], options: PrunePlanOptions): CachedImage[] {
  const now = (options.now ?? new Date()).getTime();
  // Bases cost a re-bootstrap and are shared by everything: never pruned here (docker rmi removes them).
  const removable = (image: CachedImage): boolean =>
    image.containers === 0 && image.kind !== "base" && !image.tags.some((tag) => options.protect?.includes(tag));
  const remove = new Set<CachedImage>();
  if (options.olderThanMs !== undefined) {
    for (const image of images) if (removable(image) && now - image.lastUsed.getTime() > options.olderThanMs) remove.add(image);
  }
  // A parent goes only with all its children (removing its tag would hide where they came from).
  const byTag = new Map(images.flatMap((image) => image.tags.map((tag) => [tag, image] as const)));
  const childrenOf = (image: CachedImage): CachedImage[] =>
    images.filter((each) => each.parent !== null && image.tags.includes(each.parent));
  let changed = true;
  while (changed) {
    changed = false;
    for (const image of images) {
      if (remove.has(image) || image.parent === null) continue;
      const parent = byTag.get(image.parent);
      if (parent !== undefined && remove.delete(parent)) changed = true;
    }
  }
  if (options.keepSizeBytes !== undefined) {
    let total = images.filter((image) => !remove.has(image)).reduce((sum, image) => sum + image.ownSize, 0);
    const oldestFirst = [...images].sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
    let progress = true;
    while (total > options.keepSizeBytes && progress) {
      progress = false;
      for (const image of oldestFirst) {
        if (total <= options.keepSizeBytes) break;
        if (remove.has(image) || !removable(image) || childrenOf(image).some((child) => !remove.has(child))) continue;
        remove.add(image);
        total -= image.ownSize;
        progress = true;
      }
    }
  }
  return images.filter((image) => remove.has(image));
}

export interface PruneResult {
  removed: { tags: string[]; id: string; size: number }[];
  failed: { tags: string[]; id: string; reason: string }[];
  freedBytes: number;
}

/** Removes the images (children first, never forced: Docker refuses what is still in use). */
export async function removeImages(docker: Dockerode, images: readonly CachedImage[]): Promise<PruneResult> {
  const result: PruneResult = { removed: [], failed: [], freedBytes: 0 };
  const depth = (image: CachedImage): number => {
    let count = 0;
    let parent = image.parent;
    const byTag = new Map(images.flatMap((each) => each.tags.map((tag) => [tag, each] as const)));
    while (parent !== null && byTag.has(parent) && count < 50) {
      count += 1;
      parent = byTag.get(parent)!.parent;
    }
    return count;
  };
  for (const image of [...images].sort((a, b) => depth(b) - depth(a))) {
    try {
      const names = image.tags.length > 0 ? image.tags : [image.id];
      for (const name of names) await docker.getImage(name).remove({ noprune: false });
      result.removed.push({ tags: image.tags, id: image.id, size: image.ownSize });
      result.freedBytes += image.ownSize;
    } catch (error) {
      const reason = (error as { json?: { message?: string } }).json?.message ?? (error as Error).message;
      result.failed.push({ tags: image.tags, id: image.id, reason });
    }
  }
  return result;
}
