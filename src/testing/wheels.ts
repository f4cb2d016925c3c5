// Python wheels made in Node, for tests and the environments benchmark: a wheel is a zip holding
// the package's files and a .dist-info folder (METADATA, WHEEL, RECORD). Pure-Python, py3-none-any.

import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

export interface ZipEntry {
  name: string;
  content: Buffer | string;
  /** Unix mode of the file (0o644 by default). */
  mode?: number;
}

/** A zip archive, entries stored (not compressed): enough for pip, and simple to get right. */
export function zipArchive(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00: zip's earliest date, and a fixed one keeps wheels byte-identical.
  const time = 0;
  const date = (0 << 9) | (1 << 5) | 1;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, "utf8");
    const data = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content, "utf8");
    const checksum = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, zip 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30);
    central.writeUInt16LE(0, 32);
    central.writeUInt16LE(0, 34);
    central.writeUInt16LE(0, 36);
    central.writeUInt32LE((((entry.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

export interface WheelSpec {
  /** Project name as published, e.g. "dynabox-demo". */
  name: string;
  version: string;
  /** Files of the package, by path inside the wheel: {"dynabox_demo/__init__.py": "..."}. */
  files: Record<string, string>;
  /** Requires-Dist lines, e.g. ["other-project>=1"]. */
  requires?: string[];
}

export interface BuiltWheel {
  filename: string;
  content: Buffer;
  sha256: string;
}

function recordHash(data: Buffer): string {
  return "sha256=" + createHash("sha256").update(data).digest("base64url");
}

/** A pure-Python wheel (py3-none-any) with a correct RECORD. */
export function buildWheel(spec: WheelSpec): BuiltWheel {
  const distribution = spec.name.replace(/[-_.]+/g, "_");
  const distInfo = `${distribution}-${spec.version}.dist-info`;
  const metadata =
    `Metadata-Version: 2.1\nName: ${spec.name}\nVersion: ${spec.version}\n` +
    (spec.requires ?? []).map((requirement) => `Requires-Dist: ${requirement}\n`).join("");
  const wheel = "Wheel-Version: 1.0\nGenerator: dynabox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
  const entries: ZipEntry[] = [
    ...Object.entries(spec.files).map(([name, content]) => ({ name, content })),
    { name: `${distInfo}/METADATA`, content: metadata },
    { name: `${distInfo}/WHEEL`, content: wheel },
  ];
  const record =
    entries.map((entry) => {
      const data = Buffer.from(entry.content);
      return `${entry.name},${recordHash(data)},${data.length}\n`;
    }).join("") + `${distInfo}/RECORD,,\n`;
  entries.push({ name: `${distInfo}/RECORD`, content: record });
  const content = zipArchive(entries);
  return {
    filename: `${distribution}-${spec.version}-py3-none-any.whl`,
    content,
    sha256: createHash("sha256").update(content).digest("hex"),
  };
}

/**
 * A source distribution (name-version.tar.gz) with the given files under its top folder, for tests
 * of what a build may run: an sdist's build backend is code that runs at install time.
 */
export async function buildSdist(name: string, version: string, files: Record<string, string>): Promise<BuiltWheel> {
  const { default: tar } = await import("tar-stream");
  const { gzipSync } = await import("node:zlib");
  const top = `${name.replace(/[-_.]+/g, "_")}-${version}`;
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const all = { "PKG-INFO": `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`, ...files };
  for (const [path, content] of Object.entries(all)) pack.entry({ name: `${top}/${path}`, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  const content = gzipSync(Buffer.concat(chunks));
  return { filename: `${top}.tar.gz`, content, sha256: createHash("sha256").update(content).digest("hex") };
}
