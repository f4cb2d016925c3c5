import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { linkStaysInside, packFiles, readArchiveFiles, safeRelativePath } from "../../src/sandbox/archive.js";
import { unpackArchive } from "../../src/sandbox/copy-out.js";
import { tarOf } from "../tar-of.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-archive-");

describe("archive paths", () => {
  it("keeps relative paths and refuses escapes", () => {
    expect(safeRelativePath("./a/b.txt")).toBe("a/b.txt");
    expect(safeRelativePath("a/../b")).toBe("b");
    expect(safeRelativePath("../etc/passwd")).toBeNull();
    expect(safeRelativePath("/etc/passwd")).toBeNull();
    expect(safeRelativePath("a/../../b")).toBeNull();
  });

  it("allows links that stay inside only", () => {
    expect(linkStaysInside("a/link", "b.txt")).toBe(true);
    expect(linkStaysInside("a/link", "../b.txt")).toBe(true);
    expect(linkStaysInside("a/link", "../../b.txt")).toBe(false);
    expect(linkStaysInside("link", "/etc/passwd")).toBe(false);
  });
});

describe("unpacking", () => {
  it("writes files, creates no link at all, and skips everything that leaves the destination", async () => {
    const archive = await tarOf([
      { name: "root/ok.txt", content: "fine" },
      { name: "root/inside", type: "symlink", linkname: "ok.txt" },
      { name: "root/passwd", type: "symlink", linkname: "/etc/passwd" },
      { name: "root/up", type: "symlink", linkname: "../../.." },
      { name: "root/../../escape.txt", content: "bad" },
      { name: "root/hard", type: "link", linkname: "/etc/shadow" },
    ]);
    const destination = await scratch();
    const report = await unpackArchive(archive, destination, { stripComponents: 1 });
    expect(report.files).toBe(1);
    expect(report.skipped.map((entry) => entry.path).sort()).toEqual(["root/../../escape.txt", "root/hard", "root/inside", "root/passwd", "root/up"]);
    expect(report.skipped.find((entry) => entry.path === "root/inside")?.reason).toContain("link to ok.txt");
    expect(await readFile(path.join(destination, "ok.txt"), "utf8")).toBe("fine");
    expect(await readdir(destination)).toEqual(["ok.txt"]);
  });

  it("fails past the size cap", async () => {
    const archive = await tarOf([{ name: "a.txt", content: "x".repeat(100) }, { name: "b.txt", content: "y".repeat(100) }]);
    await expect(unpackArchive(archive, await scratch(), { maxBytes: 150 })).rejects.toThrow(/more than 150 bytes/);
    await expect(readArchiveFiles(Readable.from([archive]), { maxBytes: 150 })).rejects.toThrow(/more than 150 bytes/);
  });

  it("round-trips packed files, owned by the sandbox user", async () => {
    const archive = await packFiles([{ path: "d/e/f.txt", content: "deep" }, { path: "top.sh", content: "echo", mode: 0o755 }]);
    const headers: { name: string; uid?: number; mode?: number }[] = [];
    const extract = tar.extract();
    extract.on("entry", (header, body, next) => {
      headers.push({ name: header.name, uid: header.uid, mode: header.mode });
      body.on("end", next);
      body.resume();
    });
    await new Promise((resolve) => {
      extract.on("finish", () => resolve(undefined));
      extract.end(archive);
    });
    expect(headers.map((header) => header.name)).toEqual(["d", "d/e", "d/e/f.txt", "top.sh"]);
    expect(headers.every((header) => header.uid === 1000)).toBe(true);
    const files = await readArchiveFiles(Readable.from([archive]));
    expect(files.get("d/e/f.txt")?.toString()).toBe("deep");
  });

  it("refuses to pack a path that leaves the destination", async () => {
    await expect(packFiles([{ path: "../x", content: "" }])).rejects.toThrow(/leaves the destination/);
  });
});
