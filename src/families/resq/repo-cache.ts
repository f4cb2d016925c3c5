// The RES-Q repository cache, on the host, through simple-git. Each repository is mirrored once
// (`git clone --mirror`) into <cacheDirectory>/repos/<key>.git and fetched again only when a commit
// a task needs is missing. From a mirror we make *clean repositories*: a fresh `git init` that
// fetched base_commit alone, so it holds base_commit and its history and nothing else, never the
// solution (the bundled bundles, and real upstream repositories, carry the solution commit too).
// Both the agent's workspace and the grader's container get a clean repository.
//
// Everything is built in a scratch folder and renamed into place, so concurrent dynabox processes
// sharing a cache never see a half-made mirror or checkout.

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { DynaboxError, InternalError, UserError, isAbortError } from "../../errors.js";
import type { RepositorySource } from "./task.js";

export interface RepositoryCacheOptions {
  /** The root of dynabox's caches; mirrors go under `repos/`, clean repositories under `checkouts/`. */
  cacheDirectory: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /** Seconds a git command may go without any output before it is stopped (default 300). */
  stallSeconds?: number;
}

export interface CleanRepository {
  /** A folder whose only entry is `.git`: put it into a container and `git reset --hard`. */
  directory: string;
  /** The full hash of base_commit; branch `main` points at it. */
  baseCommit: string;
}

/** What git reports as the source: the URL, or the absolute path of a folder or bundle. */
export function repositoryLocation(source: RepositorySource): string {
  return source.kind === "remote" ? source.url : source.path;
}

/** The cache key of a repository: 16 hex digits of the sha256 of its location. */
export function repositoryKey(source: RepositorySource): string {
  return createHash("sha256").update(`${source.kind}\0${repositoryLocation(source)}`).digest("hex").slice(0, 16);
}

// Host git must never wait for a password. The user's git config stays in effect (credential
// helpers and proxies for private remotes); what matters for the result is set on each command.
const GIT_ENVIRONMENT: Record<string, string> = {
  GIT_TERMINAL_PROMPT: "0",
};

