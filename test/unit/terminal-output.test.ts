// Sandbox-, model- and task-made text in dynabox's own terminal output: every renderer escapes
// it, so no raw escape sequence, carriage return or extra line reaches the terminal.

import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { renderCellResult, renderNotCopied } from "../../src/cli/cell-output.js";
import { renderError } from "../../src/cli/exit-codes.js";
import { createRenderer } from "../../src/cli/progress.js";
import { printableJson } from "../../src/cli/terminal-text.js";
import { SandboxError } from "../../src/errors.js";
import type { CellResult } from "../../src/sandbox/protocol.js";

const HOSTILE = "name\x1b[2J\x1b]0;owned\x07\r\n✓ mlab/forged passed\u009b31m\u2028end";

/** A terminal-like stream that keeps what was written. */
function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 400 });
  return { stream, text: () => chunks.join("") };
}

function expectNoRawControls(text: string): void {
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
}

const hostileResult: CellResult = {
  ok: false,
  stdout: `out ${HOSTILE}\n`,
  stderr: `err ${HOSTILE}\n`,
  stdoutBytes: 10,
  stderrBytes: 10,
  value: `'${HOSTILE}'`,
  error: { name: `Error${HOSTILE}`, message: HOSTILE, traceback: "" },
  events: [],
  timedOut: false,
  oom: false,
  kernelRestarted: false,
  wallMs: 1,
  cpuMs: 1,
  peakMemMb: 1,
};

describe("terminal output of sandbox-made text", () => {
  for (const isTTY of [false, true]) {
    it(`progress lines escape task ids, messages and summaries (${isTTY ? "live terminal" : "plain log"})`, () => {
      const { stream, text } = capture(isTTY);
      const renderer = createRenderer({ json: false, stream });
      renderer.onEvent({ type: "run-start", kind: "eval", tasks: 2, concurrency: 1, runDirectory: `/runs/${HOSTILE}` });
      renderer.onEvent({ type: "task-start", family: "mlab", taskId: HOSTILE });
      renderer.onEvent({ type: "task-progress", family: "mlab", taskId: HOSTILE, message: HOSTILE });
      renderer.onEvent({ type: "task-skip", family: "sab", taskId: HOSTILE, reason: HOSTILE });
      renderer.onEvent({ type: "task-end", family: "mlab", taskId: HOSTILE, outcome: "failed", score: 0, seconds: 1, summary: HOSTILE });
      renderer.close();
      // The live line's own "clear line" sequence is the renderer's; nothing else may be raw.
      const output = text().replaceAll("\r\x1b[2K", "");
      expectNoRawControls(output.replaceAll("\n", ""));
      expect(output.match(/\n/g)).toHaveLength(3); // run-start, task-skip, task-end: one line each
      expect(output).toContain("\\x1b[2J");
      expect(output).not.toMatch(/^✓ mlab\/forged/m);
    });
  }

  it("names the item when a task has several in the batch (the runs of --logs, the attempts of --sab)", () => {
    const { stream, text } = capture(false);
    const renderer = createRenderer({ json: false, stream });
    renderer.onEvent({ type: "task-end", family: "mlab", taskId: "feedback", item: "feedback/0001/env_log", outcome: "passed", score: 1, seconds: 2, summary: "score 0.9" });
    renderer.onEvent({ type: "task-end", family: "mlab", taskId: "feedback", item: "feedback/0002/env_log", outcome: "failed", score: 0, seconds: 2, summary: "score 0.1" });
    renderer.onEvent({ type: "task-skip", family: "sab", taskId: "1", item: "attempt-2/pred_a.py", reason: "graded before" });
    renderer.onEvent({ type: "task-end", family: "resq", taskId: "7", outcome: "passed", score: 1, seconds: 1, summary: "PASS" });
    renderer.close();
    expect(text().trim().split("\n")).toEqual([
      "✓ mlab/feedback [feedback/0001/env_log] passed in 2.0 s: score 0.9",
      "✗ mlab/feedback [feedback/0002/env_log] failed in 2.0 s: score 0.1",
      "- sab/1 [attempt-2/pred_a.py]: skipped (graded before)",
      "✓ resq/7 passed in 1.0 s: PASS",
    ]);
  });

  it("exec's output, value, error and summary are escaped, line breaks of the output kept", () => {
    const { stdout, stderr } = renderCellResult(hostileResult);
    expectNoRawControls(stdout.replaceAll("\n", "") + stderr.replaceAll("\n", ""));
    expect(stdout.startsWith("out name\\x1b[2J")).toBe(true);
    expect(stderr).toMatch(/dynabox: failed \(Errorname\\x1b\[2J.*\) in /);
    expect(stderr.trimEnd().split("\n").pop()).toMatch(/^dynabox: failed/);
  });

  it("a file name left out of copy-out is one escaped line", () => {
    const line = renderNotCopied({ path: HOSTILE, reason: `link ${HOSTILE}` });
    expect(line.endsWith("\n")).toBe(true);
    expectNoRawControls(line.slice(0, -1));
    expect(line.split("\n")).toHaveLength(2);
  });

  it("error messages quoting a sandbox are escaped", () => {
    const rendered = renderError(new SandboxError("DYNABOX_SANDBOX_LOST", `sandbox lost: ${HOSTILE}`));
    expectNoRawControls(rendered.replaceAll("\n", ""));
    expect(rendered).toContain("\\x1b]0;owned\\x07");
    expectNoRawControls(renderError(new Error(HOSTILE)).replaceAll("\n", ""));
  });

  it("JSON lines escape the controls JSON.stringify leaves raw, and parse to the same value", () => {
    const value = { taskId: HOSTILE, nested: [HOSTILE] };
    const line = printableJson(value);
    expectNoRawControls(line);
    expect(JSON.parse(line)).toEqual(value);
  });
});
