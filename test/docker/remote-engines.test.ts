// Engines reached over the network, as on a lab's other servers: a dockerd in its own network
// namespace (scripts/extra-dockerd.sh) listening with --tlsverify on its side of a veth link, with
// a CA, server and client certificates this test makes with openssl; and the same engine through
// ssh:// (scripts/local-sshd.sh: OpenSSH on 127.0.0.1 with keys this test makes; the remote side
// runs `docker system dial-stdio`). A real grading runs through each; a client without the
// certificate, a host key not in known_hosts and a key not authorized are refused. Everything
// started is stopped afterwards.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnginePool } from "../../src/engines/pool.js";
import { parseEngineSpec } from "../../src/engines/spec.js";
import { assertDockerReachable, connectDocker } from "../../src/sandbox/docker.js";
import { startSandbox } from "../../src/sandbox/sandbox.js";
import { startExtraEngine, type ExtraEngine } from "./extra-engine.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const sshdScript = path.resolve("scripts/local-sshd.sh");
const name = `s${process.pid % 1_000_000}`;
// A /30 of 10.214.0.0/16 per test process: the host side, and the engine's side (+1).
const hostSide = `10.214.${Math.floor(process.pid / 64) % 256}.${(process.pid % 64) * 4 + 1}`;
const engineSide = hostSide.replace(/\d+$/, (last) => String(Number(last) + 1));
const tlsPort = 2376;
let engine: ExtraEngine | undefined;
let folder = "";
let sshFolder = "";
let sshPort = 0;
let submissions = "";
let rows: { id: string; solution_patch: string }[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const openssl = (...args: string[]) => execa("openssl", args, { cwd: folder });

/** A CA, a server certificate for the engine's address and a client certificate, as docs.docker.com's "protect the daemon socket" describes. */
async function makeCertificates(): Promise<void> {
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=dynabox test CA");
  await openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr", "-subj", `/CN=${engineSide}`);
  await writeFile(path.join(folder, "server.ext"), `subjectAltName = IP:${engineSide}\nextendedKeyUsage = serverAuth\n`);
  await openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "server-cert.pem", "-days", "2", "-extfile", "server.ext");
  await openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client/key.pem", "-out", "client.csr", "-subj", "/CN=dynabox test client");
  await writeFile(path.join(folder, "client.ext"), "extendedKeyUsage = clientAuth\n");
  await openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "client/cert.pem", "-days", "2", "-extfile", "client.ext");
  await writeFile(path.join(folder, "client", "ca.pem"), await readFile(path.join(folder, "ca.pem")));
}

/** A grading of the bundled RES-Q tasks through the given engine only: every verdict as expected. */
async function gradeThrough(engineAddress: string, run: string, environment: Record<string, string> = {}) {
  const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(folder, run), "--json", "--engine", engineAddress], {
    reject: false,
    env: environment,
  });
  expect(result.exitCode, result.stderr).toBe(0);
  const verdicts = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: string; message: string });
  expect(verdicts.map((verdict) => [verdict.id, verdict.message])).toEqual(rows.map((row, index) => [row.id, index % 2 === 0 ? "PASS" : "PATCH FAILED"]));
}

