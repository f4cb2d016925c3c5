// A unix-socket proxy a test puts between dynabox and the Docker engine (DOCKER_HOST points at
// it), so that an engine outage can be played without touching the shared engine: `cut()`
// drops every open connection and refuses new ones until `restore()`.

import { createConnection, createServer, type Socket } from "node:net";
import { rm } from "node:fs/promises";

export interface SocketProxy {
  readonly socket: string;
  /** Connections dropped or refused while cut. */
  readonly cutConnections: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startSocketProxy(socket: string, engineSocket: string): Promise<SocketProxy> {
  const open = new Set<Socket>();
  let down = false;
  let cutConnections = 0;
  const server = createServer((client) => {
    if (down) {
      cutConnections += 1;
      client.destroy();
      return;
    }
    const engine = createConnection(engineSocket);
    open.add(client);
    open.add(engine);
    const forget = (): void => {
      open.delete(client);
      open.delete(engine);
      client.destroy();
      engine.destroy();
    };
    client.on("error", forget).on("close", forget);
    engine.on("error", forget).on("close", forget);
    client.pipe(engine);
    engine.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  return {
    socket,
    get cutConnections() {
      return cutConnections;
    },
    cut() {
      down = true;
      for (const connection of open) {
        cutConnections += 1;
        connection.destroy();
      }
      open.clear();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const connection of open) connection.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socket, { force: true });
    },
  };
}
