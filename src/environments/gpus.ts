// GPUs for tasks that declare one: `--gpus all|N|<device ids>` becomes Docker DeviceRequests
// (the API form of `docker run --gpus`) for the agent's and the grader's containers of such tasks.
// Pure: no Docker here, and no GPU on dynabox's own machines; the engine needs the NVIDIA
// container toolkit (docs/images.md) for the requests to be met.
//
//   --gpus all        every GPU              {Driver: "nvidia", Count: -1, Capabilities: [["gpu"]]}
//   --gpus 2          any two GPUs           {Driver: "nvidia", Count: 2, ...}
//   --gpus 0,2        GPUs 0 and 2           {Driver: "nvidia", DeviceIDs: ["0", "2"], ...}
//   --gpus GPU-3a..   a GPU by UUID          {Driver: "nvidia", DeviceIDs: ["GPU-3a.."], ...}
//   (none)            no GPU
//
// A task that does not declare a GPU gets none whatever --gpus says (a GPU is a shared device; a
// task that does not need one should not hold it). A task that declares one while --gpus is not
// given runs without, with a warning that says how to give it.
//
// Who declares: an MLAgentBench task.json `"gpu": true` (or a number of GPUs). RES-Q and
// ScienceAgentBench rows have no such field upstream, so `--gpus-for all` counts every task of the
// run as declaring one GPU (`declared`, the default, keeps to what tasks say).

import { UserError } from "../errors.js";

export type GpuSetting = { kind: "none" } | { kind: "all" } | { kind: "count"; count: number } | { kind: "devices"; ids: string[] };

/** Docker's DeviceRequest (Engine API 1.40+). */
export interface DeviceRequest {
  Driver: string;
  Count: number;
  DeviceIDs: string[];
  Capabilities: string[][];
  Options: Record<string, string>;
}

const DEVICE_ID = /^(?:\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+)$/;

export function parseGpus(text: string | undefined): GpuSetting {
  const value = (text ?? "").trim();
  if (value === "" || value === "none" || value === "0") return { kind: "none" };
  if (value === "all") return { kind: "all" };
  // `docker run --gpus device=0,1` spelling too.
  const list = value.replace(/^"?device=/, "").replace(/"$/, "");
  if (/^\d+$/.test(value)) {
    const count = Number(value);
    if (count > 0 && count <= 256) return { kind: "count", count };
  }
  const ids = list.split(",").map((id) => id.trim()).filter((id) => id !== "");
  if (ids.length > 0 && ids.every((id) => DEVICE_ID.test(id)) && (value.startsWith("device=") || value.includes(",") || !/^\d+$/.test(value))) {
    return { kind: "devices", ids: [...new Set(ids)] };
  }
  throw new UserError(
    "DYNABOX_USAGE",
    `--gpus ${value}: expected all, a number of GPUs (e.g. 2), or device ids (e.g. 0,1 or GPU-<uuid>, or device=0 for GPU 0 alone)`,
  );
}

export function deviceRequests(setting: GpuSetting): DeviceRequest[] {
  const base = { Driver: "nvidia", Capabilities: [["gpu"]], Options: {} };
  switch (setting.kind) {
    case "none":
      return [];
    case "all":
      return [{ ...base, Count: -1, DeviceIDs: [] }];
    case "count":
      return [{ ...base, Count: setting.count, DeviceIDs: [] }];
    case "devices":
      return [{ ...base, Count: 0, DeviceIDs: setting.ids }];
  }
}

export interface GpuPlan {
  deviceRequests: DeviceRequest[];
  warning?: string;
}

export const GPU_SCOPES = ["declared", "all"] as const;
/** `--gpus-for`: which tasks get the --gpus devices. */
export type GpuScope = (typeof GPU_SCOPES)[number];

export function parseGpuScope(text: string | undefined): GpuScope {
  const value = (text ?? "declared").trim();
  if ((GPU_SCOPES as readonly string[]).includes(value)) return value as GpuScope;
  throw new UserError("DYNABOX_USAGE", `--gpus-for ${value}: expected declared (tasks that declare a GPU; the default) or all (every task of the run)`);
}

/** A task's GPU need under the scope: what it declares, or one GPU for every task with --gpus-for all. */
export function gpuNeed(declared: boolean | number | undefined, scope: GpuScope): boolean | number | undefined {
  const needs = declared === true || (typeof declared === "number" && declared > 0);
  return needs ? declared : scope === "all" ? true : undefined;
}

/** What a task's containers get: its declared need (true, or a number of GPUs) against the user's --gpus. */
export function planGpus(taskId: string, declared: boolean | number | undefined, setting: GpuSetting): GpuPlan {
  const needs = declared === true || (typeof declared === "number" && declared > 0);
  if (!needs) return { deviceRequests: [] };
  if (setting.kind === "none") {
    return {
      deviceRequests: [],
      warning: `${taskId} declares a GPU, but --gpus was not given: it runs on the CPU (pass --gpus all, --gpus 1 or --gpus <device ids>)`,
    };
  }
  if (typeof declared === "number") {
    const given = setting.kind === "count" ? setting.count : setting.kind === "devices" ? setting.ids.length : undefined;
    if (given !== undefined && given < declared) {
      return {
        deviceRequests: deviceRequests(setting),
        warning: `${taskId} declares ${declared} GPUs, but --gpus gives ${given}`,
      };
    }
  }
  return { deviceRequests: deviceRequests(setting) };
}
