// A PEP 503 "simple" package index served from memory on loopback, for tests and benchmarks:
//   /simple/                 one link per project
//   /simple/<project>/       one link per file, with #sha256=
//   /files/<filename>        the file
// Counts requests per path, so a test can tell whether a build asked the index at all.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BuiltWheel } from "./wheels.js";

export interface PackageIndex {
  /** The index URL to give pip: http://127.0.0.1:<port>/simple */
  url: string;
  /** Requests seen, by path. */
  requests: Map<string, number>;
  add(project: string, wheel: BuiltWheel): void;
  close(): Promise<void>;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export async function startPackageIndex(projects: Record<string, BuiltWheel[]> = {}): Promise<PackageIndex> {
  const files = new Map<string, BuiltWheel>();
  const byProject = new Map<string, BuiltWheel[]>();
  const requests = new Map<string, number>();
  const add = (project: string, wheel: BuiltWheel): void => {
    const key = normalize(project);
    byProject.set(key, [...(byProject.get(key) ?? []), wheel]);
    files.set(wheel.filename, wheel);
  };
  for (const [project, wheels] of Object.entries(projects)) for (const wheel of wheels) add(project, wheel);

  const server: Server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://index").pathname);
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    const html = (body: string): void => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(`<!DOCTYPE html><html><body>\n${body}</body></html>\n`);
    };
    if (pathname === "/simple/" || pathname === "/simple") {
      html([...byProject.keys()].map((name) => `<a href="/simple/${name}/">${escapeHtml(name)}</a><br/>\n`).join(""));
      return;
    }
    const project = /^\/simple\/([^/]+)\/?$/.exec(pathname);
    if (project) {
      const wheels = byProject.get(normalize(project[1] ?? ""));
      if (!wheels) {
        response.writeHead(404).end("no such project\n");
        return;
      }
      html(wheels.map((wheel) => `<a href="/files/${wheel.filename}#sha256=${wheel.sha256}">${escapeHtml(wheel.filename)}</a><br/>\n`).join(""));
      return;
    }
    const file = /^\/files\/([^/]+)$/.exec(pathname);
    const wheel = file ? files.get(file[1] ?? "") : undefined;
    if (wheel) {
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": wheel.content.length });
      response.end(wheel.content);
      return;
    }
    response.writeHead(404).end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    requests,
    add,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
