import { Writable } from "node:stream";
import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { ModelError } from "../../src/agent/model-client.js";
import { exitCodeFor } from "../../src/cli/exit-codes.js";
import { assertPathFlag, positiveNumber } from "../../src/cli/flags.js";
import { createRenderer } from "../../src/cli/progress.js";
import { DynaboxError, EnvironmentError, SandboxError, UserError } from "../../src/errors.js";
import { classifyFailure, isCredentialRefusal } from "../../src/runs/infrastructure-errors.js";
import type { RunEvent } from "../../src/runs/events.js";

describe("one mapping of failures to whose fault", () => {
  it("names the kind of every class of error", () => {
    expect(classifyFailure(new ModelError("HTTP 503", { status: 503, retryable: true, attempts: 5 })).kind).toBe("model");
    expect(classifyFailure(new SandboxError("DYNABOX_SANDBOX_LOST", "gone")).kind).toBe("sandbox-lost");
    expect(classifyFailure(new SandboxError("DYNABOX_SANDBOX_START_FAILED", "no start")).kind).toBe("engine");
    expect(classifyFailure(new EnvironmentError("DYNABOX_DOCKER_UNAVAILABLE", "down")).kind).toBe("engine");
    expect(classifyFailure(new UserError("DYNABOX_TASK_INVALID", "bad row")).kind).toBe("input");
    expect(classifyFailure(new DynaboxError("DYNABOX_INTERNAL", "a bug")).kind).toBe("grader-crash");
    expect(classifyFailure(new TypeError("x is undefined")).kind).toBe("grader-crash");
  });

  it("reads Docker's raw errors: a gone container is a lost sandbox, a dead socket or a 5xx the engine", () => {
    const gone = Object.assign(new Error("(HTTP code 404) no such container - No such container: abc"), { statusCode: 404, json: {} });
    expect(classifyFailure(gone)).toMatchObject({ kind: "sandbox-lost", code: "DYNABOX_SANDBOX_LOST" });
    const refused = Object.assign(new Error("connect ECONNREFUSED /tmp/engine.sock"), { code: "ECONNREFUSED" });
    expect(classifyFailure(refused)).toMatchObject({ kind: "engine", code: "DYNABOX_DOCKER_UNAVAILABLE" });
    expect(classifyFailure(new Error("socket hang up")).kind).toBe("engine");
    const serverError = Object.assign(new Error("(HTTP code 500) server error - oops"), { statusCode: 500, json: {} });
    expect(classifyFailure(serverError).kind).toBe("engine");
  });

  it("tells a refused key apart from other model errors", () => {
    expect(isCredentialRefusal(new ModelError("401", { status: 401, retryable: false, attempts: 1 }))).toBe(true);
    expect(isCredentialRefusal(new ModelError("403", { status: 403, retryable: false, attempts: 1 }))).toBe(true);
    expect(isCredentialRefusal(new ModelError("500", { status: 500, retryable: true, attempts: 1 }))).toBe(false);
  });
});

describe("the command line's usage errors", () => {
  it("an unknown option or command exits 2; --help exits 0", () => {
    expect(exitCodeFor(new CommanderError(1, "commander.unknownOption", "error: unknown option '--bogus'"))).toBe(2);
    expect(exitCodeFor(new CommanderError(1, "commander.unknownCommand", "error: unknown command 'x'"))).toBe(2);
    expect(exitCodeFor(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"))).toBe(0);
  });

  it("a timer longer than Node can hold is refused, not fired at once", () => {
    expect(positiveNumber().safeParse("3000000").success).toBe(false);
    expect(positiveNumber().safeParse("2000000").success).toBe(true);
  });

  it("a path of the wrong kind or under /proc is one usage line naming the flag", () => {
    expect(() => assertPathFlag("runDir", "/proc/self/run", "folder")).toThrow(/^--run-dir: \/proc\/self\/run is under \/proc, which holds no ordinary files; give a folder on a normal disk$/);
    expect(() => assertPathFlag("runDir", "package.json", "folder")).toThrow(/^--run-dir: package.json is not a folder/);
    expect(() => assertPathFlag("library", "src", "file")).toThrow(/^--library: src is a folder/);
    expect(() => assertPathFlag("runDir", "no/such/folder/yet", "folder")).not.toThrow();
  });
});

describe("progress lines", () => {
  function render(options: { quiet?: boolean; verbose?: boolean }, events: RunEvent[]): string {
    let text = "";
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    const renderer = createRenderer({ json: false, stream, ...options });
    for (const event of events) renderer.onEvent(event);
    renderer.close();
    return text;
  }
  const events: RunEvent[] = [
    { type: "run-start", kind: "run with m", tasks: 2, concurrency: 1, runDirectory: "/r", runId: "run-r-42" },
    { type: "task-start", family: "sab", taskId: "4" },
    { type: "model-retry", taskId: "4", step: 1, attempt: 1, delayMs: 500, status: 503, message: "HTTP 503" },
    { type: "task-retry", family: "sab", taskId: "4", retry: 1, of: 2, delayMs: 5000, kind: "engine", reason: "socket hang up" },
    { type: "task-end", family: "sab", taskId: "4", outcome: "failed", score: 0, seconds: 3, summary: "2 step(s)" },
    { type: "task-end", family: "sab", taskId: "3", outcome: "error", score: null, seconds: 3, summary: "model error: HTTP 500" },
  ];

  it("print the run id at the start; --quiet keeps errors and retries only; --verbose adds model retries", () => {
    const plain = render({}, events);
    expect(plain).toContain("run id run-r-42");
    expect(plain).toContain("✗ sab/4 failed");
    expect(plain).not.toContain("model call failed");
    const quiet = render({ quiet: true }, events);
    expect(quiet).toContain("run id run-r-42");
    expect(quiet).not.toContain("sab/4 failed");
    expect(quiet).toContain("! sab/3 error in 3.0 s: model error: HTTP 500");
    expect(quiet).toContain("engine error, trying again in 5.0 s (1 of 2)");
    expect(render({ verbose: true }, events)).toContain("4 step 1: model call failed (HTTP 503); retry in 0.5 s");
  });
});
