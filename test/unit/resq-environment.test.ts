import { describe, expect, it } from "vitest";
import { canonicalRequirements } from "../../src/environments/requirements.js";
import {
  checkPythonVersion,
  debianPackageFor,
  planTaskImage,
  taskImageDockerfile,
  taskImageTag,
} from "../../src/grading/environment.js";

describe("task environment plans", () => {
  it("an empty spec needs no image of its own", () => {
    expect(planTaskImage({})).toMatchObject({ empty: true, debianPackages: [], warnings: [] });
    expect(planTaskImage({ pythonRequirements: "\n# only a comment\n" }).empty).toBe(true);
  });

  it("keeps requirements for pip with their pins, Debian packages for apt", () => {
    const plan = planTaskImage({
      pythonRequirements: "toml==0.10.2\nscikit-learn>=1.0  # ml\nPyYAML\nrequests[socks]>=2; python_version>'3'\nlong-line \\\n  ==1.2\n",
      debianPackages: ["libxml2-dev", "libxml2-dev"],
    });
    expect(plan.debianPackages).toEqual(["libxml2-dev"]);
    expect(plan.empty).toBe(false);
    expect(plan.warnings).toEqual([]);
    expect(plan.requirements.map((each) => [each.name, each.extras, each.specifier, each.marker])).toEqual([
      ["toml", "", "==0.10.2", ""],
      ["scikit-learn", "", ">=1.0", ""],
      ["pyyaml", "", "", ""],
      ["requests", "[socks]", ">=2", "python_version>'3'"],
      ["long-line", "", "==1.2", ""],
    ]);
    expect(debianPackageFor("Python_Dateutil")).toBe("python3-dateutil");
    expect(debianPackageFor("some.Package")).toBe("python3-some-package");
  });

  it("refuses what pip can not fetch in a build or what would read the build's secrets, naming it; ignores the task's main index", () => {
    expect(() => planTaskImage({ pythonRequirements: "-e .\n" })).toThrow(/"-e \.": editable installs/);
    expect(() => planTaskImage({ pythonRequirements: "-r other.txt\n" })).toThrow(/nested requirement/);
    expect(() => planTaskImage({ pythonRequirements: "./local-folder" })).toThrow(/a local path or a URL of a kind pip can not fetch/);
    expect(() => planTaskImage({ pythonRequirements: "pkg @ file:///etc/passwd" })).toThrow(/only git\+https, https/);
    expect(() => planTaskImage({ pythonRequirements: "pkg @ git+ssh://git@github.com/o/r" })).toThrow(/only git\+https, https/);
    expect(() => planTaskImage({ pythonRequirements: "pkg @ git+http://github.com/o/r" })).toThrow(/plain http off this machine's loopback/);
    expect(() => planTaskImage({ pythonRequirements: "pkg @ https://${PIP_INDEX_URL}/x.whl" })).toThrow(/\$/);
    expect(() => planTaskImage({ pythonRequirements: "-f https://user:pw@example.com/repo.html" })).toThrow(/credentials/);
    expect(() => planTaskImage({ pythonRequirements: "--find-links ../wheels" })).toThrow(/it is not a URL/);
    expect(() => planTaskImage({ pythonRequirements: "pkg==1; rm -rf /" })).not.toThrow(); // a marker: pip judges it, no shell sees it
    expect(() => planTaskImage({ pythonRequirements: "pkg $(reboot)" })).toThrow(/not a requirement this reader understands/);
    expect(() => planTaskImage({ debianPackages: ["bad name; rm -rf /"] })).toThrow(/not a Debian package name/);
    expect(planTaskImage({ pythonRequirements: "--index-url https://pypi.org/simple\n" }).warnings[0]).toMatch(/is ignored: the package index is chosen by the user/);
  });

  it("keeps git and archive references and the file's find-links and extra index lines, in the canonical text", () => {
    const plan = planTaskImage({
      pythonRequirements: [
        "descriptastorus @ git+https://github.com/bp-kelley/descriptastorus@86eedc2",
        "git+https://github.com/o/some_tool.git@v1#egg=some-tool",
        "wheelpkg @ https://example.com/wheelpkg-1.0-py3-none-any.whl ; python_version >= '3.8'",
        "-f https://data.dgl.ai/wheels/repo.html",
        "--extra-index-url=https://download.pytorch.org/whl/cpu",
        "dgl",
      ].join("\n"),
    });
    expect(plan.requirements.map((each) => [each.name, each.url ?? "", each.marker])).toEqual([
      ["descriptastorus", "git+https://github.com/bp-kelley/descriptastorus@86eedc2", ""],
      ["some-tool", "git+https://github.com/o/some_tool.git@v1", ""],
      ["wheelpkg", "https://example.com/wheelpkg-1.0-py3-none-any.whl", "python_version >= '3.8'"],
      ["dgl", "", ""],
    ]);
    expect(plan.links).toEqual({ findLinks: ["https://data.dgl.ai/wheels/repo.html"], extraIndexUrls: ["https://download.pytorch.org/whl/cpu"] });
    expect(plan.empty).toBe(false);
    expect(canonicalRequirements(plan.requirements, plan.links).split("\n").slice(0, 3)).toEqual([
      "--find-links https://data.dgl.ai/wheels/repo.html",
      "--extra-index-url https://download.pytorch.org/whl/cpu",
      "descriptastorus @ git+https://github.com/bp-kelley/descriptastorus@86eedc2",
    ]);
  });

  it("builds the task layer as root on its parent and ends as the sandbox user", () => {
    const plan = planTaskImage({ debianPackages: ["python3-toml"], dockerfileSnippet: "RUN echo hi" });
    const dockerfile = taskImageDockerfile("dynabox-env:abc", plan);
    const lines = dockerfile.trim().split("\n");
    expect(lines[0]).toBe("FROM dynabox-env:abc");
    expect(lines[1]).toBe("USER root");
    expect(dockerfile).toContain("apt-get install -y -qq --no-install-recommends python3-toml");
    expect(dockerfile).toContain("DYNABOX_MISSING_DEBIAN_PACKAGES:");
    expect(lines.indexOf("RUN echo hi")).toBeGreaterThan(2);
    expect(lines.slice(-2)).toEqual(["USER 1000:1000", "WORKDIR /workspace"]);
  });

  it("tags by base image id and spec", () => {
    const a = taskImageTag("sha256:1", "FROM x\n");
    expect(a).toMatch(/^dynabox-task:[0-9a-f]{16}$/);
    expect(taskImageTag("sha256:1", "FROM x\n")).toBe(a);
    expect(taskImageTag("sha256:2", "FROM x\n")).not.toBe(a);
    expect(taskImageTag("sha256:1", "FROM y\n")).not.toBe(a);
  });
});

describe("testbed_environment against the image's Python", () => {
  it("accepts 3.11, bare python3 / python, and nothing", () => {
    for (const ok of ["python3.11", "python3", "python", "", "3.11", "python=3.11", "Python3.11.4"]) {
      expect(checkPythonVersion(ok)).toBeUndefined();
    }
  });

  it("refuses another version by default, naming it and the option", () => {
    expect(() => checkPythonVersion("python3.10")).toThrow(/asks for python3\.10, but the sandbox image has Python 3\.11.*pass --python-mismatch warn/s);
    expect(() => checkPythonVersion("python2.7")).toThrow(/python2\.7/);
    expect(() => checkPythonVersion("my-conda-env")).toThrow(/"my-conda-env", which is not a Python version/);
  });

  it("warns instead when the policy is warn", () => {
    expect(checkPythonVersion("python3.9", "warn")).toMatch(/python3\.9.*running on Python 3\.11 anyway/);
  });
});
