// Which engine answers behind a Docker-compatible API: Docker itself, or Podman's
// `podman system service` (its version reply names a "Podman Engine" component).

import type Dockerode from "dockerode";
import { EnvironmentError } from "../errors.js";
import { updateEngineSettings, type EngineInfo } from "../sandbox/docker.js";

export type EngineKind = "docker" | "podman";

interface VersionComponent {
  Name?: string;
  Version?: string;
}

/** Docker or Podman, from the engine's version reply. */
export async function engineKind(docker: Dockerode): Promise<{ kind: EngineKind; version: string }> {
  const reply = (await docker.version()) as { Version?: string; Components?: VersionComponent[] };
  const podman = reply.Components?.find((component) => /podman/i.test(component.Name ?? ""));
  if (podman) return { kind: "podman", version: podman.Version ?? reply.Version ?? "unknown" };
  return { kind: "docker", version: reply.Version ?? "unknown" };
}

/** One line for `doctor`: "Docker 20.10.24 (API 1.41)" or "Podman 4.3.1 through its Docker-compatible API (API 1.41)". */
export async function describeEngineKind(docker: Dockerode, engine: EngineInfo): Promise<string> {
  const { kind, version } = await engineKind(docker).catch(() => ({ kind: "docker" as const, version: engine.version }));
  return kind === "podman"
    ? `Podman ${version} through its Docker-compatible API (API ${engine.apiVersion})`
    : `Docker ${engine.version} (API ${engine.apiVersion})`;
}

/**
 * Podman (rootful) raises each container's process cap (RLIMIT_NPROC) to 4194304 unless the
 * request names one, and a host that forbids raising limits (nested, restricted) then refuses to
 * start the container. Its service's own cap is not visible through the API, so a Podman engine
 * gets a fixed cap that such hosts allow. RLIMIT_NPROC counts every process of the sandbox user
 * (uid 1000) on the host, so this also bounds how many processes all sandboxes there run at once.
 */
export const PODMAN_PROCESS_LIMIT = 4096;

/**
 * Why the engine would not enforce the sandboxes' limits, or undefined when it does. A rootless
 * engine (Podman or Docker) on a cgroup v1 host can not set cgroup limits: Podman says
 * "Resource limits are not supported and ignored on cgroups V1 rootless systems" and runs the
 * container without its memory, process and CPU limits, so one task could exhaust the machine.
 */
export async function limitsBlocker(docker: Dockerode): Promise<string | undefined> {
  const info = (await docker.info()) as { SecurityOptions?: string[]; CgroupVersion?: string };
  // Docker names rootless mode among its security options; Podman's compatible reply does not,
  // its own (libpod) info does.
  let rootless = (info.SecurityOptions ?? []).some((option) => /(^|,)name=rootless(,|$)/.test(option));
  if (!rootless && (await engineKind(docker)).kind === "podman") rootless = (await libpodInfo(docker))?.host?.security?.rootless === true;
  if (rootless && info.CgroupVersion === "1") {
    return (
      "the engine runs rootless on a cgroup v1 host, where it can not set cgroup limits: containers would start without " +
      "their memory, process and CPU limits (Podman ignores them with the warning \"Resource limits are not supported and ignored on cgroups V1 rootless systems\")"
    );
  }
  return undefined;
}

interface LibpodInfo {
  host?: { security?: { rootless?: boolean }; cgroupVersion?: string };
}

/** Podman's own info reply (undefined when the engine does not answer it). */
async function libpodInfo(docker: Dockerode): Promise<LibpodInfo | undefined> {
  return new Promise((resolve) => {
    docker.modem.dial({ path: "/v4.0.0/libpod/info", method: "GET", statusCodes: { 200: true, 404: "not found", 500: "server error" } }, (error: unknown, reply: unknown) =>
      resolve(error ? undefined : (reply as LibpodInfo)),
    );
  });
}

export const LIMITS_BLOCKER_FIX =
  "use the rootful engine (sudo podman system service, or the Docker daemon), or boot the host with cgroup v2 " +
  "(systemd.unified_cgroup_hierarchy=1) and delegate the cpu, memory and pids controllers to the user";

/**
 * Adapts the client to Podman where needed (see PODMAN_PROCESS_LIMIT); a no-op for Docker.
 * Refuses an engine that would not enforce the sandboxes' limits (limitsBlocker).
 */
export async function adaptToEngineKind(docker: Dockerode, name = "the engine"): Promise<EngineKind> {
  const blocker = await limitsBlocker(docker);
  if (blocker !== undefined) throw new EnvironmentError("DYNABOX_DOCKER_UNAVAILABLE", `${name}: ${blocker}; ${LIMITS_BLOCKER_FIX}`);
  const { kind } = await engineKind(docker);
  if (kind === "podman") updateEngineSettings(docker, { ulimits: [{ Name: "nproc", Soft: PODMAN_PROCESS_LIMIT, Hard: PODMAN_PROCESS_LIMIT }] });
  return kind;
}
