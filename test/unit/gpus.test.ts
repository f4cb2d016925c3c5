// --gpus as Docker DeviceRequests, for tasks that declare a GPU. No GPU and no Docker here.

import { describe, expect, it } from "vitest";
import { deviceRequests, gpuNeed, parseGpus, parseGpuScope, planGpus } from "../../src/environments/gpus.js";
import { resolveEnvironmentSettings } from "../../src/environments/settings.js";
import { contextForTask } from "../../src/grading/context.js";
import { poolKey } from "../../src/sandbox/pool.js";
import { buildCreateOptions, DEFAULT_LIMITS } from "../../src/sandbox/profile.js";

describe("--gpus", () => {
  it("reads all, a count, device ids and docker's device= spelling", () => {
    expect(parseGpus(undefined)).toEqual({ kind: "none" });
    expect(parseGpus("all")).toEqual({ kind: "all" });
    expect(parseGpus("2")).toEqual({ kind: "count", count: 2 });
    expect(parseGpus("0,2")).toEqual({ kind: "devices", ids: ["0", "2"] });
    expect(parseGpus("device=1")).toEqual({ kind: "devices", ids: ["1"] });
    expect(parseGpus("GPU-3a6f2c1e-0000-1111-2222-333344445555")).toEqual({ kind: "devices", ids: ["GPU-3a6f2c1e-0000-1111-2222-333344445555"] });
    expect(() => parseGpus("lots")).toThrow(/--gpus lots: expected all, a number of GPUs/);
    expect(() => parseGpus("0;rm -rf /")).toThrow(/--gpus/);
  });

  it("becomes the DeviceRequests docker run --gpus sends", () => {
    expect(deviceRequests({ kind: "all" })).toEqual([{ Driver: "nvidia", Count: -1, DeviceIDs: [], Capabilities: [["gpu"]], Options: {} }]);
    expect(deviceRequests({ kind: "count", count: 2 })[0]).toMatchObject({ Count: 2, DeviceIDs: [] });
    expect(deviceRequests({ kind: "devices", ids: ["0", "2"] })[0]).toMatchObject({ Count: 0, DeviceIDs: ["0", "2"] });
    expect(deviceRequests({ kind: "none" })).toEqual([]);
  });

  it("only tasks that declare a GPU get one; one declared but not given is a warning", () => {
    expect(planGpus("t", undefined, parseGpus("all"))).toEqual({ deviceRequests: [] });
    expect(planGpus("t", false, parseGpus("all"))).toEqual({ deviceRequests: [] });
    expect(planGpus("t", true, parseGpus("all")).deviceRequests).toHaveLength(1);
    expect(planGpus("t", true, parseGpus(undefined))).toMatchObject({ deviceRequests: [], warning: expect.stringMatching(/declares a GPU, but --gpus was not given/) });
    expect(planGpus("t", 4, parseGpus("2")).warning).toMatch(/declares 4 GPUs, but --gpus gives 2/);
  });

  it("reach the container's HostConfig only when there are any", () => {
    const profile = { image: "i", limits: DEFAULT_LIMITS, network: false, labels: {} };
    expect(buildCreateOptions(profile).HostConfig).not.toHaveProperty("DeviceRequests");
    const requests = deviceRequests(parseGpus("all"));
    expect(buildCreateOptions({ ...profile, deviceRequests: requests }).HostConfig?.DeviceRequests).toEqual(requests);
  });

  it("--gpus-for all counts every task as needing one GPU; declared keeps to what tasks say", () => {
    expect(gpuNeed(undefined, "declared")).toBeUndefined();
    expect(gpuNeed(false, "declared")).toBeUndefined();
    expect(gpuNeed(2, "declared")).toBe(2);
    expect(gpuNeed(undefined, "all")).toBe(true);
    expect(gpuNeed(0, "all")).toBe(true);
    expect(gpuNeed(3, "all")).toBe(3);
    expect(parseGpuScope(undefined)).toBe("declared");
    expect(() => parseGpuScope("some")).toThrow(/--gpus-for some: expected declared .* or all/);
    expect(() => resolveEnvironmentSettings({ gpusFor: "all" }, {})).toThrow(/--gpus-for all .* --gpus was not given/);
    expect(resolveEnvironmentSettings({ gpusFor: "all", gpus: "1" }, {})).toMatchObject({ gpusFor: "all", gpus: "1" });
  });

  it("a runner's per-task context carries the task's devices and reports the warning once", () => {
    const warnings: string[] = [];
    const base = { docker: {} as never, sandboxImage: "i", cacheDirectory: "/c", onWarning: (warning: string) => warnings.push(warning) };
    expect(contextForTask({ ...base, environment: { gpus: "all" } }, { id: "plain" }).taskDevices).toEqual([]);
    expect(contextForTask({ ...base, environment: { gpus: "0,1" } }, { id: "needs", gpu: true }).taskDevices).toEqual(deviceRequests(parseGpus("0,1")));
    expect(contextForTask({ ...base, environment: { gpus: "all", gpusFor: "all" } }, { id: "row" }).taskDevices).toHaveLength(1);
    expect(warnings).toEqual([]);
    expect(contextForTask(base, { id: "needs", gpu: true }).taskDevices).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^needs declares a GPU, but --gpus was not given/)]);
  });

  it("the pool never hands a GPU sandbox to a task without GPUs, nor the reverse", () => {
    const plain = poolKey({ image: "i" });
    expect(poolKey({ image: "i", deviceRequests: deviceRequests(parseGpus("all")) })).not.toBe(plain);
    expect(poolKey({ image: "i", deviceRequests: [] })).toBe(plain);
  });
});
