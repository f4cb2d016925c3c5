// Which engine answers behind a Docker-compatible API: Docker itself, or Podman's
// `podman system service` (its version reply names a "Podman Engine" component).

import type Dockerode from "dockerode";
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

/** Adapts the client to Podman where needed (see PODMAN_PROCESS_LIMIT); a no-op for Docker. */
export async function adaptToEngineKind(docker: Dockerode): Promise<EngineKind> {
  const { kind } = await engineKind(docker);
  if (kind === "podman") updateEngineSettings(docker, { ulimits: [{ Name: "nproc", Soft: PODMAN_PROCESS_LIMIT, Hard: PODMAN_PROCESS_LIMIT }] });
  return kind;
}
