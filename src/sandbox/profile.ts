// The container profile: a pure function from what a sandbox needs to the Docker create
// options. Secure by default (see docs/security.md); unit-tested without Docker.

import type { ContainerCreateOptions } from "dockerode";

export const WORKSPACE = "/workspace";
export const SANDBOX_UID = 1000;

export interface SandboxLimits {
  /** Memory limit in MiB; swap is not added on top. */
  memoryMb: number;
  /** CPU quota in cores (fractions allowed). */
  cpus: number;
  /** Most processes and threads alive at once (a fork bomb stops here). */
  pidsLimit: number;
  /** Size of the writable workspace in MiB. */
  workspaceMb: number;
  /** Size of /tmp in MiB. */
  tmpMb: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryMb: 2048,
  cpus: 1,
  pidsLimit: 256,
  workspaceMb: 1024,
  tmpMb: 512,
};

export interface SandboxProfile {
  image: string;
  limits: SandboxLimits;
  /** Network access; off unless a task asks for it. */
  network: boolean;
  labels: Record<string, string>;
  /** Extra environment; nothing of the host's environment is passed otherwise. */
  env?: Record<string, string>;
  /** An OCI runtime such as gVisor's `runsc`, when the engine has it. */
  runtime?: string;
  /** GPUs (Docker DeviceRequests) for tasks that declare one; see src/environments/gpus.ts. */
  deviceRequests?: { Driver: string; Count: number; DeviceIDs: string[]; Capabilities: string[][]; Options: Record<string, string> }[];
}

const MIB = 1024 * 1024;

/** Most open files per process in a sandbox; well below common host limits (20000, 1048576). */
export const OPEN_FILES_LIMIT = 8192;

export function buildCreateOptions(profile: SandboxProfile): ContainerCreateOptions {
  const { limits } = profile;
  const env = { DYNABOX_WORKSPACE: WORKSPACE, ...profile.env };
  return {
    Image: profile.image,
    Labels: profile.labels,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    User: `${SANDBOX_UID}:${SANDBOX_UID}`,
    WorkingDir: WORKSPACE,
    // The kernel speaks over stdin/stdout. StdinOnce closes its stdin when the host detaches,
    // so a host that dies (even by SIGKILL) makes the kernel exit and the container go away.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: !profile.network,
    StopSignal: "SIGKILL",
    HostConfig: {
      AutoRemove: true,
      NetworkMode: profile.network ? "bridge" : "none",
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Memory: limits.memoryMb * MIB,
      MemorySwap: limits.memoryMb * MIB,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pidsLimit,
      // The kernel supervisor is PID 1 and reaps orphans itself; as PID 1 it also can not be
      // killed from inside the container, which Docker's init would make it.
      Init: false,
      IpcMode: "private",
      // Prefer killing a sandbox over anything else on the host when memory runs out.
      OomScoreAdj: 500,
      // An explicit open-files cap: Podman otherwise asks for 1048576, which a host that forbids
      // raising the limit (nested, restricted) refuses, and it bounds an fd-exhaustion attack too.
      Ulimits: [
        { Name: "core", Soft: 0, Hard: 0 },
        { Name: "nofile", Soft: OPEN_FILES_LIMIT, Hard: OPEN_FILES_LIMIT },
      ],
      // Every protocol line passes the container's stdout: with the engine's default json-file
      // driver a chatty or hostile sandbox fills the host disk with logs nobody reads.
      LogConfig: { Type: "none", Config: {} },
      Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${limits.tmpMb}m,mode=1777` },
      // A size-capped tmpfs volume rather than a Tmpfs mount: the archive API (files in and
      // out) can write into a volume under a read-only root, and a disk-fill stops at its size.
      // Anonymous, so AutoRemove deletes it with the container.
      Mounts: [
        {
          Type: "volume",
          Source: "",
          Target: WORKSPACE,
          VolumeOptions: {
            NoCopy: true,
            Labels: profile.labels,
            DriverConfig: {
              Name: "local",
              Options: {
                type: "tmpfs",
                device: "tmpfs",
                o: `size=${limits.workspaceMb}m,uid=${SANDBOX_UID},gid=${SANDBOX_UID},mode=0755`,
              },
            },
          },
        },
      ],
      ...(profile.runtime ? { Runtime: profile.runtime } : {}),
      ...(profile.deviceRequests && profile.deviceRequests.length > 0 ? { DeviceRequests: profile.deviceRequests } : {}),
    },
  };
}