export class RepositoryCache {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly options: RepositoryCacheOptions) {}

  get root(): string {
    return this.options.cacheDirectory;
  }

  mirrorPath(source: RepositorySource): string {
    return path.join(this.root, "repos", `${repositoryKey(source)}.git`);
  }

  cleanRepositoryPath(source: RepositorySource, baseCommit: string): string {
    return path.join(this.root, "checkouts", `${repositoryKey(source)}-${baseCommit}`);
  }

  /**
   * The mirror of a repository, cloned on first use; fetched again when one of `commits` is
   * missing. A commit still missing after that is the task's fault: a UserError names it.
   */
  async ensureMirror(source: RepositorySource, commits: readonly string[]): Promise<string> {
    const mirror = this.mirrorPath(source);
    return this.once(`mirror:${mirror}`, async () => {
      if (!existsSync(path.join(mirror, "HEAD"))) await this.cloneMirror(source, mirror);
      let missing = await this.missingCommits(mirror, commits);
      if (missing.length > 0) {
        this.progress(`fetching ${repositoryLocation(source)}: ${missing.join(", ")} not in the cache`);
        await this.git(mirror).raw(["fetch", "--quiet", "--tags", "--force", "origin"]);
        missing = await this.missingCommits(mirror, missing);
      }
      // Remote hosts often serve a commit by hash even when no branch holds it any more.
      if (missing.length > 0 && source.kind === "remote" && missing.every((commit) => /^[0-9a-f]{40,64}$/i.test(commit))) {
        await this.git(mirror)
          .raw(["fetch", "--quiet", "origin", ...missing.map((commit) => `${commit}:refs/dynabox/${commit}`)])
          .catch(() => undefined);
        missing = await this.missingCommits(mirror, missing);
      }
      if (missing.length > 0) {
        throw new UserError(
          "DYNABOX_TASK_INVALID",
          `commit ${missing.join(", ")} is not in the repository ${repositoryLocation(source)}; ` +
            "check base_commit / solution_commit in the dataset, or the repo_url",
          { details: { repository: repositoryLocation(source), missing } },
        );
      }
      return mirror;
    });
  }

  /**
   * A clean repository at base_commit: fresh `git init`, base_commit fetched from the mirror as
   * branch `main`, no remote, no FETCH_HEAD. `absentCommits` (the solution commit) are verified
   * to be absent unless they are ancestors of base_commit.
   */
  async cleanRepository(source: RepositorySource, baseCommit: string, absentCommits: readonly string[] = []): Promise<CleanRepository> {
    const mirror = await this.ensureMirror(source, [baseCommit]);
    const fullBase = (await this.git(mirror).raw(["rev-parse", "--verify", `${baseCommit}^{commit}`])).trim();
    const target = this.cleanRepositoryPath(source, fullBase);
    return this.once(`clean:${target}`, async () => {
      if (!existsSync(path.join(target, ".git", "HEAD"))) {
        this.progress(`preparing a clean checkout of ${repositoryLocation(source)} at ${fullBase.slice(0, 12)}`);
        await this.atomically(target, async (scratch) => {
          // An empty template: no sample hooks, no description file. Our own value, so "unsafe" is fine.
          await simpleGit({ baseDir: this.root, ...this.gitOptions(), unsafe: { allowUnsafeTemplateDir: true } })
            .env(this.environment())
            .raw(["init", "--quiet", "--initial-branch=main", "--template=", scratch]);
          const git = this.git(scratch);
          await git.raw(["fetch", "--quiet", "--no-tags", "--update-head-ok", mirror, `${fullBase}:refs/heads/main`]);
          await rm(path.join(scratch, ".git", "FETCH_HEAD"), { force: true });
          // So that an agent can commit inside its sandbox, where there is no global identity.
          await git.raw(["config", "user.name", "dynabox agent"]);
          await git.raw(["config", "user.email", "agent@dynabox.invalid"]);
          await git.raw(["config", "core.autocrlf", "false"]);
        });
      }
      await this.assertAbsent(target, fullBase, absentCommits);
      return { directory: target, baseCommit: fullBase };
    });
  }

  private async assertAbsent(repository: string, baseCommit: string, commits: readonly string[]): Promise<void> {
    const git = this.git(repository);
    for (const commit of commits) {
      if (!(await this.hasCommit(repository, commit))) continue;
      const ancestor = await git.raw(["merge-base", "--is-ancestor", commit, baseCommit]).then(() => true, () => false);
      if (!ancestor) {
        throw new InternalError(`the clean repository ${repository} holds commit ${commit}, which must not reach the agent`);
      }
    }
  }

  private async cloneMirror(source: RepositorySource, mirror: string): Promise<void> {
    this.progress(`cloning ${repositoryLocation(source)} into the cache`);
    await this.atomically(mirror, async (scratch) => {
      await simpleGit({ baseDir: this.root, ...this.gitOptions() }).env(this.environment())
        .raw(["-c", "clone.defaultRemoteName=origin", "clone", "--quiet", "--mirror", repositoryLocation(source), scratch]);
      // Lets a clean repository fetch a commit by hash even when no ref points at it any more.
      await this.git(scratch).raw(["config", "uploadpack.allowAnySHA1InWant", "true"]);
    }).catch((error: unknown) => {
      if (isAbortError(error) || DynaboxError.isInstance(error)) throw error;
      throw new UserError(
        "DYNABOX_TASK_INVALID",
        `could not clone ${repositoryLocation(source)}: ${(error as Error).message.trim()}`,
        { cause: error, retryable: source.kind === "remote" },
      );
    });
  }

  private async missingCommits(repository: string, commits: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const commit of commits) if (!(await this.hasCommit(repository, commit))) missing.push(commit);
    return missing;
  }

  private hasCommit(repository: string, commit: string): Promise<boolean> {
    return this.git(repository)
      .raw(["cat-file", "-e", `${commit}^{commit}`])
      .then(() => true, () => false);
  }

  /** Builds `target` in a scratch folder beside it and renames it into place; a racing winner is kept. */
  private async atomically(target: string, build: (scratch: string) => Promise<void>): Promise<void> {
    const scratchRoot = path.join(this.root, "tmp");
    await mkdir(scratchRoot, { recursive: true });
    await mkdir(path.dirname(target), { recursive: true });
    const scratch = path.join(scratchRoot, `${path.basename(target)}.${randomBytes(6).toString("hex")}`);
    try {
      await build(scratch);
      this.options.signal?.throwIfAborted();
      await rename(scratch, target).catch((error: NodeJS.ErrnoException) => {
        // Another process finished first: its copy is as good as ours.
        if (!(error.code === "ENOTEMPTY" || error.code === "EEXIST") || !existsSync(target)) throw error;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Runs `work` once per key at a time in this process; callers for the same key share it. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const promise = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private gitOptions() {
    return {
      timeout: { block: (this.options.stallSeconds ?? 300) * 1000 },
      ...(this.options.signal ? { abort: this.options.signal } : {}),
    };
  }

  private environment(): Record<string, string> {
    const inherited: Record<string, string> = {};
    // PATH and HOME only: GIT_DIR and friends from a surrounding hook must not leak in.
    for (const name of ["PATH", "HOME", "LANG", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]) {
      const value = process.env[name];
      if (value !== undefined) inherited[name] = value;
    }
    return { ...inherited, ...GIT_ENVIRONMENT };
  }

  private git(repository: string): SimpleGit {
    return simpleGit({ baseDir: repository, ...this.gitOptions() }).env(this.environment());
  }

  private progress(line: string): void {
    this.options.onProgress?.(line);
  }
}
