// The sandbox image through a registry the user names (--image-registry): Debian's docker-registry
// on loopback (scripts/local-registry.sh), where the host's engine pushes, and a second engine in
// its own network namespace (scripts/extra-dockerd.sh) that reaches the same registry over a veth
// link under another address (?registry= on its --engine, --insecure-registry for its daemon).
// A grading runs on the pulled image; a registry that does not answer falls back to save/load.
// Both daemons, the link, the namespace and the folders are removed afterwards.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImageOn } from "../../src/engines/image-transfer.js";
import { EnginePool, type EngineEvent } from "../../src/engines/pool.js";
import { pullFromRegistry, pushToRegistry } from "../../src/engines/registry-transfer.js";
import { parseEngineSpec } from "../../src/engines/spec.js";
import { BOOTSTRAPPED_BASE_IMAGE, DEBIAN_BASE_IMAGE } from "../../src/sandbox/base-image.js";
import { connectDocker, imageExists } from "../../src/sandbox/docker.js";
import { startExtraEngine, type ExtraEngine } from "./extra-engine.js";
import { docker, image } from "./sandbox-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const registryScript = path.resolve("scripts/local-registry.sh");
const name = `r${process.pid % 1_000_000}`;
// A /30 of 10.213.0.0/16 per test process, so parallel runs do not collide.
const linkAddress = `10.213.${Math.floor(process.pid / 64) % 256}.${(process.pid % 64) * 4 + 1}`;
let port = 0;
let second: ExtraEngine | undefined;
let registryFolder = "";
let scratch = "";
/** The base image the sandbox image was built on (small), for the fallback and the figures. */
let SMALL_IMAGE = BOOTSTRAPPED_BASE_IMAGE;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: found } = server.address() as { port: number };
      server.close(() => resolve(found));
    });
  });
}

const pushAddress = (): string => `127.0.0.1:${port}`;
const linkedAddress = (): string => `${linkAddress}:${port}`;
/** The engine's side of the link, from where its pulls come. */
const engineAddress = (): string => linkAddress.replace(/\d+$/, (last) => String(Number(last) + 1));
const secondDocker = () => connectDocker({ socketPath: second!.socket });

async function removeFromSecond(): Promise<void> {
  await secondDocker().getImage(image()).remove({ force: true }).catch(() => undefined);
  expect(await imageExists(secondDocker(), image())).toBe(false);
}

describe("image transfer through a registry", () => {
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "dynabox-registry-test-"));
    registryFolder = await mkdtemp(path.join(tmpdir(), "dynabox-registry-"));
    port = await freePort();
    if (!(await imageExists(docker, SMALL_IMAGE))) SMALL_IMAGE = DEBIAN_BASE_IMAGE;
    second = await startExtraEngine(name, ["--insecure-registry", `${linkAddress}:${port}`]);
    const started = await execa("bash", [registryScript, "start", name, registryFolder, String(port), second.namespace, linkAddress], { reject: false });
    if (started.exitCode !== 0) throw new Error(`the registry did not start: ${started.stderr}`);
    expect(started.stdout.trim().split("\n")).toEqual([pushAddress(), linkedAddress()]);
  }, 180_000);

  afterAll(async () => {
    if (registryFolder) await execa("bash", [registryScript, "stop", name, registryFolder], { reject: false });
    await second?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 120_000);

  it("an engine that lacks the image pulls it from the registry, and a grading runs on it there", async () => {
    await removeFromSecond();
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { id: string; solution_patch: string }[];
    const submissions = path.join(scratch, "submissions.jsonl");
    await writeFile(submissions, rows.map((row, index) => JSON.stringify({ id: row.id, patch: index % 2 === 0 ? row.solution_patch : "" })).join("\n") + "\n");
    const result = await execa(
      "node",
      [
        cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", path.join(scratch, "run"), "--json",
        // Only the second engine: every verdict is made on the pulled image.
        "--engine", `unix://${second!.socket}?concurrency=2&registry=${linkedAddress()}`, "--image-registry", pushAddress(),
      ],
      { reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    // The second engine fetched the image's manifest over its link, under the address it was given.
    const [repository, tag] = image().split(":");
    const linkedLog = await readFile(path.join(registryFolder, "linked.log"), "utf8");
    expect(linkedLog).toContain(`${engineAddress()} - - `);
    expect(linkedLog).toContain(`"HEAD /v2/${repository}/manifests/${tag} HTTP/1.1" 200`);
    const verdicts = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: string; message: string });
    expect(verdicts.map((verdict) => [verdict.id, verdict.message])).toEqual(rows.map((row, index) => [row.id, index % 2 === 0 ? "PASS" : "PATCH FAILED"]));
    // The image is there under its own name, the registry's name for it is not left behind on either engine.
    expect(await imageExists(secondDocker(), image())).toBe(true);
    expect(await imageExists(secondDocker(), `${linkedAddress()}/${image()}`)).toBe(false);
    expect(await imageExists(docker, `${pushAddress()}/${image()}`)).toBe(false);
    // The registry holds the image's repository.
    const catalog = (await (await fetch(`http://${pushAddress()}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toContain(repository);
  }, 300_000);

  it("a registry that does not answer falls back to save/load, and says why", async () => {
    await secondDocker().getImage(SMALL_IMAGE).remove({ force: true }).catch(() => undefined);
    const events: EngineEvent[] = [];
    const closed = await freePort();
    await EnginePool.open([parseEngineSpec(`unix://${second!.socket}?concurrency=1`)], docker, SMALL_IMAGE, {
      imageRegistry: `127.0.0.1:${closed}`,
      onEvent: (event) => events.push(event),
    });
    const ready = events.find((event) => event.type === "engine-ready");
    expect(ready).toMatchObject({ type: "engine-ready", imageMethod: "save-load" });
    expect(ready?.type === "engine-ready" ? ready.imageNote : "").toMatch(new RegExp(`could not push .* to the registry 127\\.0\\.0\\.1:${closed}`));
    expect(await imageExists(secondDocker(), SMALL_IMAGE)).toBe(true);
  });
  // The base image's layers are in the registry and on the engine already (the sandbox image is
  // built on it), as for a rebuilt image: the registry moves only what is missing, save/load all.
  it("measures save/load against a push and a pull of an image whose layers the engine has (docs/scale.md has the figures of a full transfer)", async () => {
    await secondDocker().getImage(SMALL_IMAGE).remove({ force: true }).catch(() => undefined);
    const saveLoad = await ensureImageOn(docker, secondDocker(), SMALL_IMAGE);
    await secondDocker().getImage(SMALL_IMAGE).remove({ force: true });
    const push = await pushToRegistry(docker, SMALL_IMAGE, pushAddress());
    const pull = await pullFromRegistry(secondDocker(), SMALL_IMAGE, linkedAddress(), "second");
    const size = ((await docker.getImage(SMALL_IMAGE).inspect()) as { Size: number }).Size;
    console.log(`image ${SMALL_IMAGE}, ${Math.round(size / 2 ** 20)} MiB, layers already on the engine: save/load ${saveLoad.seconds.toFixed(1)} s; registry push (once) ${push.seconds.toFixed(1)} s, pull per engine ${pull.seconds.toFixed(1)} s`);
    expect(saveLoad.copied).toBe(true);
    expect(await imageExists(secondDocker(), SMALL_IMAGE)).toBe(true);
  }, 180_000);
});
