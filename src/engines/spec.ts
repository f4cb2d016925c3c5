// Where an engine is and how much of it dynabox may use, from `--engine` text:
//   unix:///var/run/docker.sock          the local socket (also a Podman service's socket)
//   tcp://10.0.0.2:2376?tls=/etc/certs   TCP, with TLS from a folder holding ca.pem, cert.pem, key.pem
//   ssh://user@host[:port]               the engine's socket on a host reached over ssh
// Parameters after "?": concurrency=N (tasks at once; default the engine's CPUs), runtime=runsc,
// registry=HOST:PORT (the image registry's address as this engine reaches it, when it differs).

import { readFileSync } from "node:fs";
import path from "node:path";
import type Dockerode from "dockerode";
import { UserError } from "../errors.js";

export interface EngineSpec {
  /** The address as the user wrote it, without parameters: used in messages and events. */
  name: string;
  connection: Dockerode.DockerOptions;
  /** Tasks at once on this engine; undefined: the engine's CPU count. */
  concurrency?: number;
  runtime?: string;
  /** A folder with ca.pem, cert.pem and key.pem (tcp with TLS). */
  tlsFolder?: string;
  /** HOST:PORT under which this engine reaches the image registry, when not the --image-registry address. */
  registry?: string;
}

/** HOST or HOST:PORT of a registry (no scheme, no path). */
export const REGISTRY_ADDRESS = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;

const FIX = "an engine address such as unix:///var/run/docker.sock, tcp://host:2376?tls=/path/to/certs or ssh://user@host, optionally with ?concurrency=N&runtime=runsc";

/** Parses one --engine value; a malformed one is a usage error naming what is accepted. */
export function parseEngineSpec(text: string): EngineSpec {
  const question = text.indexOf("?");
  const address = question === -1 ? text : text.slice(0, question);
  const parameters = new URLSearchParams(question === -1 ? "" : text.slice(question + 1));
  const spec: EngineSpec = { name: address, connection: {} };
  for (const [key, value] of parameters) {
    if (key === "concurrency") {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw usage(text, "concurrency must be a whole number, at least 1");
      spec.concurrency = Number(value);
    } else if (key === "runtime") {
      if (!/^[\w.-]+$/.test(value)) throw usage(text, "runtime must be a runtime name such as runsc");
      spec.runtime = value;
    } else if (key === "registry") {
      if (!REGISTRY_ADDRESS.test(value)) throw usage(text, "registry must be HOST:PORT, the image registry's address as this engine reaches it");
      spec.registry = value;
    } else if (key === "tls") {
      spec.tlsFolder = path.resolve(value);
    } else {
      throw usage(text, `unknown parameter ${key}`);
    }
  }
  if (address.startsWith("unix://")) {
    const socketPath = address.slice("unix://".length);
    if (!socketPath.startsWith("/")) throw usage(text, "a unix socket needs an absolute path: unix:///path/to/docker.sock");
    spec.connection = { socketPath };
    return spec;
  }
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw usage(text, "not an address");
  }
  if (url.protocol === "tcp:") {
    if (!url.hostname) throw usage(text, "tcp:// needs a host");
    const tls = spec.tlsFolder !== undefined;
    spec.connection = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || (tls ? 2376 : 2375)), protocol: tls ? "https" : "http" };
    if (tls) Object.assign(spec.connection, readTlsFolder(spec.tlsFolder!, text));
    return spec;
  }
  if (url.protocol === "ssh:") {
    if (!url.hostname) throw usage(text, "ssh:// needs a host");
    spec.connection = {
      protocol: "ssh",
      host: url.hostname,
      port: Number(url.port || 22),
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      // The ssh agent of the user running dynabox authenticates, as with `docker -H ssh://`.
      ...(process.env.SSH_AUTH_SOCK ? { sshOptions: { agent: process.env.SSH_AUTH_SOCK } } : {}),
    } as Dockerode.DockerOptions;
    return spec;
  }
  throw usage(text, `unsupported scheme ${url.protocol}`);
}

function readTlsFolder(folder: string, text: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  try {
    return {
      ca: readFileSync(path.join(folder, "ca.pem")),
      cert: readFileSync(path.join(folder, "cert.pem")),
      key: readFileSync(path.join(folder, "key.pem")),
    };
  } catch (error) {
    throw usage(text, `tls=${folder} must hold ca.pem, cert.pem and key.pem (${(error as Error).message})`);
  }
}

function usage(text: string, why: string): UserError {
  return new UserError("DYNABOX_USAGE", `--engine ${text}: ${why}; expected ${FIX}`);
}
