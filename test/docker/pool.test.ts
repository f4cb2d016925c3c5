import { afterEach, describe, expect, it } from "vitest";
import { SandboxPool } from "../../src/sandbox/pool.js";
import { docker, image } from "./sandbox-fixture.js";

const pools: SandboxPool[] = [];
afterEach(async () => {
  await Promise.allSettled(pools.splice(0).map((pool) => pool.dispose()));
});

describe("the warm pool", () => {
  it("hands over a ready sandbox and never hands a used one out again", async () => {
    const pool = new SandboxPool(docker, { size: 1 });
    pools.push(pool);
    const options = { image: image(), role: "test" };
    await pool.warm(options, 1);
    expect(pool.idleCount).toBe(1);
    const first = await pool.acquire(options);
    try {
      await first.exec("secret = 'first user'");
      await pool.warm(options, 1);
      const second = await pool.acquire(options);
      try {
        expect(second.id).not.toBe(first.id);
        expect((await second.exec("secret")).error?.name).toBe("NameError");
      } finally {
        await second.dispose();
      }
    } finally {
      await first.dispose();
    }
    // A disposed sandbox's container is gone, not returned to the pool.
    await expect(docker.getContainer(first.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("starts a sandbox when none is ready, and removes idle ones on dispose", async () => {
    const pool = new SandboxPool(docker, { size: 1 });
    pools.push(pool);
    const options = { image: image(), role: "test" };
    const cold = await pool.acquire(options);
    expect((await cold.exec("1 + 1")).value).toBe("2");
    await cold.dispose();
    await pool.warm(options, 1);
    const idle = await docker.listContainers({ filters: { label: ["dynabox.role=test"] } });
    expect(idle.length).toBeGreaterThanOrEqual(1);
    await pool.dispose();
    const after = await docker.listContainers({ all: true, filters: { label: [`dynabox.owner.pid=${process.pid}`, "dynabox.role=test"] } });
    expect(after).toEqual([]);
  });

  it("reports an image that can not start instead of retrying forever", async () => {
    const pool = new SandboxPool(docker, { size: 1 });
    pools.push(pool);
    await expect(pool.warm({ image: "dynabox-no-such-image:missing" }, 1)).rejects.toThrow(/image build|not on this Docker engine/);
  });
});
