// ScienceAgentBench: imports to requirements with upstream's remaps. No Docker.

import { describe, expect, it } from "vitest";
import { parseRequirements } from "../../src/environments/requirements.js";
import { sabRequirementsFor } from "../../src/environments/sab-packages.js";

describe("SAB requirements from imports", () => {
  it("maps module names to distributions and applies upstream's remaps and pins", () => {
    expect(sabRequirementsFor(["sklearn", "cv2", "PIL"]).requirements).toBe("scikit-learn\nopencv-python\nPillow\n");
    expect(sabRequirementsFor(["scvi"]).requirements).toBe("scvi-tools\n");
    expect(sabRequirementsFor(["iris"]).requirements).toBe("scitools-iris\n");
    expect(sabRequirementsFor(["biopsykit"]).requirements).toBe("biopsykit\nmne\n");
    expect(sabRequirementsFor(["oggm"]).requirements).toBe("oggm<=1.6.1\nsalem\ntables\ngeopandas\n");
    expect(sabRequirementsFor(["scanpy"]).requirements).toBe("scanpy\nscikit-misc\nleidenalg\n");
    expect(sabRequirementsFor(["pymatgen"]).requirements).toBe("pymatgen<=2024.5.1\n");
    expect(sabRequirementsFor(["torch", "transformers", "tf_keras"]).requirements).toBe("torch<=2.3.0\ntransformers==4.46.3\ntf-keras<=2.17.0\n");
    expect(sabRequirementsFor(["benchmark"]).requirements).toBe("");
    expect(sabRequirementsFor([]).requirements).toBe("");
  });

  it("installs what upstream takes from git or a wheel page, with upstream's URLs, as lines pip reads", () => {
    expect(sabRequirementsFor(["qsprpred", "numpy"]).requirements).toBe(
      "papyrus-scaffold-visualizer @ git+https://github.com/martin-sicho/papyrus-scaffold-visualizer.git@main\nkaleido\n",
    );
    expect(sabRequirementsFor(["deepchem"]).requirements).toBe("deepchem\n--find-links https://data.dgl.ai/wheels/torch-2.3/cu121/repo.html\ndgl\n");
    expect(sabRequirementsFor(["DeepPurpose"]).requirements).toBe("DeepPurpose\ndescriptastorus @ git+https://github.com/bp-kelley/descriptastorus\n");
    for (const modules of [["qsprpred"], ["deepchem"], ["DeepPurpose"]]) {
      expect(sabRequirementsFor(modules).notInstallable).toEqual([]);
      const parsed = parseRequirements(sabRequirementsFor(modules).requirements);
      expect(parsed.requirements.length).toBeGreaterThan(0);
    }
    expect(parseRequirements(sabRequirementsFor(["deepchem"]).requirements).findLinks).toEqual(["https://data.dgl.ai/wheels/torch-2.3/cu121/repo.html"]);
  });

  it("lets only identifiers through (a module name never becomes a pip option or a path)", () => {
    expect(sabRequirementsFor(["--index-url", "../x", "ok_name"]).requirements).toBe("ok_name\n");
  });
});
