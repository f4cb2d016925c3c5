// `dynabox doctor --engine A --engine B [--image-registry H:P]` (or the config file's "engines"):
// one line per engine, as a batch command would open it (reachable, Docker or Podman, limits
// enforced, the runtime asked for, whether it has the sandbox image), and one for the registry.

import { describeEngineKind, LIMITS_BLOCKER_FIX, limitsBlocker } from "../engines/kind.js";
import { parseEngineSpec } from "../engines/spec.js";
import { assertDockerReachable, connectDocker, engineRuntimes, imageExists } from "../sandbox/docker.js";

export interface EngineCheck {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

export async function engineChecks(addresses: readonly string[], image: string, runtime: string | undefined, imageRegistry: string | undefined): Promise<EngineCheck[]> {
  const checks: EngineCheck[] = [];
  for (const address of addresses) {
    const spec = parseEngineSpec(address);
    const name = `engine ${spec.name}`;
    const docker = connectDocker(spec.connection);
    try {
      const engine = await assertDockerReachable(docker, undefined, 10_000);
      const described = await describeEngineKind(docker, engine);
      const blocker = await limitsBlocker(docker);
      if (blocker !== undefined) {
        checks.push({ name, status: "fail", detail: `${described}: ${blocker}`, fix: LIMITS_BLOCKER_FIX });
        continue;
      }
      const wanted = spec.runtime ?? runtime;
      if (wanted !== undefined && !(await engineRuntimes(docker)).includes(wanted)) {
        checks.push({ name, status: "fail", detail: `${described}; runtime ${wanted} asked for but not registered there`, fix: "register it in that engine's daemon.json (for runsc: scripts/ensure-runsc.sh on that host)" });
        continue;
      }
      const has = await imageExists(docker, image);
      const transfer = imageRegistry ? `pulled from ${spec.registry ?? imageRegistry}` : "copied by save/load";
      checks.push({ name, status: "ok", detail: `${described}${wanted ? `, runtime ${wanted}` : ""}; ${has ? `has ${image}` : `lacks ${image}: it will be ${transfer} when a batch starts`}` });
    } catch (error) {
      checks.push({
        name,
        status: "fail",
        detail: error instanceof Error ? error.message : String(error),
        fix: spec.connection.protocol === "ssh"
          ? "check the ssh login (identity=KEY, the ssh agent), that the host is in known_hosts (ssh-keyscan), and that `docker system dial-stdio` works there"
          : "check that the engine runs and listens there (and its TLS certificates for tcp://)",
      });
    }
  }
  if (imageRegistry !== undefined) {
    const answered = await fetch(`http://${imageRegistry}/v2/`, { signal: AbortSignal.timeout(5_000) }).then(
      (reply) => `HTTP ${reply.status}`,
      () => fetch(`https://${imageRegistry}/v2/`, { signal: AbortSignal.timeout(5_000) }).then((reply) => `HTTPS ${reply.status}`, () => undefined),
    );
    checks.push(
      answered === undefined
        ? { name: "image registry", status: "warn", detail: `${imageRegistry} does not answer at /v2/ (HTTP or HTTPS); batches will copy the image by save/load`, fix: "start the registry, or leave out --image-registry" }
        : { name: "image registry", status: "ok", detail: `${imageRegistry} answers (${answered} at /v2/); engines must trust it (insecure-registries for plain HTTP)` },
    );
  }
  return checks;
}
