import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEngineSpec } from "../../src/engines/spec.js";

describe("--engine addresses", () => {
  it("reads a unix socket with its concurrency and runtime", () => {
    expect(parseEngineSpec("unix:///var/run/docker.sock?concurrency=3&runtime=runsc")).toEqual({
      name: "unix:///var/run/docker.sock",
      connection: { socketPath: "/var/run/docker.sock" },
      concurrency: 3,
      runtime: "runsc",
    });
  });

  it("reads tcp without TLS (port 2375) and with a TLS folder (port 2376, https, the three files)", async () => {
    expect(parseEngineSpec("tcp://127.0.0.1").connection).toEqual({ host: "127.0.0.1", port: 2375, protocol: "http" });
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-tls-"));
    try {
      for (const file of ["ca.pem", "cert.pem", "key.pem"]) await writeFile(path.join(folder, file), file);
      const spec = parseEngineSpec(`tcp://engine.example:2400?tls=${folder}`);
      expect(spec.connection).toMatchObject({ host: "engine.example", port: 2400, protocol: "https" });
      expect(String((spec.connection as { key: Buffer }).key)).toBe("key.pem");
      await rm(path.join(folder, "key.pem"));
      expect(() => parseEngineSpec(`tcp://engine.example?tls=${folder}`)).toThrow(/must hold ca.pem, cert.pem and key.pem/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("reads ssh with a user and port", () => {
    expect(parseEngineSpec("ssh://builder@gpu-3:2222").connection).toMatchObject({ protocol: "ssh", host: "gpu-3", port: 2222, username: "builder" });
  });

  it("reads ssh's key file and known_hosts file, and an engine's own address of the image registry", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-ssh-"));
    try {
      await writeFile(path.join(folder, "id"), "a key");
      const spec = parseEngineSpec(`ssh://root@127.0.0.1:2200?identity=${folder}/id&known-hosts=${folder}/known&registry=10.0.0.1:5000`);
      expect(spec).toMatchObject({ sshIdentity: `${folder}/id`, knownHosts: `${folder}/known`, registry: "10.0.0.1:5000" });
      const options = (spec.connection as { sshOptions: { privateKey: Buffer; hostVerifier: unknown } }).sshOptions;
      expect(String(options.privateKey)).toBe("a key");
      expect(typeof options.hostVerifier).toBe("function");
      expect(() => parseEngineSpec(`ssh://root@host?identity=${folder}/missing`)).toThrow(/identity=.* can not be read/);
      expect(() => parseEngineSpec("unix:///s.sock?registry=http://x/")).toThrow(/registry must be HOST:PORT/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("takes tcp's TLS from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set, as the docker CLI does", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-tls-"));
    const saved = { verify: process.env.DOCKER_TLS_VERIFY, path: process.env.DOCKER_CERT_PATH };
    try {
      for (const file of ["ca.pem", "cert.pem", "key.pem"]) await writeFile(path.join(folder, file), file);
      process.env.DOCKER_TLS_VERIFY = "1";
      process.env.DOCKER_CERT_PATH = folder;
      const spec = parseEngineSpec("tcp://engine.example");
      expect(spec.connection).toMatchObject({ host: "engine.example", port: 2376, protocol: "https" });
      expect(String((spec.connection as { ca: Buffer }).ca)).toBe("ca.pem");
    } finally {
      if (saved.verify === undefined) delete process.env.DOCKER_TLS_VERIFY;
      else process.env.DOCKER_TLS_VERIFY = saved.verify;
      if (saved.path === undefined) delete process.env.DOCKER_CERT_PATH;
      else process.env.DOCKER_CERT_PATH = saved.path;
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("refuses what it can not use, naming the problem", () => {
    expect(() => parseEngineSpec("unix://relative.sock")).toThrow(/absolute path/);
    expect(() => parseEngineSpec("tcp://host?concurrency=0")).toThrow(/at least 1/);
    expect(() => parseEngineSpec("tcp://host?speed=fast")).toThrow(/unknown parameter speed/);
    expect(() => parseEngineSpec("http://host")).toThrow(/unsupported scheme/);
    expect(() => parseEngineSpec("tcp://host?runtime=a;b")).toThrow(/runtime name/);
  });
});
