// The repository cache with real git in temporary folders (no Docker).

import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { RepositoryCache, repositoryKey } from "../../src/families/resq/repo-cache.js";
import { resolveRepositoryUrl, type RepositorySource } from "../../src/families/resq/task.js";
import { temporaryFolders } from "../temporary-folders.js";

const folder = temporaryFolders("dynabox-resq-cache-unit-");

const GIT_ENV = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.invalid",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.invalid",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
};
const git = async (cwd: string, ...args: string[]) => (await execa("git", args, { cwd, env: GIT_ENV })).stdout.trim();

/** A source repository: main at base, branch solution one commit ahead. */
async function sourceRepository(): Promise<{ root: string; base: string; solution: string }> {
  const root = await folder();
  await git(root, "init", "-q", "-b", "main");
  await writeFile(path.join(root, "a.py"), "x = 1\n");
  await git(root, "add", "-A");
  await git(root, "commit", "-qm", "base");
  const base = await git(root, "rev-parse", "HEAD");
  await git(root, "checkout", "-qb", "solution");
  await writeFile(path.join(root, "a.py"), "x = 2  # the secret fix\n");
  await git(root, "commit", "-qam", "solution");
  const solution = await git(root, "rev-parse", "HEAD");
  await git(root, "checkout", "-q", "main");
  return { root, base, solution };
}

async function objectExists(repository: string, object: string): Promise<boolean> {
  return execa("git", ["cat-file", "-e", object], { cwd: repository, env: GIT_ENV }).then(() => true, () => false);
}

describe("RepositoryCache", () => {
  it("mirrors once per repository and makes clean repositories without the solution, from a folder, a file:// URL and a bundle", async () => {
    const { root, base, solution } = await sourceRepository();
    const bundle = path.join(await folder(), "repo.bundle");
    await git(root, "bundle", "create", "-q", bundle, "--all");
    const sources: RepositorySource[] = [
      resolveRepositoryUrl(path.relative(process.cwd(), root), process.cwd()),
      resolveRepositoryUrl(pathToFileURL(root).href, "/"),
      resolveRepositoryUrl(bundle, "/"),
    ];
    expect(sources[2]).toMatchObject({ kind: "local", bundle: true });
    const lines: string[] = [];
    const cache = new RepositoryCache({ cacheDirectory: await folder(), onProgress: (line) => lines.push(line) });
    for (const source of sources) {
      const clean = await cache.cleanRepository(source, base.slice(0, 10), [solution]);
      expect(clean.baseCommit).toBe(base);
      expect(path.basename(clean.directory)).toBe(`${repositoryKey(source)}-${base}`);
      expect(existsSync(path.join(clean.directory, ".git", "HEAD"))).toBe(true);
      expect(existsSync(path.join(clean.directory, ".git", "FETCH_HEAD"))).toBe(false);
      expect(await git(clean.directory, "rev-parse", "main")).toBe(base);
      expect(await git(clean.directory, "for-each-ref", "--format=%(refname)")).toBe("refs/heads/main");
      expect(await git(clean.directory, "remote")).toBe("");
      expect(await objectExists(clean.directory, solution)).toBe(false);
      // The mirror has it: that is why the agent never gets the mirror.
      expect(await objectExists(cache.mirrorPath(source), solution)).toBe(true);
    }
    // The relative path and the file:// URL name the same folder: one mirror for both.
    expect(repositoryKey(sources[0] as RepositorySource)).toBe(repositoryKey(sources[1] as RepositorySource));
    expect(lines.filter((line) => line.startsWith("cloning"))).toHaveLength(2);

    // Second time: nothing is cloned or prepared again.
    lines.length = 0;
    await cache.cleanRepository(sources[0] as RepositorySource, base, [solution]);
    expect(lines).toEqual([]);
  });

  it("fetches when a commit is missing from the mirror, and names a commit that does not exist", async () => {
    const { root, base } = await sourceRepository();
    const source = resolveRepositoryUrl(root, "/");
    const lines: string[] = [];
    const cache = new RepositoryCache({ cacheDirectory: await folder(), onProgress: (line) => lines.push(line) });
    await cache.ensureMirror(source, [base]);
    await writeFile(path.join(root, "b.py"), "y = 1\n");
    await git(root, "add", "-A");
    await git(root, "commit", "-qm", "later");
    const later = await git(root, "rev-parse", "HEAD");
    const clean = await cache.cleanRepository(source, later);
    expect(clean.baseCommit).toBe(later);
    expect(lines.some((line) => line.startsWith("fetching") && line.includes(later))).toBe(true);
    await expect(cache.cleanRepository(source, "0".repeat(40))).rejects.toThrow(/commit 0{40} is not in the repository/);
  });

  it("concurrent requests for the same clean repository share one result", async () => {
    const { root, base, solution } = await sourceRepository();
    const cache = new RepositoryCache({ cacheDirectory: await folder() });
    const source = resolveRepositoryUrl(root, "/");
    const results = await Promise.all(Array.from({ length: 4 }, () => cache.cleanRepository(source, base, [solution])));
    expect(new Set(results.map((result) => result.directory)).size).toBe(1);
  });

  it("a repository that can not be cloned is a task error naming it", async () => {
    const empty = await folder();
    const cache = new RepositoryCache({ cacheDirectory: await folder() });
    await expect(cache.ensureMirror(resolveRepositoryUrl(empty, "/"), ["abc1234"])).rejects.toThrow(
      new RegExp(`could not clone ${empty}`),
    );
  });
});
