// Reading the Python a task asks for, and the small sandbox Dockerfile for it. No Docker.

import { describe, expect, it } from "vitest";
import { availablePythons, parseRequestedPython, pythonSandboxDockerfile, pythonSandboxTag, supportedVersion } from "../../src/environments/python-images.js";

describe("the Python a task asks for", () => {
  it("reads RES-Q's testbed_environment forms, conda style and plain versions", () => {
    expect(parseRequestedPython("python3.9")).toEqual({ kind: "version", version: "3.9" });
    expect(parseRequestedPython("Python3.12.4")).toEqual({ kind: "version", version: "3.12" });
    expect(parseRequestedPython("python=3.8")).toEqual({ kind: "version", version: "3.8" });
    expect(parseRequestedPython("3.10")).toEqual({ kind: "version", version: "3.10" });
    for (const any of ["", "python", "python3", "  "]) expect(parseRequestedPython(any)).toEqual({ kind: "any" });
    expect(parseRequestedPython("python2.7")).toEqual({ kind: "unknown", text: "python2.7" });
    expect(parseRequestedPython("my-env")).toEqual({ kind: "unknown", text: "my-env" });
    expect(supportedVersion("3.8")).toBe(true);
    expect(supportedVersion("3.7")).toBe(false);
    expect(availablePythons()).toBe("3.9 (Debian bullseye), 3.11 (Debian bookworm, the default sandbox image), 3.13 (Debian trixie)");
  });

  it("a Debian base gets python3 and venv from apt; an official python image only git; both check the version", () => {
    const debian = pythonSandboxDockerfile({ image: "dynabox-base:bullseye", flavor: "debian" }, "3.9");
    expect(debian).toContain("python3 python3-venv python-is-python3 git");
    expect(debian).toContain("assert v == '3.9'");
    expect(debian).toContain('ENTRYPOINT ["python3", "/opt/dynabox/kernel.py"]');
    const official = pythonSandboxDockerfile({ image: "python:3.9-slim", flavor: "official" }, "3.9");
    expect(official).not.toContain("python3-venv");
    const files = [{ path: "sandbox/kernel.py", content: Buffer.from("x") }];
    const tag = pythonSandboxTag({ image: "dynabox-base:bullseye", flavor: "debian" }, debian, files);
    expect(tag).toMatch(/^dynabox-sandbox-py:[0-9a-f]{16}$/);
    expect(pythonSandboxTag({ image: "dynabox-base:bullseye", flavor: "debian" }, debian, [{ path: "sandbox/kernel.py", content: Buffer.from("y") }])).not.toBe(tag);
  });
});
