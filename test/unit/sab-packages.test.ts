// ScienceAgentBench: imports to requirements with upstream's remaps. No Docker.

import { describe, expect, it } from "vitest";
import { sabRequirementsFor } from "../../src/environments/sab-packages.js";

describe("SAB requirements from imports", () => {
  it("maps module names to distributions and applies upstream's remaps and pins", () => {
    expect(sabRequirementsFor(["sklearn", "cv2", "PIL"]).requirements).toBe("scikit-learn\nopencv-python\nPillow\n");
    expect(sabRequirementsFor(["scvi"]).requirements).toBe("scvi-tools\n");
    expect(sabRequirementsFor(["iris"]).requirements).toBe("scitools-iris\n");
    expect(sabRequirementsFor(["oggm"]).requirements).toBe("oggm<=1.6.1\nsalem\ntables\ngeopandas\n");
    expect(sabRequirementsFor(["scanpy"]).requirements).toBe("scanpy\nscikit-misc\nleidenalg\n");
    expect(sabRequirementsFor(["pymatgen"]).requirements).toBe("pymatgen<=2024.5.1\n");
    expect(sabRequirementsFor(["torch", "transformers", "tf_keras"]).requirements).toBe("torch<=2.3.0\ntransformers==4.46.3\ntf-keras<=2.17.0\n");
    expect(sabRequirementsFor(["benchmark"]).requirements).toBe("");
    expect(sabRequirementsFor([]).requirements).toBe("");
  });

  it("names what upstream installs from git or a wheel page, which no index gives", () => {
    expect(sabRequirementsFor(["qsprpred"]).notInstallable.join()).toMatch(/papyrus-scaffold-visualizer/);
    expect(sabRequirementsFor(["deepchem"]).notInstallable.join()).toMatch(/dgl/);
    expect(sabRequirementsFor(["DeepPurpose"]).notInstallable.join()).toMatch(/descriptastorus/);
  });

  it("lets only identifiers through (a module name never becomes a pip option or a path)", () => {
    expect(sabRequirementsFor(["--index-url", "../x", "ok_name"]).requirements).toBe("ok_name\n");
  });
});
