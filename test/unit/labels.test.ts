import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import {
  LABEL_MANAGED,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_OWNER_START,
  LABEL_ROLE,
  LABEL_RUN,
  currentOwner,
  isOwnerDead,
  ownerLabels,
  processStartTime,
} from "../../src/sandbox/labels.js";

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  expect(child.status).toBe(0);
  return child.pid;
}

describe("owner labels", () => {
  it("carry the managed flag, run, role and the owner's identity", () => {
    const owner = currentOwner();
    expect(owner.pid).toBe(process.pid);
    expect(owner.host).toBe(hostname());
    const labels = ownerLabels(owner, "run-1", "sandbox");
    expect(labels).toEqual({
      [LABEL_MANAGED]: "true",
      [LABEL_RUN]: "run-1",
      [LABEL_OWNER_PID]: String(process.pid),
      [LABEL_OWNER_START]: owner.startTime,
      [LABEL_OWNER_HOST]: hostname(),
      [LABEL_ROLE]: "sandbox",
    });
    expect(Object.values(labels).every((value) => typeof value === "string")).toBe(true);
  });

  it("read this process's start time from /proc, and nothing for a dead pid", () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(process.pid)).toBe(processStartTime(process.pid));
    expect(processStartTime(deadPid())).toBe("");
  });
});

describe("isOwnerDead", () => {
  it("is false for this live process", () => {
    expect(isOwnerDead(ownerLabels(currentOwner(), "run", "sandbox"))).toBe(false);
  });

  it("is true for an owner that exited", () => {
    const labels = ownerLabels({ pid: deadPid(), startTime: "12345", host: hostname() }, "run", "sandbox");
    expect(isOwnerDead(labels)).toBe(true);
  });

  it("is true when the pid lives but its start time differs (the pid was reused)", () => {
    const labels = ownerLabels({ pid: process.pid, startTime: "1", host: hostname() }, "run", "sandbox");
    expect(isOwnerDead(labels)).toBe(true);
  });

  it("is true for a missing or malformed pid on this host", () => {
    expect(isOwnerDead({ [LABEL_OWNER_HOST]: hostname() })).toBe(true);
    expect(isOwnerDead({ [LABEL_OWNER_HOST]: hostname(), [LABEL_OWNER_PID]: "abc" })).toBe(true);
    expect(isOwnerDead({ [LABEL_OWNER_HOST]: hostname(), [LABEL_OWNER_PID]: "-4" })).toBe(true);
  });

  it("never judges owners on another host, or with no host label", () => {
    const labels = ownerLabels({ pid: deadPid(), startTime: "1", host: "some-other-host" }, "run", "sandbox");
    expect(isOwnerDead(labels)).toBe(false);
    expect(isOwnerDead({ [LABEL_OWNER_PID]: "1" })).toBe(false);
    expect(isOwnerDead(ownerLabels(currentOwner(), "run", "sandbox"), "some-other-host")).toBe(false);
  });
});
