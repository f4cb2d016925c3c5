// A read-only static file server on loopback, for tests: serves one folder as it is, so that a
// git repository prepared with `git update-server-info` is cloneable over git's dumb HTTP
// protocol, and an HTML page of links to wheels works as pip's --find-links. Counts requests per
// path. Nothing outside the folder is served.

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface StaticServer {
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  requests: Map<string, number>;
  close(): Promise<void>;
}

export async function startStaticServer(folder: string): Promise<StaticServer> {
  const root = path.resolve(folder);
  const requests = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://static").pathname);
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    const file = path.resolve(root, "." + pathname);
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405).end();
      return;
    }
    if (file !== root && !file.startsWith(root + path.sep)) {
      response.writeHead(404).end("not found\n");
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) {
          response.writeHead(404).end("not found\n");
          return;
        }
        const type = file.endsWith(".html") ? "text/html; charset=utf-8" : "application/octet-stream";
        response.writeHead(200, { "content-type": type, "content-length": info.size });
        if (request.method === "HEAD") response.end();
        else createReadStream(file).pipe(response);
      },
      () => response.writeHead(404).end("not found\n"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
