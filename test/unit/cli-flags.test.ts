import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DynaboxError } from "../../src/errors.js";
import { exitCodeFor, renderError } from "../../src/cli/exit-codes.js";
import { flagName, numberFlag, parseFlags } from "../../src/cli/flags.js";

const schema = z.object({
  memory: numberFlag.pipe(z.number().int().min(64)).optional(),
  workspaceSize: numberFlag.pipe(z.number().int().min(16)).optional(),
  pythonMismatch: z.enum(["error", "warn"]).default("error"),
});
const fixes = { memory: "a whole number of MiB, at least 64", pythonMismatch: "error or warn" };

function messageOf(raw: unknown): string {
  try {
    parseFlags(schema, raw, fixes);
  } catch (error) {
    expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_USAGE");
    return (error as Error).message;
  }
  throw new Error("no error");
}

describe("flag values", () => {
  it("turn camelCase option keys into the flags the user typed", () => {
    expect(flagName("workspaceSize")).toBe("--workspace-size");
    expect(flagName("pythonMismatch")).toBe("--python-mismatch");
  });

  it("parse good values to numbers", () => {
    expect(parseFlags(schema, { memory: "4096", workspaceSize: "2048" }, fixes)).toEqual({ memory: 4096, workspaceSize: 2048, pythonMismatch: "error" });
  });

  it("refuse a bad value in one line naming the flag, the fix and what was given", () => {
    expect(messageOf({ memory: "lots" })).toBe('--memory: expected a whole number of MiB, at least 64, got "lots"');
    expect(messageOf({ memory: "" })).toContain("--memory");
    expect(messageOf({ memory: "12" })).toContain("--memory");
    expect(messageOf({ pythonMismatch: "maybe" })).toBe('--python-mismatch: expected error or warn, got "maybe"');
    expect(messageOf({ workspaceSize: "-5" })).toMatch(/^--workspace-size: /);
    expect(messageOf({ memory: "lots" })).not.toContain("\n");
  });

  it("a command that parses its flags with a bare schema still exits 2 with the flag named", () => {
    const error = z.object({ maxSteps: z.coerce.number().int() }).safeParse({ maxSteps: "abc" }).error;
    expect(exitCodeFor(error)).toBe(2);
    expect(renderError(error)).toMatch(/^dynabox: --max-steps: .* \[DYNABOX_USAGE\]$/);
  });
});
