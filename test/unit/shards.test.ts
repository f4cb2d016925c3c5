// The pure parts of sharding: --shard parsing, the split, the markers, the sbatch plans and the
// command line each array element runs.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseShardingFlags, shardCommandLine } from "../../src/cli/sharding.js";
import { UserError } from "../../src/errors.js";
import { allShards, clearShardMarker, parseShard, readShardMarker, selectShard, shardDirectory, writeShardMarker } from "../../src/runs/shards.js";
import { arraySpecification, batchScript, classifyState, sbatchArguments, shellQuote, splitOptions } from "../../src/runs/slurm.js";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("--shard i/n", () => {
  it("parses i/n and refuses what is not a shard, naming the fix", () => {
    expect(parseShard("2/8")).toEqual({ index: 2, count: 8 });
    expect(parseShard(" 1 / 1 ")).toEqual({ index: 1, count: 1 });
    for (const bad of ["0/4", "5/4", "2", "a/b", "2/0", "-1/3", "1.5/3"]) {
      expect(() => parseShard(bad)).toThrow(UserError);
    }
    expect(() => parseShard("5/4")).toThrow(/1 <= i <= n/);
  });

  it("splits round robin: every item in exactly one shard, in the planned order", () => {
    const items = Array.from({ length: 11 }, (_, position) => `task-${position}`);
    const parts = allShards(4).map((shard) => selectShard(items, shard));
    expect(parts[0]).toEqual(["task-0", "task-4", "task-8"]);
    expect(parts[3]).toEqual(["task-3", "task-7"]);
    expect(parts.flat().sort()).toEqual([...items].sort());
    expect(selectShard(items, { index: 1, count: 1 })).toEqual(items);
    // More shards than items: the extra shards are empty, never a duplicate.
    expect(allShards(5).map((shard) => selectShard(["a", "b"], shard))).toEqual([["a"], ["b"], [], [], []]);
  });

  it("keeps a shard's marker for that split only, and forgets it when the shard starts again", () => {
    const folder = mkdtempSync(path.join(tmpdir(), "dynabox-shard-marker-"));
    folders.push(folder);
    expect(shardDirectory("/runs/a", { index: 3, count: 4 })).toBe(path.join("/runs/a", "shards", "3-of-4"));
    expect(readShardMarker(folder, { index: 1, count: 2 })).toBeUndefined();
    writeShardMarker(folder, { index: 1, count: 2 }, { items: 3, errors: 1 });
    expect(readShardMarker(folder, { index: 1, count: 2 })).toMatchObject({ items: 3, errors: 1, shard: { index: 1, count: 2 } });
    expect(readShardMarker(folder, { index: 1, count: 3 })).toBeUndefined();
    clearShardMarker(folder);
    expect(readShardMarker(folder, { index: 1, count: 2 })).toBeUndefined();
    // Half written (the job died while writing it): not finished.
    writeFileSync(path.join(folder, "shard-done.json"), '{"schema_version": 1, "sha');
    expect(readShardMarker(folder, { index: 1, count: 2 })).toBeUndefined();
  });
});

