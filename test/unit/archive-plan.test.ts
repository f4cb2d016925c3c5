import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { ArchivePlanner, entryPath, type EntryHeader } from "../../src/sandbox/archive-plan.js";
import { canonicalArchive, collectArchive } from "../../src/sandbox/archive.js";
import { checkCopyOutDestination, unpackArchive } from "../../src/sandbox/copy-out.js";
import { tarOf, type TarEntry } from "../tar-of.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-archive-plan-");


function planAll(headers: EntryHeader[], limits = { maxBytes: 1_000, maxEntries: 100 }, strip = 0): { planner: ArchivePlanner; planned: ReturnType<ArchivePlanner["plan"]>[] } {
  const planner = new ArchivePlanner(limits, strip);
  return { planner, planned: headers.map((header) => planner.plan(header)) };
}

/** The link chain and backslash names of issue 7, item 1. */
const CHAIN: TarEntry[] = [
  { name: "out/", type: "directory" },
  { name: "out/d/", type: "directory" },
  { name: "out/d/0", type: "symlink", linkname: ".." },
  { name: "out/d/a", type: "symlink", linkname: "0/.." },
  { name: "out/d/a/escaped.txt", content: "below a link" },
  { name: "out/d\\a\\canary.txt", content: "backslash" },
  { name: "out/ok.txt", content: "fine" },
];

describe("entry names", () => {
  it("refuses names that could change meaning on the way", () => {
    expect(entryPath("a\\b")).toHaveProperty("reason");
    expect(entryPath("a\0b")).toHaveProperty("reason");
    expect(entryPath("bad\uFFFD")).toHaveProperty("reason");
    expect(entryPath("/etc/passwd")).toHaveProperty("reason");
    expect(entryPath("a/../b")).toHaveProperty("reason");
    expect(entryPath("a/./b")).toHaveProperty("reason");
    expect(entryPath("a//b")).toHaveProperty("reason");
    expect(entryPath(`${"x".repeat(256)}`)).toHaveProperty("reason");
  });

  it("keeps plain names, drops leading ./ and stripped folders", () => {
    expect(entryPath("./a/b.txt")).toEqual({ path: "a/b.txt" });
    expect(entryPath("out/sub/", 1)).toEqual({ path: "sub" });
    expect(entryPath("out/", 1)).toEqual({ path: "" });
    expect(entryPath("./", 1)).toEqual({ path: "" });
    expect(entryPath("out/..", 1)).toHaveProperty("reason");
  });
});

describe("archive planning", () => {
  it("creates no link, and nothing below one", () => {
    const { planner, planned } = planAll(CHAIN, undefined, 1);
    expect(planned.map((entry) => entry.kind)).toEqual(["none", "directory", "none", "none", "none", "none", "file"]);
    expect(planner.skipped.map((entry) => entry.path)).toEqual(["out/d/0", "out/d/a", "out/d/a/escaped.txt", "out/d\\a\\canary.txt"]);
    expect(planner.skipped[0]?.reason).toContain("link to ..");
  });

  it("turns a hard link into a copy of a file already accepted, counted against the byte cap", () => {
    const { planner, planned } = planAll([
      { name: "h1", size: 400 },
      { name: "h2", type: "link", linkname: "h1" },
      { name: "h3", type: "link", linkname: "/etc/shadow" },
    ]);
    expect(planned[1]).toEqual({ kind: "copy", path: "h2", source: "h1", mode: 0o644, size: 400 });
    expect(planned[2]).toEqual({ kind: "none" });
    expect(planner.bytes).toBe(800);
    expect(() => planner.plan({ name: "h4", type: "link", linkname: "h1" })).toThrow(/more than 1000 bytes/);
  });

  it("fails at the first header past the entry cap, naming the cap", () => {
    const planner = new ArchivePlanner({ maxBytes: 1_000, maxEntries: 3 }, 0);
    for (const name of ["a", "b", "c"]) planner.plan({ name, size: 0 });
    expect(() => planner.plan({ name: "d", size: 0 })).toThrow(/more than 3 entries \(the cap on entries\); nothing was copied/);
  });

  it("skips a repeated path and anything below a file", () => {
    const { planner, planned } = planAll([{ name: "a", size: 1 }, { name: "a", size: 2 }, { name: "a/b", size: 1 }, { name: "d/", type: "directory" }, { name: "d/", type: "directory" }]);
    expect(planned.map((entry) => entry.kind)).toEqual(["file", "none", "none", "directory", "none"]);
    expect(planner.skipped.map((entry) => entry.reason)).toEqual(["the path appears twice in the archive", "it is below a, which is not a folder here"]);
  });

  it("keeps setuid bits and unreadable modes out", () => {
    const { planned } = planAll([{ name: "x", size: 0, mode: 0o4755 }, { name: "y", size: 0, mode: 0o000 }]);
    expect(planned).toMatchObject([{ mode: 0o755 }, { mode: 0o600 }]);
  });
});

