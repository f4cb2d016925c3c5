// Error codes decide exit codes in one table: every code has one, the class does not matter, and
// a usage mistake is 2 whichever way it was found.

import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EXIT_CODE_OF_ERROR, exitCodeFor, renderError } from "../../src/cli/exit-codes.js";
import { DynaboxError, ERROR_CODES, EnvironmentError, InternalError, SandboxError, UserError } from "../../src/errors.js";
import { classifyFailure, isInfrastructureKind } from "../../src/runs/infrastructure-errors.js";

describe("the exit-code table", () => {
  it("gives every error code an exit code, and nothing else", () => {
    expect(Object.keys(EXIT_CODE_OF_ERROR).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect([1, 2, 3, 70, 130]).toContain(EXIT_CODE_OF_ERROR[code]);
  });

  it("decides by the code, whatever the error's class", () => {
    for (const code of ERROR_CODES) {
      for (const make of [UserError, EnvironmentError, SandboxError, DynaboxError]) {
        expect(exitCodeFor(new make(code, "x")), `${make.name} ${code}`).toBe(EXIT_CODE_OF_ERROR[code]);
      }
    }
    expect(exitCodeFor(new InternalError("bug"))).toBe(70);
  });

  it("agrees with how a batch classifies an item's error: the user's input is 1 or 2, the infrastructure 3", () => {
    for (const code of ERROR_CODES) {
      if (code === "DYNABOX_ABORTED" || code === "DYNABOX_INTERNAL" || code === "DYNABOX_SCHEDULER_UNAVAILABLE" || code === "DYNABOX_SHARD_FAILED" || code === "DYNABOX_RUNTIME_MISSING") continue;
      const infrastructure = isInfrastructureKind(classifyFailure(new DynaboxError(code, "x")).kind);
      expect(EXIT_CODE_OF_ERROR[code] === 3, code).toBe(infrastructure);
    }
  });

  it("makes a bad flag exit 2 with a usage line, never an unexpected error", () => {
    const flagError = z.object({ concurrency: z.number().int() }).safeParse({ concurrency: 0.5 });
    expect(flagError.success).toBe(false);
    if (!flagError.success) {
      expect(exitCodeFor(flagError.error)).toBe(2);
      expect(renderError(flagError.error)).toMatch(/^dynabox: --concurrency: .*\[DYNABOX_USAGE\]$/);
    }
    const usage = new UserError("DYNABOX_USAGE", "--timeout: give a number of seconds above 0");
    expect(exitCodeFor(usage)).toBe(2);
    expect(renderError(usage)).not.toContain("unexpected error");
    expect(exitCodeFor(new CommanderError(1, "commander.invalidArgument", "error: option '--concurrency <n>' argument 'x' is invalid"))).toBe(2);
  });

  it("is 130 on an abort and 70 on anything it does not know", () => {
    expect(exitCodeFor(new DOMException("stopped", "AbortError"))).toBe(130);
    expect(exitCodeFor(new DynaboxError("DYNABOX_ABORTED", "interrupted"))).toBe(130);
    expect(exitCodeFor(new TypeError("undefined is not a function"))).toBe(70);
    expect(renderError(new TypeError("undefined is not a function"))).toContain("unexpected error");
  });
});
