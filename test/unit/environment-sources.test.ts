// Where task environments get Python packages: flags over PIP_INDEX_URL and friends, the source
// and its identity, pip's arguments, and pip's failure output turned into a clear error. No Docker.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { indexSource } from "../../src/environments/package-source.js";
import { explainPipFailure, packagesLayerBuild, packagesLayerDockerfile } from "../../src/environments/pip-layer.js";
import { canonicalRequirements, parseRequirements, pinnedVersion } from "../../src/environments/requirements.js";
import { PYPI_INDEX_URL, environmentSettingsFromEnvironment, redactUrl, resolveEnvironmentSettings } from "../../src/environments/settings.js";

describe("environment settings", () => {
  it("reads PIP_INDEX_URL, PIP_EXTRA_INDEX_URL (space separated) and consent from the environment; flags win", () => {
    const env = { PIP_INDEX_URL: "http://127.0.0.1:3141/simple", PIP_EXTRA_INDEX_URL: "https://a/simple https://b/simple", DYNABOX_ALLOW_DEBIAN_SUBSTITUTES: "yes" };
    expect(environmentSettingsFromEnvironment(env)).toEqual({
      pipIndexUrl: "http://127.0.0.1:3141/simple",
      pipExtraIndexUrls: ["https://a/simple", "https://b/simple"],
      allowDebianSubstitutes: true,
    });
    expect(resolveEnvironmentSettings({ pipIndexUrl: "https://mirror/simple", verbose: true }, env)).toMatchObject({
      pipIndexUrl: "https://mirror/simple",
      pipExtraIndexUrls: ["https://a/simple", "https://b/simple"],
      verbose: true,
    });
    expect(environmentSettingsFromEnvironment({})).toEqual({});
  });

  it("refuses a URL that is not http(s), a host name with odd characters, a wheelhouse that is not a folder", () => {
    expect(() => resolveEnvironmentSettings({ pipIndexUrl: "ftp://x/simple" }, {})).toThrow(/must be an http\(s\) URL/);
    expect(() => resolveEnvironmentSettings({ pipIndexUrl: "not a url" }, {})).toThrow(/is not a package index URL/);
    expect(() => resolveEnvironmentSettings({ wheelhouse: "/nonexistent/wheels" }, {})).toThrow(/--wheelhouse \/nonexistent\/wheels: not a folder/);
  });

  it("never shows a password in messages", () => {
    expect(redactUrl("https://user:secret@mirror.example/simple")).toBe("https://***@mirror.example/simple");
    expect(redactUrl("http://127.0.0.1:8000/simple/")).toBe("http://127.0.0.1:8000/simple");
  });
});

