import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { knownHostKeys, knownHostsVerifier } from "../../src/engines/known-hosts.js";

const key = Buffer.from("the engine's host key").toString("base64");
const other = Buffer.from("someone else's key").toString("base64");

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe("known_hosts for ssh:// engines", () => {
  it("finds a host's keys by plain and hashed names, with [host]:port for ports other than 22", () => {
    const text = [
      "# comment",
      `gpu-3,10.0.0.3 ssh-ed25519 ${key}`,
      `[gpu-3]:2222 ssh-ed25519 ${other}`,
      `${hashed("[127.0.0.1]:2200")} ssh-ed25519 ${key}`,
      `@revoked gpu-3 ssh-ed25519 ${other}`,
    ].join("\n");
    expect(knownHostKeys(text, "gpu-3", 22)).toEqual([key]);
    expect(knownHostKeys(text, "10.0.0.3", 22)).toEqual([key]);
    expect(knownHostKeys(text, "gpu-3", 2222)).toEqual([other]);
    expect(knownHostKeys(text, "127.0.0.1", 2200)).toEqual([key]);
    expect(knownHostKeys(text, "127.0.0.1", 22)).toEqual([]);
  });

  it("accepts only the listed key, and refuses an unlisted host or a missing file with the reason", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-known-hosts-"));
    try {
      const file = path.join(folder, "known_hosts");
      await writeFile(file, `[engine]:2200 ssh-ed25519 ${key}\n`);
      const reasons: string[] = [];
      expect(knownHostsVerifier(file, "engine", 2200, (why) => reasons.push(why))(Buffer.from(key, "base64"))).toBe(true);
      expect(knownHostsVerifier(file, "engine", 2200, (why) => reasons.push(why))(Buffer.from(other, "base64"))).toBe(false);
      expect(knownHostsVerifier(file, "engine", 22, (why) => reasons.push(why))(Buffer.from(key, "base64"))).toBe(false);
      expect(knownHostsVerifier(path.join(folder, "none"), "engine", 2200, (why) => reasons.push(why))(Buffer.from(key, "base64"))).toBe(false);
      expect(reasons).toEqual([
        `the host key of [engine]:2200 is not the one listed in ${file}`,
        `engine is not listed in ${file}`,
        `no known_hosts file at ${path.join(folder, "none")}`,
      ]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
