import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { normalHash } from "../../src/actions/normalize.js";
import { ActionStore } from "../../src/actions/store.js";
import { runActionsCli } from "../actions-cli-runner.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-actions-cli-");
afterEach(() => {
  vi.restoreAllMocks();
});

async function seededLibrary(): Promise<string> {
  const directory = await scratch();
  const file = path.join(directory, "actions.sqlite");
  using store = ActionStore.open(file);
  const make = (name: string, body: string, docstring: string, taskId: string) => ({
    name, isAsync: false, signature: `${name}(path: str)`, docstring, source: `def ${name}(path: str):\n    """${docstring}"""\n    ${body}`,
    imports: ["import os"], dependencies: [], freeNames: [], normalHash: normalHash(name + body), origin: { taskId, step: 1 },
  });
  store.recordCandidates("run-1", [make("file_size", "return os.path.getsize(path)", "Size of a file in bytes.", "a"), make("list_dir", "return os.listdir(path)", "Names in a folder.", "a")]);
  store.promote("run-1", "a");
  store.recordCandidates("run-1", [make("file_size", "return os.stat(path).st_size", "Size of a file in bytes (stat).", "b")]);
  store.promote("run-1", "b");
  store.recordCandidates("run-1", [make("pending", "return 1", "Not promoted yet.", "c")]);
  return file;
}

/** Runs `dynabox <args>` with only the actions command registered; returns stdout, stderr and the exit code. */
const cli = runActionsCli;

describe("dynabox actions", () => {
  it("lists the current actions, or every row with --all, as text or JSON", async () => {
    const library = await seededLibrary();
    const listed = await cli("actions", "list", "--library", library);
    expect(listed.stdout.split("\n")[0]).toMatch(/^NAME\s+VERSION\s+STATUS/);
    expect(listed.stdout).toMatch(/file_size\s+v2\s+promoted/);
    expect(listed.stdout).not.toContain("pending");
    const all = JSON.parse((await cli("actions", "list", "--all", "--json", "--library", library)).stdout) as { name: string; version: number | null }[];
    expect(all.map((action) => `${action.name}@${action.version}`)).toEqual(["file_size@1", "file_size@2", "list_dir@1", "pending@null"]);
  });

  it("shows an action (latest or a given version) and explains a missing one", async () => {
    const library = await seededLibrary();
    const latest = await cli("actions", "show", "file_size", "--library", library);
    expect(latest.stdout).toContain("file_size v2 [promoted]");
    expect(latest.stdout).toContain("versions: v1, v2");
    expect(latest.stdout).toContain("return os.stat(path).st_size");
    const first = await cli("actions", "show", "file_size", "--version", "1", "--library", library);
    expect(first.stdout).toContain("return os.path.getsize(path)");
    expect((await cli("--version")).stdout).toBe("0.1.0\n"); // the program's own flag still works before a subcommand
    const missing = await cli("actions", "show", "file_size", "--version", "7", "--library", library);
    expect(missing.code).toBe(2);
    const badFlag = await cli("actions", "show", "file_size", "--version", "x", "--library", library);
    expect(badFlag.code).toBe(2);
  });

  it("searches, and reports a library that does not exist without creating it", async () => {
    const library = await seededLibrary();
    const found = await cli("actions", "search", "size", "of", "a", "file", "--library", library);
    expect(found.stdout.split("\n")[0]).toContain("file_size(path: str)");
    const json = JSON.parse((await cli("actions", "search", "folder", "names", "--json", "--limit", "1", "--library", library)).stdout) as { action: { name: string } }[];
    expect(json.map((hit) => hit.action.name)).toEqual(["list_dir"]);
    const nowhere = path.join(path.dirname(library), "none", "actions.sqlite");
    const empty = await cli("actions", "list", "--library", nowhere);
    expect(empty).toMatchObject({ code: 0, stdout: "" });
    expect(empty.stderr).toContain("no action library");
    expect((await cli("actions", "export", path.join(path.dirname(library), "x.py"), "--library", nowhere)).code).toBe(2);
  });

  it("exports the current actions as a Python module", async () => {
    const library = await seededLibrary();
    const target = path.join(path.dirname(library), "exported.py");
    const result = await cli("actions", "export", target, "--library", library);
    expect(result.stderr).toContain("wrote 2 action(s)");
    const module = await readFile(target, "utf8");
    expect(module).toContain('"def file_size(path: str):",');
    const { stdout } = await promisify(execFile)("python3", ["-c", "import exported; print(sorted(exported.__all__), exported.file_size.__doc__)"], { cwd: path.dirname(target) });
    expect(stdout.trim()).toBe("['file_size', 'list_dir'] Size of a file in bytes (stat).");
  });
});