describe("package sources", () => {
  it("defaults to PyPI; a named index replaces it; a wheelhouse alone means no index", () => {
    expect(indexSource({})).toMatchObject({ indexUrl: PYPI_INDEX_URL, defaulted: true, description: `index ${PYPI_INDEX_URL}` });
    expect(indexSource({ pipIndexUrl: "http://127.0.0.1:1/simple" })).toMatchObject({ indexUrl: "http://127.0.0.1:1/simple", defaulted: false });
    const folder = mkdtempSync(path.join(tmpdir(), "dynabox-wheelhouse-unit-"));
    try {
      writeFileSync(path.join(folder, "a-1.0-py3-none-any.whl"), "x");
      const source = indexSource({ wheelhouse: folder });
      expect(source).toMatchObject({ indexUrl: undefined, wheelhouse: folder, description: `wheelhouse ${folder}` });
      const dockerfile = packagesLayerDockerfile("dynabox-python:1", source);
      expect(dockerfile).toContain("--no-index");
      expect(dockerfile).toContain("--find-links /tmp/dynabox-wheelhouse");
      expect(dockerfile).toContain("COPY wheelhouse/ /tmp/dynabox-wheelhouse/");
      // A new wheel in the folder is another source: another layer.
      const before = source.identity;
      writeFileSync(path.join(folder, "b-1.0-py3-none-any.whl"), "y");
      expect(indexSource({ wheelhouse: folder }).identity).not.toBe(before);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("the packages layer's tag covers the requirements set (not how it is written) and the index", () => {
    const one = parseRequirements("numpy==1.26.4\nToml\n").requirements;
    const same = parseRequirements("# comment\ntoml\nNumPy == 1.26.4\n").requirements;
    expect(canonicalRequirements(same)).toBe(canonicalRequirements(one));
    const source = indexSource({ pipIndexUrl: "http://127.0.0.1:1/simple" });
    const tag = packagesLayerBuild("dynabox-python:1", one, source).tag;
    expect(tag).toMatch(/^dynabox-env:[0-9a-f]{16}$/);
    expect(packagesLayerBuild("dynabox-python:1", same, source).tag).toBe(tag);
    expect(packagesLayerBuild("dynabox-python:1", one, indexSource({ pipIndexUrl: "http://127.0.0.1:2/simple" })).tag).not.toBe(tag);
    expect(packagesLayerBuild("dynabox-python:2", one, source).tag).not.toBe(tag);
    expect(packagesLayerBuild("dynabox-python:1", parseRequirements("numpy==1.26.3\ntoml\n").requirements, source).tag).not.toBe(tag);
    // The URL goes in as a build argument, not into the Dockerfile.
    const build = packagesLayerBuild("dynabox-python:1", one, source);
    expect(build.dockerfile).not.toContain("127.0.0.1");
    expect(build.buildArgs).toEqual({ PIP_INDEX_URL: "http://127.0.0.1:1/simple", PIP_EXTRA_INDEX_URLS: "" });
    // The host's network only for an index on loopback.
    expect(build.networkMode).toBe("host");
    expect(packagesLayerBuild("dynabox-python:1", one, indexSource({ pipIndexUrl: "https://mirror.example/simple" })).networkMode).toBeUndefined();
    expect(packagesLayerBuild("dynabox-python:1", one, indexSource({})).networkMode).toBeUndefined();
    // Wheels only for requirements a program named.
    expect(packagesLayerBuild("dynabox-python:1", one, source, { binaryOnly: true }).dockerfile).toContain("--only-binary :all:");
    // The task's own links are in the hash, and one on loopback gives the build the host's network.
    const remote = indexSource({ pipIndexUrl: "https://mirror.example/simple" });
    const linked = packagesLayerBuild("dynabox-python:1", one, remote, { links: { findLinks: ["https://data.dgl.ai/wheels/repo.html"], extraIndexUrls: [] } });
    expect(linked.tag).not.toBe(packagesLayerBuild("dynabox-python:1", one, remote).tag);
    expect(linked.networkMode).toBeUndefined();
    expect(packagesLayerBuild("dynabox-python:1", one, remote, { links: { findLinks: ["http://127.0.0.1:8/repo.html"], extraIndexUrls: [] } }).networkMode).toBe("host");
    const gitLocal = parseRequirements("pkg @ git+http://127.0.0.1:9/r.git@v1\n").requirements;
    expect(packagesLayerBuild("dynabox-python:1", gitLocal, remote).networkMode).toBe("host");
    expect(build.dockerfile).not.toContain("--only-binary");
    expect(pinnedVersion(one[0]!)).toBe("1.26.4");
    expect(pinnedVersion(one[1]!)).toBeUndefined();
  });

  it("a plain-http index off loopback is named trusted; loopback needs nothing", () => {
    expect(packagesLayerDockerfile("p", indexSource({ pipIndexUrl: "http://mirror.lan:3141/simple" }))).toContain("--trusted-host mirror.lan");
    expect(packagesLayerDockerfile("p", indexSource({ pipIndexUrl: "http://127.0.0.1:3141/simple" }))).not.toContain("--trusted-host");
  });
});

describe("pip's failures", () => {
  const requirements = parseRequirements("Pydantic==2.7.1\ntoml\n").requirements;
  const source = indexSource({ pipIndexUrl: "https://user:pw@mirror.example/simple" });

  it("an unmet pin names the requirement as written, the versions the index has, and the index (no password)", () => {
    const error = explainPipFailure(
      [
        "ERROR: Could not find a version that satisfies the requirement pydantic==2.7.1 (from versions: 1.10.4, 1.10.13)",
        "ERROR: No matching distribution found for pydantic==2.7.1",
      ],
      requirements,
      source,
    );
    expect(error?.message).toMatch(/requirement "Pydantic==2\.7\.1" \(versions there: 1\.10\.4, 1\.10\.13\) can not be met from index https:\/\/\*\*\*@mirror\.example\/simple/);
    expect(error?.message).not.toContain("pw");
  });

  it("a project the index lacks, and conflicting requirements, are named too; other failures are left alone", () => {
    expect(
      explainPipFailure(["ERROR: Could not find a version that satisfies the requirement toml (from versions: none)"], requirements, source)?.message,
    ).toMatch(/"toml" \(the index has no version of it\)/);
    expect(explainPipFailure(["Cannot install a and b because these package versions have conflicting dependencies.", "ERROR: ResolutionImpossible"], requirements, source)?.message).toMatch(/conflict with each other/);
    expect(explainPipFailure(["error: subprocess-exited-with-error"], requirements, source)).toBeUndefined();
  });
});
