import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, buildCreateOptions } from "../../src/sandbox/profile.js";

const base = { image: "dynabox-sandbox:test", limits: DEFAULT_LIMITS, network: false, labels: { "dynabox.managed": "true" } };

describe("the container profile", () => {
  it("is locked down by default", () => {
    const options = buildCreateOptions(base);
    const host = options.HostConfig!;
    expect(options.User).toBe("1000:1000");
    expect(options.NetworkDisabled).toBe(true);
    expect(host.NetworkMode).toBe("none");
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.CapAdd).toBeUndefined();
    expect(host.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Privileged).toBeUndefined();
    expect(host.Binds).toBeUndefined();
    expect(host.PidsLimit).toBe(256);
    expect(host.AutoRemove).toBe(true);
    expect(options.OpenStdin && options.StdinOnce).toBe(true);
  });

  it("keeps no engine log: every protocol line passes the container's stdout", () => {
    for (const network of [false, true]) {
      expect(buildCreateOptions({ ...base, network, runtime: "runsc" }).HostConfig?.LogConfig).toEqual({ Type: "none", Config: {} });
    }
  });

  it("sets memory without extra swap, a CPU quota and sized scratch space", () => {
    const options = buildCreateOptions({ ...base, limits: { ...DEFAULT_LIMITS, memoryMb: 512, cpus: 1.5, workspaceMb: 64, tmpMb: 32 } });
    const host = options.HostConfig!;
    expect(host.Memory).toBe(512 * 1024 * 1024);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.NanoCpus).toBe(1_500_000_000);
    expect(host.Tmpfs?.["/tmp"]).toContain("size=32m");
    const workspace = host.Mounts?.[0];
    expect(workspace?.Target).toBe("/workspace");
    expect(workspace?.VolumeOptions?.DriverConfig?.Options?.o).toContain("size=64m");
    expect(workspace?.VolumeOptions?.DriverConfig?.Options?.o).toContain("uid=1000");
  });

  it("passes no host environment, only what it is given", () => {
    process.env.DYNABOX_PROFILE_TEST_SECRET = "secret";
    try {
      const options = buildCreateOptions({ ...base, env: { SEED: "1" } });
      expect(options.Env).toEqual(["DYNABOX_WORKSPACE=/workspace", "SEED=1"]);
    } finally {
      delete process.env.DYNABOX_PROFILE_TEST_SECRET;
    }
  });

  it("turns the network on only when asked, and uses a given runtime", () => {
    const options = buildCreateOptions({ ...base, network: true, runtime: "runsc" });
    expect(options.NetworkDisabled).toBe(false);
    expect(options.HostConfig?.NetworkMode).toBe("bridge");
    expect(options.HostConfig?.Runtime).toBe("runsc");
  });
});