describe("copy-out to a host folder", () => {
  it("writes nothing outside the destination through a link chain and backslash names", async () => {
    const parent = await scratch();
    const destination = path.join(parent, "copy", "out");
    const report = await unpackArchive(await tarOf(CHAIN), destination, { stripComponents: 1 });
    expect(report.files).toBe(1);
    expect(await readdir(parent)).toEqual(["copy"]);
    expect(await readdir(path.join(parent, "copy"))).toEqual(["out"]);
    expect((await readdir(destination)).sort()).toEqual(["d", "ok.txt"]);
    expect(await readdir(path.join(destination, "d"))).toEqual([]);
  });

  it("is all or nothing: a passed cap leaves no destination and no partial folder", async () => {
    const parent = await scratch();
    const archive = await tarOf(Array.from({ length: 20 }, (_, index) => ({ name: `f${index}` })));
    await expect(unpackArchive(archive, path.join(parent, "out"), { maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
    const late = await tarOf([{ name: "a", content: "x".repeat(10) }, { name: "b", content: "y".repeat(10) }]);
    await expect(unpackArchive(late, path.join(parent, "out"), { maxBytes: 15 })).rejects.toThrow(/more than 15 bytes/);
    expect(await readdir(parent)).toEqual([]);
  });

  it("fails cleanly when the archive read the second time differs from the planned one", async () => {
    const parent = await scratch();
    const reads = [await tarOf([{ name: "a", content: "1" }]), await tarOf([{ name: "a", content: "1" }, { name: "b", content: "2" }])];
    const source = async (): Promise<Readable> => Readable.from([reads.shift()!]);
    await expect(unpackArchive(source, path.join(parent, "out"))).rejects.toThrow(/changed between planning and copying/);
    expect(await readdir(parent)).toEqual([]);
  });

  it("gives folders the archive did not list 0755 and keeps listed folders' modes", async () => {
    const pack = tar.pack();
    pack.entry({ name: "listed", type: "directory", mode: 0o750 });
    pack.entry({ name: "listed/f", mode: 0o640 }, "x");
    pack.entry({ name: "implied/deep/f" }, "y");
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    const destination = path.join(await scratch(), "out");
    await unpackArchive(Buffer.concat(chunks), destination);
    expect((await stat(path.join(destination, "listed"))).mode & 0o777).toBe(0o750);
    expect((await stat(path.join(destination, "listed", "f"))).mode & 0o777).toBe(0o640);
    expect((await stat(path.join(destination, "implied", "deep"))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(destination, "implied", "deep", "f"), "utf8")).toBe("y");
  });

  it("refuses a non-empty folder, a file and /proc before anything runs", async () => {
    const parent = await scratch();
    await writeFile(path.join(parent, "file"), "x");
    await mkdir(path.join(parent, "used"));
    await writeFile(path.join(parent, "used", "kept.txt"), "mine");
    await expect(checkCopyOutDestination(path.join(parent, "used"))).rejects.toThrow(/not empty; give a new or empty folder/);
    await expect(checkCopyOutDestination(path.join(parent, "file"))).rejects.toThrow(/not a folder/);
    await expect(checkCopyOutDestination("/proc/self/cwd/x")).rejects.toThrow(/^copy-out folder: \/proc\/self\/cwd\/x is under \/proc, which holds no ordinary files/);
    await expect(checkCopyOutDestination("/dev/shm/x")).rejects.toThrow(/^copy-out folder: \/dev\/shm\/x is under \/dev, which holds no ordinary files/);
    await mkdir(path.join(parent, "empty"));
    await expect(checkCopyOutDestination(path.join(parent, "empty"))).resolves.toBe(path.join(parent, "empty"));
    expect(await readFile(path.join(parent, "used", "kept.txt"), "utf8")).toBe("mine");
  });

  it("keeps both names of a hard link and leaves a sparse file's holes as holes", async () => {
    const size = 64 * 1024 * 1024;
    const sparse = Buffer.alloc(size);
    sparse.write("end", size - 3);
    const archive = await tarOf([{ name: "h1", content: "hard" }, { name: "h2", type: "link", linkname: "h1" }, { name: "sparse.bin", content: sparse }]);
    const destination = path.join(await scratch(), "out");
    const report = await unpackArchive(archive, destination);
    expect(report.files).toBe(3);
    expect(await readFile(path.join(destination, "h1"), "utf8")).toBe("hard");
    expect(await readFile(path.join(destination, "h2"), "utf8")).toBe("hard");
    const info = await stat(path.join(destination, "sparse.bin"));
    expect(info.size).toBe(size);
    expect(info.blocks * 512).toBeLessThan(1024 * 1024);
    expect((await readFile(path.join(destination, "sparse.bin"))).subarray(size - 3).toString()).toBe("end");
  });

  it("skips names that are not valid UTF-8 and copies the rest", async () => {
    const archive = await tarOf([{ name: "bad\uFFFD1", content: "a" }, { name: "bad\uFFFD1", content: "b" }, { name: "good.txt", content: "g" }]);
    const destination = path.join(await scratch(), "out");
    const report = await unpackArchive(archive, destination);
    expect(report.skipped.map((entry) => entry.reason)).toEqual([expect.stringContaining("not valid UTF-8"), expect.stringContaining("not valid UTF-8")]);
    expect(await readdir(destination)).toEqual(["good.txt"]);
  });
});

describe("canonical archives", () => {
  it("hold folders and regular files only, parents first, owned by the sandbox user", async () => {
    const { archive, report } = await canonicalArchive(Readable.from([await tarOf([...CHAIN, { name: "out/h", type: "link", linkname: "out/ok.txt" }])]), { stripComponents: 1 });
    const collected = await collectArchive(Readable.from([archive]));
    expect([...collected.directories.keys()]).toEqual(["d"]);
    expect([...collected.files.keys()]).toEqual(["ok.txt", "h"]);
    expect(collected.files.get("h")?.content.toString()).toBe("fine");
    expect(collected.report.skipped).toEqual([]);
    expect(report.skipped).toHaveLength(4);
    const types: string[] = [];
    const extract = tar.extract();
    extract.on("entry", (header, body, next) => {
      types.push(`${header.type}:${header.name}:${header.uid}`);
      body.on("end", next);
      body.resume();
    });
    await new Promise((resolve) => {
      extract.on("finish", () => resolve(undefined));
      extract.end(archive);
    });
    expect(types).toEqual(["directory:d:1000", "file:ok.txt:1000", "file:h:1000"]);
  });
});