describe("Slurm plans", () => {
  it("writes array ranges with the element limit", () => {
    expect(arraySpecification([1, 2, 3, 5, 7, 8])).toBe("1-3,5,7-8");
    expect(arraySpecification([4])).toBe("4");
    expect(arraySpecification([3, 1, 2, 2], 2)).toBe("1-3%2");
  });

  it("builds sbatch's arguments and a script that runs one shard per element", () => {
    const options = {
      count: 4,
      indices: [1, 2, 3, 4],
      command: ["/usr/bin/node", "/opt/dynabox/dist/cli/main.js", "eval", "--submissions", "my file's.jsonl", "--shard", "{SHARD}"],
      workingDirectory: "/home/me/work",
      logDirectory: "/home/me/work/run/shards",
      jobName: "dynabox-eval-resq",
      partition: "gpu",
      arrayLimit: 2,
      extraOptions: ["--time=01:00:00"],
    };
    expect(sbatchArguments(options)).toEqual([
      "--parsable",
      "--job-name=dynabox-eval-resq",
      "--array=1-4%2",
      "--output=/home/me/work/run/shards/slurm-%A_%a.out",
      "--chdir=/home/me/work",
      "--partition=gpu",
      "--time=01:00:00",
    ]);
    const script = batchScript(options);
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain(`exec /usr/bin/node /opt/dynabox/dist/cli/main.js eval --submissions 'my file'\\''s.jsonl' --shard "\${SLURM_ARRAY_TASK_ID}/4"`);
    expect(shellQuote("$(rm -rf /)")).toBe("'$(rm -rf /)'");
  });

  it("splits --slurm-option like a shell and refuses the options dynabox sets itself", () => {
    expect(splitOptions(["--time=02:00:00 --mem=8G", '--comment "two words"'])).toEqual(["--time=02:00:00", "--mem=8G", "--comment", "two words"]);
    for (const taken of ["--array=1-3", "-o x", "--output=x", "--wrap=ls", "--job-name=x", "--chdir=/"]) {
      expect(() => splitOptions([taken])).toThrow(/dynabox sets this sbatch option itself/);
    }
  });

  it("reads Slurm's job states into queued, running, completed and failed", () => {
    expect(classifyState("PENDING")).toBe("queued");
    expect(classifyState("REQUEUED")).toBe("queued");
    expect(classifyState("RUNNING")).toBe("running");
    expect(classifyState("COMPLETING")).toBe("running");
    expect(classifyState("COMPLETED")).toBe("completed");
    for (const dead of ["FAILED", "CANCELLED", "CANCELLED+", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL"]) {
      expect(classifyState(dead)).toBe("failed");
    }
  });
});

describe("the command line of an array element", () => {
  it("keeps the user's arguments, drops the submitter's own options, and adds the run folder and the shard", () => {
    const argv = ["/usr/bin/node", "dist/cli/main.js", "eval", "--resq", "d.json", "--slurm", "--slurm-partition", "short", "--slurm-option", "--time=1:00:00", "--slurm-shards=8", "--force", "--run-dir", "out", "--json"];
    expect(shardCommandLine(argv, "out")).toEqual({
      command: ["/usr/bin/node", path.resolve("dist/cli/main.js"), "eval", "--resq", "d.json", "--json", "--run-dir", path.resolve("out"), "--shard", "{SHARD}"],
      environment: {},
    });
  });

  it("passes an API key through the environment, never on the element's command line", () => {
    for (const argv of [
      ["node", "main.js", "run", "tasks", "--model", "m", "--api-key", "sk-secret", "--slurm"],
      ["node", "main.js", "run", "tasks", "--model", "m", "--api-key=sk-secret", "--slurm"],
    ]) {
      const { command, environment } = shardCommandLine(argv, "out");
      expect(command.join(" ")).not.toContain("sk-secret");
      expect(command.slice(2, 6)).toEqual(["run", "tasks", "--model", "m"]);
      expect(environment).toEqual({ OPENAI_API_KEY: "sk-secret" });
    }
  });

  it("refuses Slurm options without --slurm, and --shard with it", () => {
    expect(parseShardingFlags({})).toEqual({});
    expect(parseShardingFlags({ shard: "1/2" })).toEqual({ shard: { index: 1, count: 2 } });
    expect(() => parseShardingFlags({ slurmPartition: "gpu" })).toThrow(/go with --slurm/);
    expect(() => parseShardingFlags({ slurm: true, shard: "1/2" })).toThrow(/leave out --shard/);
    expect(parseShardingFlags({ slurm: true, slurmArrayLimit: "3", slurmOption: ["--mem=4G"] })).toEqual({ slurm: { arrayLimit: 3, options: ["--mem=4G"], retries: 2 } });
  });
});
