// Work a test file undoes after each of its tests, last registered first, whether the test passed
// or not: servers, proxies, scratch folders. Push onto the returned list in the order things are
// made.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

export type Cleanup = () => Promise<void>;

export function cleanupsAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}

/** Makes a new folder under the system's temporary folder, removed by `cleanups`. */
export async function scratchFolder(cleanups: Cleanup[], prefix: string): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  return folder;
}
