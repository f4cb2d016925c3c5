// The host key check of ssh:// engines: an engine's host must be listed in a known_hosts file
// (OpenSSH's format, plain or hashed names), as `docker -H ssh://` through OpenSSH demands by
// default. ssh2 accepts any host key unless told otherwise, which would let anyone on the path
// pose as the engine and receive the tasks, so dynabox never connects to an unlisted host.

import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

/** The names a host goes by in known_hosts: "host" on port 22, "[host]:port" on another port. */
function hostNames(host: string, port: number): string[] {
  return port === 22 ? [host] : [`[${host}]:${port}`];
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return pattern.toLowerCase() === name.toLowerCase();
}

/** The base64 host keys listed for host:port in the known_hosts text (revoked and CA lines are skipped). */
export function knownHostKeys(text: string, host: string, port: number): string[] {
  const names = hostNames(host, port);
  const keys: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@")) continue;
    const [patterns, , key] = line.split(/\s+/);
    if (!patterns || !key) continue;
    if (patterns.split(",").some((pattern) => names.some((name) => nameMatches(pattern, name)))) keys.push(key);
  }
  return keys;
}

/**
 * A host verifier for ssh2 that accepts only a key listed for host:port in `file`. A missing
 * file or no listed key refuses the connection (the error names the file and how to add it).
 */
export function knownHostsVerifier(file: string, host: string, port: number, onRefused: (why: string) => void): (key: Buffer) => boolean {
  return (key: Buffer) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      onRefused(`no known_hosts file at ${file}`);
      return false;
    }
    const listed = knownHostKeys(text, host, port);
    if (listed.length === 0) {
      onRefused(`${hostNames(host, port)[0]} is not listed in ${file}`);
      return false;
    }
    if (!listed.includes(key.toString("base64"))) {
      onRefused(`the host key of ${hostNames(host, port)[0]} is not the one listed in ${file}`);
      return false;
    }
    return true;
  };
}
