// Which engine answers behind a Docker-compatible API: Docker itself, or Podman's
// `podman system service` (its version reply names a "Podman Engine" component).

import type Dockerode from "dockerode";
import type { EngineInfo } from "../sandbox/docker.js";

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
