// `dynabox eval` as a batch: resume keyed by what was graded, one item's failure never takes the
// batch down, results.jsonl and summary.json always written, warnings shown and counted. Real
// Docker, the built CLI, upstream-shaped RES-Q datasets and submissions written here.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { describe, expect, it } from "vitest";
import { LABEL_OWNER_PID } from "../../src/sandbox/labels.js";
import { temporaryFolders } from "../temporary-folders.js";
import { longRunningGrader } from "./grader-containers.js";
import { docker } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-eval-batch-");

interface Row {
  id: string;
  repo_url: string;
  solution_patch: string;
  test_script: string;
  testbed_environment: string;
  [field: string]: unknown;
}

/** The bundled rows, with repo_url made absolute so the dataset can live anywhere. */
async function bundledRows(): Promise<Row[]> {
  const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as Row[];
  return rows.map((row) => ({ ...row, repo_url: path.resolve("tasks/resq", row.repo_url) }));
}

async function readLines(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function readSummary(runDirectory: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
}

function evalResq(dataset: string, submissions: string, runDirectory: string, ...more: string[]): ResultPromise<{ reject: false }> {
  return execa("node", [cli, "eval", "--resq", dataset, "--submissions", submissions, "--run-dir", runDirectory, "--concurrency", "1", ...more], { reject: false });
}

/** A loopback port nothing listens on: connections to it are refused. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("eval resumes by content", () => {
  it("grades a second set of predictions in the same run folder anew, and skips an unchanged one (counted)", async () => {
    const folder = await scratch();
    const rows = (await bundledRows()).slice(0, 2);
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify(rows));
    const runDirectory = path.join(folder, "run");
    // Set A, as upstream's submit.py reads it: one JSON list. 0_0 solved, 1_0 empty.
    const setA = path.join(folder, "a.json");
    await writeFile(setA, JSON.stringify([{ id: rows[0]!.id, patch: rows[0]!.solution_patch }, { id: rows[1]!.id, patch: "" }], null, 2));
    const first = await evalResq(dataset, setA, runDirectory);
    expect(first.exitCode, first.stderr).toBe(0);
    expect((await readLines(path.join(runDirectory, "results.jsonl"))).map((line) => [line.id, line.message])).toEqual([
      [rows[0]!.id, "PASS"],
      [rows[1]!.id, "PATCH FAILED"],
    ]);

    // Set B, as JSON Lines, the other way round: both graded anew, nothing from the store.
    const setB = path.join(folder, "b.jsonl");
    await writeFile(setB, [{ id: rows[0]!.id, patch: "" }, { id: rows[1]!.id, patch: rows[1]!.solution_patch }].map((row) => JSON.stringify(row) + "\n").join(""));
    const second = await evalResq(dataset, setB, runDirectory);
    expect(second.exitCode, second.stderr).toBe(0);
    const linesB = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(linesB.map((line) => [line.id, line.message])).toEqual([
      [rows[0]!.id, "PATCH FAILED"],
      [rows[1]!.id, "PASS"],
    ]);
    expect(await readSummary(runDirectory)).toMatchObject({ from_store: 0, graded_now: 2, passed: 1 });

    // B again: both from the store, the same lines, and the summary says so.
    const third = await evalResq(dataset, setB, runDirectory);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stderr.match(/skipped/g)?.length).toBe(2);
    expect(await readLines(path.join(runDirectory, "results.jsonl"))).toEqual(linesB);
    expect(await readSummary(runDirectory)).toMatchObject({ from_store: 2, graded_now: 0, passed: 1 });
    expect(third.stderr).toContain("2 from the store");

    // One patch changed by a single byte (a blank instead of empty): only that item is graded again.
    await writeFile(setB, [{ id: rows[0]!.id, patch: " " }, { id: rows[1]!.id, patch: rows[1]!.solution_patch }].map((row) => JSON.stringify(row) + "\n").join(""));
    const fourth = await evalResq(dataset, setB, runDirectory);
    expect(fourth.exitCode, fourth.stderr).toBe(0);
    expect(await readSummary(runDirectory)).toMatchObject({ from_store: 1, graded_now: 1 });
    const [blank] = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(blank).toMatchObject({ id: rows[0]!.id, message: "PATCH FAILED" });
    expect(blank?.test_suite_feedback).not.toBe("Empty patch");

    // A changed test script (the task's content) is graded again too.
    await writeFile(dataset, JSON.stringify([rows[0], { ...rows[1]!, test_script: `${rows[1]!.test_script}\n# changed\n` }]));
    const fifth = await evalResq(dataset, setB, runDirectory);
    expect(fifth.exitCode, fifth.stderr).toBe(0);
    expect(await readSummary(runDirectory)).toMatchObject({ from_store: 1, graded_now: 1 });
  });
});

describe("validate resumes by task content", () => {
  it("skips an unchanged task, and validates again one whose test script changed", async () => {
    const folder = await scratch();
    const [row] = await bundledRows();
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([row]));
    const args = [cli, "validate", dataset, "--json", "--run-dir", path.join(folder, "run")];
    const first = await execa("node", args, { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await execa("node", args, { reject: false });
    expect(again.stderr).toContain("skipped");
    expect(again.stderr).toContain("1 of 1 result(s) came from the store");
    // The test now passes at base too: the task is no longer valid, and the store must not say otherwise.
    await writeFile(dataset, JSON.stringify([{ ...row!, test_script: "import sys\nexit_code = 0\nsys.exit(exit_code)\n" }]));
    const changed = await execa("node", args, { reject: false });
    expect(changed.stderr).not.toContain("skipped");
    expect(changed.exitCode).toBe(1);
    expect(JSON.parse(changed.stdout)).toMatchObject([{ valid: false, checks: { base: "PASS", solution: "PASS" } }]);
  });
});

describe("eval batches survive a bad item", () => {
  it("grades the other rows when a repository is unreachable, a repo_url is missing or a Python can not be given", async () => {
    const folder = await scratch();
    const rows = await bundledRows();
    const port = await refusedPort();
    const dataset = path.join(folder, "dataset.json");
    const unreachable = { ...rows[1]!, repo_url: `http://127.0.0.1:${port}/textkit.git` };
    const missing = { ...rows[2]!, repo_url: "file:///nonexistent/repository.git" };
    const otherPython = { ...rows[3]!, testbed_environment: "python3.10" };
    await writeFile(dataset, JSON.stringify([rows[0], unreachable, missing, otherPython]));
    const submissions = path.join(folder, "subs.json");
    await writeFile(submissions, JSON.stringify(rows.map((row) => ({ id: row.id, patch: row.solution_patch }))));
    const runDirectory = path.join(folder, "run");
    const result = await evalResq(dataset, submissions, runDirectory);
    // Exit 4: finished, but some items could not be graded.
    expect(result.exitCode, result.stderr).toBe(4);
    const lines = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(lines).toHaveLength(4);
    const byId = new Map(lines.map((line) => [line.id, line]));
    expect(byId.get(rows[0]!.id)).toEqual({ id: rows[0]!.id, success: true, message: "PASS", test_suite_feedback: "" });
    expect(String(byId.get(unreachable.id)?.not_graded)).toContain(`127.0.0.1:${port}`);
    expect(String(byId.get(missing.id)?.not_graded)).toMatch(/nonexistent.*does not exist/);
    expect(String(byId.get(otherPython.id)?.not_graded)).toMatch(/python3\.10.*--python-mismatch warn/);
    expect(String(byId.get(otherPython.id)?.not_graded)).not.toContain("pythonMismatch");
    const summary = await readSummary(runDirectory);
    // Errors are not failures: pass@1 is over the one task that could be graded.
    expect(summary).toMatchObject({ errors: 3, graded: 1, passed: 1, "pass@1": 1, dataset_tasks: 4 });
    // Upstream's results.json (scripts/submit.py's json.dump, indent 4) holds the graded item only.
    expect(await readFile(path.join(runDirectory, "results.json"), "utf8")).toBe(
      `[\n    {\n        "id": "${rows[0]!.id}",\n        "success": true,\n        "message": "PASS",\n        "test_suite_feedback": ""\n    }\n]`,
    );
    expect((summary.errored as { id: string }[]).map((entry) => entry.id).sort()).toEqual([unreachable.id, missing.id, otherPython.id].sort());
    expect(result.stderr).toContain("3 could not be graded");

    // With --python-mismatch warn the row is graded, and the warning is printed, kept and counted.
    const warnDirectory = path.join(folder, "warn");
    const warned = await evalResq(dataset, submissions, warnDirectory, "--python-mismatch", "warn");
    expect(warned.exitCode, warned.stderr).toBe(4);
    expect(warned.stderr).toMatch(new RegExp(`warning: .*${otherPython.id}.*python3\\.10`));
    const warnedLine = (await readLines(path.join(warnDirectory, "results.jsonl"))).find((line) => line.id === otherPython.id);
    expect(warnedLine).toMatchObject({ message: "PASS" });
    expect(JSON.stringify(warnedLine?.warnings)).toContain("python3.10");
    expect(await readSummary(warnDirectory)).toMatchObject({ errors: 2, warnings: 1 });
  });

  it("a sandbox lost during one item (its container killed) makes that item an error; the batch goes on", async () => {
    const folder = await scratch();
    const rows = await bundledRows();
    const sleeper = { ...rows[1]!, test_script: "import sys, time\ntime.sleep(120)\nsys.exit(0)\n" };
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([rows[0], sleeper, rows[2]]));
    const submissions = path.join(folder, "subs.json");
    await writeFile(submissions, JSON.stringify([rows[0], sleeper, rows[2]].map((row) => ({ id: row!.id, patch: row!.solution_patch }))));
    const runDirectory = path.join(folder, "run");
    const child = evalResq(dataset, submissions, runDirectory, "--timeout", "150");
    let done = false;
    const killed = longRunningGrader(child.pid!, 5000, () => done).then(async (id) => {
      if (id !== null) await docker.getContainer(id).kill();
      return id;
    });
    const result = await child;
    done = true;
    expect(await killed).not.toBeNull();
    // Exit 3: an infrastructure error (the lost sandbox) remains; a rerun grades it again.
    expect(result.exitCode, result.stderr).toBe(3);
    const lines = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(lines.map((line) => [line.id, line.message ?? "not graded"])).toEqual([
      [rows[0]!.id, "PASS"],
      [sleeper.id, "not graded"],
      [rows[2]!.id, "PASS"],
    ]);
    expect(lines[1]?.code).toMatch(/^DYNABOX_/);
    expect(await readSummary(runDirectory)).toMatchObject({ errors: 1, passed: 2, "pass@1": 1 });
  });

  it("writes what finished on Ctrl-C and exits 130", async () => {
    const folder = await scratch();
    const rows = await bundledRows();
    const sleeper = { ...rows[1]!, test_script: "import sys, time\ntime.sleep(120)\nsys.exit(0)\n" };
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([rows[0], sleeper]));
    const submissions = path.join(folder, "subs.json");
    await writeFile(submissions, JSON.stringify([rows[0], sleeper].map((row) => ({ id: row!.id, patch: row!.solution_patch }))));
    const runDirectory = path.join(folder, "run");
    const child = evalResq(dataset, submissions, runDirectory, "--timeout", "150");
    let done = false;
    // Instead of killing the slow grader, interrupt the whole command while it runs.
    const interrupted = longRunningGrader(child.pid!, 3000, () => done).then((id) => id !== null && child.kill("SIGINT"));
    const started = performance.now();
    const result = await child;
    done = true;
    expect(await interrupted).toBe(true);
    expect(result.exitCode, result.stderr).toBe(130);
    // The 120 s test was not waited for.
    expect(performance.now() - started).toBeLessThan(60_000);
    const lines = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(lines).toEqual([{ id: rows[0]!.id, success: true, message: "PASS", test_suite_feedback: "" }]);
    expect(await readSummary(runDirectory)).toMatchObject({ interrupted: true, graded_now: 1 });
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER_PID}=${child.pid}`] } });
    expect(left).toHaveLength(0);
  });
});

/** Code a hostile patch adds to a module the test imports: junk into every pipe of the kernel worker. */
const LOSE_THE_SANDBOX = `
import os as _os
for _pid in _os.listdir("/proc"):
    if not _pid.isdigit() or int(_pid) == _os.getpid():
        continue
    try:
        if b"worker.py" not in open(f"/proc/{_pid}/cmdline", "rb").read():
            continue
        for _fd in _os.listdir(f"/proc/{_pid}/fd"):
            _target = f"/proc/{_pid}/fd/{_fd}"
            if _os.readlink(_target).startswith("pipe:"):
                _handle = _os.open(_target, _os.O_WRONLY | _os.O_NONBLOCK)
                _os.write(_handle, b"[1]\\n")
                _os.close(_handle)
    except OSError:
        pass
`;

/** The gold patch of a bundled row plus LOSE_THE_SANDBOX appended to `module`, made with real git. */
async function hostilePatch(row: Row, module: string): Promise<string> {
  const work = await mkdtemp(path.join(tmpdir(), "dynabox-hostile-patch-"));
  try {
    await execa("git", ["clone", "-q", row.repo_url, work]);
    await execa("git", ["-C", work, "checkout", "-q", String(row.base_commit)]);
    await writeFile(path.join(work, "gold.patch"), row.solution_patch);
    await execa("git", ["-C", work, "apply", "gold.patch"]);
    await rm(path.join(work, "gold.patch"));
    const file = path.join(work, module);
    await writeFile(file, (await readFile(file, "utf8")) + LOSE_THE_SANDBOX);
    return (await execa("git", ["-C", work, "diff", String(row.base_commit)])).stdout + "\n";
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe("a hostile submission can not take the batch down (issue 7, item 7)", () => {
  it("a patch whose code kills its grading sandbox costs only its own item", async () => {
    const folder = await scratch();
    const rows = await bundledRows();
    const textkit = rows.find((row) => row.id === "1_0")!;
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify(rows.slice(0, 3)));
    const submissions = path.join(folder, "subs.json");
    const patches = [rows[0]!.solution_patch, await hostilePatch(textkit, "textkit/__init__.py"), rows[2]!.solution_patch];
    await writeFile(submissions, JSON.stringify(rows.slice(0, 3).map((row, index) => ({ id: row.id, patch: patches[index] }))));
    const runDirectory = path.join(folder, "run");
    const result = await evalResq(dataset, submissions, runDirectory);
    const lines = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(lines.map((line) => line.id), result.stderr).toEqual(["0_0", "1_0", "2_0"]);
    expect(lines[0]).toMatchObject({ message: "PASS" });
    expect(lines[2]).toMatchObject({ message: "PASS" });
    // The hostile item: an error of its own while the sandbox can be lost (a lost sandbox is an
    // infrastructure error: exit 3), or a verdict once it can not.
    if ("not_graded" in lines[1]!) {
      expect(lines[1]?.code).toBe("DYNABOX_SANDBOX_LOST");
      expect(result.exitCode).toBe(3);
    } else {
      expect(result.exitCode).toBe(0);
    }
    expect(await readSummary(runDirectory)).toMatchObject({ passed: expect.any(Number) as number, interrupted: false });
  });
});

describe("eval flags", () => {
  it("refuses a bad limit in one line naming the flag and the fix (exit 2), before any container starts", async () => {
    for (const [flag, value] of [["--memory", "lots"], ["--cpus", "0"], ["--workspace-size", "1.5"], ["--timeout", "-1"], ["--python-mismatch", "maybe"]] as const) {
      const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", "nothing.json", flag, value], { reject: false });
      expect(result.exitCode, `${flag} ${value}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`${flag}: expected`);
      expect(result.stderr).toContain(JSON.stringify(value));
    }
  });

  it("gives the grading containers the limits asked for", async () => {
    const folder = await scratch();
    const rows = await bundledRows();
    // The test itself reports the limits it sees: memory from the cgroup, CPUs from the quota.
    const probe = {
      ...rows[0]!,
      test_script: [
        "import os, sys",
        "if os.path.exists('/sys/fs/cgroup/memory.max'):  # cgroup v2",
        "    memory = int(open('/sys/fs/cgroup/memory.max').read())",
        "    quota, period = (int(part) for part in open('/sys/fs/cgroup/cpu.max').read().split())",
        "else:",
        "    memory = int(open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read())",
        "    quota = int(open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read())",
        "    period = int(open('/sys/fs/cgroup/cpu/cpu.cfs_period_us').read())",
        "workspace = os.statvfs('/workspace')",
        "print(f'memory={memory // (1024 * 1024)} cpus={quota / period} workspace={workspace.f_blocks * workspace.f_frsize // (1024 * 1024)}')",
        "sys.exit(1)",
        "",
      ].join("\n"),
    };
    const dataset = path.join(folder, "dataset.json");
    await writeFile(dataset, JSON.stringify([probe]));
    const submissions = path.join(folder, "subs.json");
    await writeFile(submissions, JSON.stringify([{ id: probe.id, patch: probe.solution_patch }]));
    const runDirectory = path.join(folder, "run");
    const result = await evalResq(dataset, submissions, runDirectory, "--memory", "700", "--cpus", "0.5", "--workspace-size", "300");
    expect(result.exitCode, result.stderr).toBe(0);
    const [line] = await readLines(path.join(runDirectory, "results.jsonl"));
    expect(line).toMatchObject({ message: "FAIL" });
    expect(String(line?.test_suite_feedback)).toContain("memory=700 cpus=0.5 workspace=300");
  });
});
