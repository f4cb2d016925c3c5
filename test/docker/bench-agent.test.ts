// `dynabox bench --agent --json` runs end to end and reports every part at every library size.
// (Figures are not asserted: a benchmark measures, a test checks that it measures.)

import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

describe("dynabox bench --agent", () => {
  it("reports step overhead parts and retrieval at 0, 1,000 and 10,000 actions", async () => {
    const result = await execa("node", [path.resolve("dist/cli/main.js"), "bench", "--agent", "--steps", "10", "--json"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { agent: { steps: number; sizes: Record<string, number>[] } };
    expect(report.agent.steps).toBe(10);
    expect(report.agent.sizes.map((size) => size.actions)).toEqual([0, 1_000, 10_000]);
    for (const size of report.agent.sizes) {
      expect(size.retrieval_p50_ms).toBeGreaterThanOrEqual(0);
      for (const field of ["step_overhead_p50_ms", "prompt_p50_ms", "kernel_p50_ms", "extraction_p50_ms", "trajectory_p50_ms"]) {
        expect(size[field], field).toBeGreaterThan(0);
      }
      expect(size.step_overhead_p99_ms).toBeGreaterThanOrEqual(size.step_overhead_p50_ms as number);
    }
  }, 180_000);
});
