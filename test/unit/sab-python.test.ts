// ScienceAgentBench's upstream Python 3.10: the warning when another is used, and the base stack. No Docker.

import { describe, expect, it } from "vitest";
import { parseRequirements } from "../../src/environments/requirements.js";
import { SAB_BASE_STACK, SAB_UPSTREAM_PYTHON, sabBaseImage, sabPythonWarning } from "../../src/environments/sab-python.js";
import { planTaskImage } from "../../src/grading/environment.js";

describe("ScienceAgentBench's Python", () => {
  it("asks for upstream's 3.10 with upstream's pinned stack", () => {
    expect(SAB_UPSTREAM_PYTHON).toBe("3.10");
    const plan = planTaskImage({ python: SAB_UPSTREAM_PYTHON, pythonRequirements: SAB_BASE_STACK, binaryOnly: true });
    expect(plan.python).toBe("3.10");
    expect(parseRequirements(SAB_BASE_STACK).requirements.map((each) => `${each.name}${each.specifier}`)).toEqual(
      expect.arrayContaining(["numpy<2.0", "scipy<1.14.0", "matplotlib<3.8.0", "torch<=2.3.0", "tensorflow<=2.17.0", "rdkit<=2023.09.5", "tf-keras<=2.17.0"]),
    );
  });

  it("the warning names the Python used, the reason, and both ways to get 3.10", () => {
    const warning = sabPythonWarning("no registry answers");
    expect(warning).toMatch(/upstream harness runs programs on Python 3\.10; this one ran on Python 3\.11/);
    expect(warning).toContain("because no registry answers");
    expect(warning).toMatch(/docker save python:3\.10-slim .* docker load -i/);
    expect(warning).toMatch(/reach a registry/);
  });

  it("DYNABOX_SAB_PYTHON=sandbox keeps the sandbox image, with the warning on every task (never silently)", async () => {
    const saved = process.env.DYNABOX_SAB_PYTHON;
    process.env.DYNABOX_SAB_PYTHON = "sandbox";
    try {
      const warnings: string[] = [];
      const context = { docker: {} as never, sandboxImage: "dynabox-sandbox:test", cacheDirectory: "/c", onWarning: (warning: string) => warnings.push(warning) };
      expect(await sabBaseImage(context)).toMatchObject({ image: "dynabox-sandbox:test", python: "3.11" });
      await sabBaseImage(context);
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toMatch(/ran on Python 3\.11 .*because DYNABOX_SAB_PYTHON=sandbox asks for the sandbox image/);
    } finally {
      if (saved === undefined) delete process.env.DYNABOX_SAB_PYTHON;
      else process.env.DYNABOX_SAB_PYTHON = saved;
    }
  });
});
