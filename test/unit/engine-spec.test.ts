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

  it("refuses what it can not use, naming the problem", () => {
    expect(() => parseEngineSpec("unix://relative.sock")).toThrow(/absolute path/);
    expect(() => parseEngineSpec("tcp://host?concurrency=0")).toThrow(/at least 1/);
    expect(() => parseEngineSpec("tcp://host?speed=fast")).toThrow(/unknown parameter speed/);
    expect(() => parseEngineSpec("http://host")).toThrow(/unsupported scheme/);
    expect(() => parseEngineSpec("tcp://host?runtime=a;b")).toThrow(/runtime name/);
  });
});
