// Tar archives for tests, built in memory from a list of entries (files, links, folders).

import tar from "tar-stream";

export interface TarEntry {
  name: string;
  type?: "file" | "symlink" | "link" | "directory";
  linkname?: string;
  content?: string | Buffer;
}

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) {
    pack.entry({ name: entry.name, type: entry.type ?? "file", linkname: entry.linkname }, entry.content ?? "");
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
