// Where an engine is and how much of it dynabox may use, from `--engine` text:
//   unix:///var/run/docker.sock          the local socket (also a Podman service's socket)
//   tcp://10.0.0.2:2376?tls=/etc/certs   TCP, with TLS from a folder holding ca.pem, cert.pem, key.pem
//   ssh://user@host[:port]               the engine's socket on a host reached over ssh (its key
//                                        listed in known_hosts; the remote runs docker system dial-stdio)
// Parameters after "?": concurrency=N (tasks at once; default the engine's CPUs), runtime=runsc,
// registry=HOST:PORT (the image registry's address as this engine reaches it, when it differs);
// ssh only: identity=KEY_FILE, known-hosts=FILE (default ~/.ssh/known_hosts).

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { UserError } from "../errors.js";
import { knownHostsVerifier } from "./known-hosts.js";

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
  /** ssh://: the private key file to log in with (else the ssh agent of SSH_AUTH_SOCK). */
  sshIdentity?: string;
  /** ssh://: the known_hosts file the host's key must be listed in (default ~/.ssh/known_hosts). */
  knownHosts?: string;
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
    } else if (key === "identity") {
      spec.sshIdentity = path.resolve(value);
    } else if (key === "known-hosts") {
      spec.knownHosts = path.resolve(value);
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
    // As the docker CLI: without ?tls=, DOCKER_TLS_VERIFY=1 takes the certificates of DOCKER_CERT_PATH (default ~/.docker).
    if (spec.tlsFolder === undefined && process.env.DOCKER_TLS_VERIFY && process.env.DOCKER_TLS_VERIFY !== "0") {
      spec.tlsFolder = path.resolve(process.env.DOCKER_CERT_PATH || path.join(homedir(), ".docker"));
    }
    const tls = spec.tlsFolder !== undefined;
    spec.connection = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || (tls ? 2376 : 2375)), protocol: tls ? "https" : "http" };
    if (tls) Object.assign(spec.connection, readTlsFolder(spec.tlsFolder!, text));
    return spec;
  }
  if (url.protocol === "ssh:") {
    if (!url.hostname) throw usage(text, "ssh:// needs a host");
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port || 22);
    const knownHosts = spec.knownHosts ?? path.join(homedir(), ".ssh", "known_hosts");
    let refusal = "";
    const sshOptions: Record<string, unknown> = {
      // Only a host listed in known_hosts, as OpenSSH (and so `docker -H ssh://`) demands.
      hostVerifier: knownHostsVerifier(knownHosts, host, port, (why) => {
        if (why !== refusal) process.stderr.write(`dynabox: ssh engine ${address} refused: ${why} (add it with: ssh-keyscan -p ${port} ${host} >> ${knownHosts})\n`);
        refusal = why;
      }),
    };
    // A key file when given, else the ssh agent of the user running dynabox, as with `docker -H ssh://`.
    if (spec.sshIdentity !== undefined) {
      try {
        sshOptions.privateKey = readFileSync(spec.sshIdentity);
      } catch (error) {
        throw usage(text, `identity=${spec.sshIdentity} can not be read (${(error as Error).message})`);
      }
    } else if (process.env.SSH_AUTH_SOCK) {
      sshOptions.agent = process.env.SSH_AUTH_SOCK;
    }
    spec.connection = {
      protocol: "ssh",
      host,
      port,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      sshOptions,
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
