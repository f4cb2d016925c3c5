import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { normalHash } from "../../src/actions/normalize.js";
import { ActionStore } from "../../src/actions/store.js";
import type { ActionCandidate } from "../../src/actions/types.js";
import { dropOrphanCandidates } from "../../src/cli/run-folder.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

function candidate(name: string, taskId: string): ActionCandidate {
  return {
    name,
    isAsync: false,
    signature: `${name}(x)`,
    docstring: `Does ${name}.`,
    source: `def ${name}(x):\n    """Does ${name}."""\n    return x`,
    imports: [],
    dependencies: [],
    freeNames: [],
    normalHash: normalHash(`${name}:return x`),
    origin: { taskId, step: 1 },
  };
}

describe("candidates of killed runs", () => {
  it("are dropped when the run's process is gone; a live run's are kept", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-orphans-"));
    folders.push(folder);
    using store = ActionStore.open(path.join(folder, "actions.sqlite"));
    // A process that ran and exited: its pid is (almost surely) free now.
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    store.recordCandidates(`run-old-${gone}`, [candidate("left_behind", "sab/1")]);
    store.recordCandidates(`run-live-${process.ppid}`, [candidate("in_progress", "sab/2")]);
    store.recordCandidates("not-a-run-id", [candidate("other", "sab/3")]);
    dropOrphanCandidates(store);
    expect(store.candidateRunIds()).toEqual([`run-live-${process.ppid}`, "not-a-run-id"].sort());
  });
});