describe("engines over TLS and ssh", () => {
  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), "dynabox-remote-engines-"));
    await execa("mkdir", ["-p", path.join(folder, "client")]);
    await makeCertificates();
    engine = await startExtraEngine(name, [
      "--tlsverify", "--tlscacert", path.join(folder, "ca.pem"), "--tlscert", path.join(folder, "server-cert.pem"), "--tlskey", path.join(folder, "server-key.pem"),
      "-H", `tcp://${engineSide}:${tlsPort}`,
    ], { DYNABOX_ENGINE_LINK: hostSide });
    rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as typeof rows;
    submissions = path.join(folder, "submissions.jsonl");
    await writeFile(submissions, rows.map((row, index) => JSON.stringify({ id: row.id, patch: index % 2 === 0 ? row.solution_patch : "" })).join("\n") + "\n");
    // The image reaches the engine once, here, so that each test measures only its own transport.
    const pool = await EnginePool.open([parseEngineSpec(`unix://${engine.socket}`)], docker, image());
    expect(pool.engines).toHaveLength(1);
    // ssh: a host key and a client key, made here; the server's sessions reach the extra engine.
    sshFolder = path.join(folder, "ssh");
    await execa("mkdir", ["-m", "700", sshFolder]);
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(sshFolder, "host_key")]);
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(sshFolder, "client_key")]);
    await writeFile(path.join(sshFolder, "authorized_keys"), await readFile(path.join(sshFolder, "client_key.pub")));
    sshPort = await freePort();
    const hostKey = (await readFile(path.join(sshFolder, "host_key.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    await writeFile(path.join(sshFolder, "known_hosts"), `[127.0.0.1]:${sshPort} ${hostKey}\n`);
    await execa("bash", [sshdScript, "start", sshFolder, String(sshPort), `unix://${engine.socket}`]);
  }, 300_000);

  afterAll(async () => {
    if (sshFolder) await execa("bash", [sshdScript, "stop", sshFolder], { reject: false });
    await engine?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  }, 120_000);

  it("grades through tcp:// with TLS (?tls=DIR, and DOCKER_TLS_VERIFY with DOCKER_CERT_PATH), and refuses a client without the certificate", async () => {
    const address = `tcp://${engineSide}:${tlsPort}`;
    // The only engine of the eval: every verdict was made through TLS.
    await gradeThrough(`${address}?tls=${path.join(folder, "client")}&concurrency=2`, "tls");
    // As with the docker CLI: the certificates from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set.
    const saved = { verify: process.env.DOCKER_TLS_VERIFY, path: process.env.DOCKER_CERT_PATH };
    process.env.DOCKER_TLS_VERIFY = "1";
    process.env.DOCKER_CERT_PATH = path.join(folder, "client");
    let spec: ReturnType<typeof parseEngineSpec>;
    try {
      spec = parseEngineSpec(address);
    } finally {
      if (saved.verify === undefined) delete process.env.DOCKER_TLS_VERIFY;
      else process.env.DOCKER_TLS_VERIFY = saved.verify;
      if (saved.path === undefined) delete process.env.DOCKER_CERT_PATH;
      else process.env.DOCKER_CERT_PATH = saved.path;
    }
    const viaEnvironment = connectDocker(spec.connection);
    const box = await startSandbox(viaEnvironment, { image: image(), role: "test" });
    try {
      const cell = await box.exec("6 * 7", { timeoutSeconds: 30 });
      expect(cell.value).toBe("42");
    } finally {
      await box.dispose();
    }
    // Plain HTTP, and TLS without a client certificate, are both refused by the engine.
    await expect(assertDockerReachable(connectDocker({ host: engineSide, port: tlsPort, protocol: "http" }), undefined, 5_000)).rejects.toThrow();
    await expect(
      assertDockerReachable(connectDocker({ host: engineSide, port: tlsPort, protocol: "https", ca: await readFile(path.join(folder, "ca.pem")) }), undefined, 5_000),
    ).rejects.toThrow();
  });

  it("grades through ssh:// with a key file and known_hosts, and refuses an unknown host key or an unauthorized key", async () => {
    const key = path.join(sshFolder, "client_key");
    const knownHosts = path.join(sshFolder, "known_hosts");
    const address = `ssh://root@127.0.0.1:${sshPort}`;
    // The only engine of the eval: every verdict was made through ssh.
    await gradeThrough(`${address}?identity=${key}&known-hosts=${knownHosts}&concurrency=2`, "ssh");
    // The gradings' requests went through the ssh server (one session per engine request).
    expect(await readFile(path.join(sshFolder, "sshd.log"), "utf8")).toMatch(/Accepted publickey for root/);
    // A known_hosts without this host: refused before any login.
    const emptyKnownHosts = path.join(sshFolder, "known_hosts_other");
    await writeFile(emptyKnownHosts, "");
    const unknownHost = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(folder, "ssh-unknown"), "--json", "--engine", `${address}?identity=${key}&known-hosts=${emptyKnownHosts}`], { reject: false });
    expect(unknownHost.exitCode).not.toBe(0);
    expect(unknownHost.stderr).toContain(`[127.0.0.1]:${sshPort} is not listed in ${emptyKnownHosts}`);
    // A key the server does not know: refused.
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(sshFolder, "stranger_key")]);
    await expect(assertDockerReachable(connectDocker(parseEngineSpec(`${address}?identity=${path.join(sshFolder, "stranger_key")}&known-hosts=${knownHosts}`).connection), undefined, 10_000)).rejects.toThrow();
  });

  it("doctor --engine checks each engine as a batch would open it", async () => {
    const tls = `tcp://${engineSide}:${tlsPort}`;
    const ssh = `ssh://root@127.0.0.1:${sshPort}`;
    const doctor = await execa("node", [
      cli, "doctor", "--json",
      "--engine", `${tls}?tls=${path.join(folder, "client")}`,
      "--engine", `${ssh}?identity=${path.join(sshFolder, "client_key")}&known-hosts=${path.join(sshFolder, "known_hosts")}`,
      "--engine", `tcp://${engineSide}:${tlsPort}`,
    ], { reject: false });
    const report = JSON.parse(doctor.stdout) as { checks: { name: string; status: string; detail: string }[] };
    const check = (name: string) => report.checks.find((each) => each.name === `engine ${name}`);
    expect(check(tls)).toMatchObject({ status: "ok", detail: expect.stringMatching(new RegExp(`^Docker .*; has ${image()}`)) });
    expect(check(ssh)).toMatchObject({ status: "ok", detail: expect.stringMatching(new RegExp(`^Docker .*; has ${image()}`)) });
    // The same engine without its client certificate: named, failed, with what to check.
    expect(report.checks.filter((each) => each.name === `engine ${tls}`).map((each) => each.status)).toEqual(["ok", "fail"]);
  });
});
