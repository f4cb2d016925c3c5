import { describe, expect, it } from "vitest";
import { sandbox } from "./sandbox-fixture.js";

describe("the kernel protocol", () => {
  it("keeps state across cells and returns the last expression's value", async () => {
    const box = await sandbox();
    const first = await box.exec("import math\nx = 40\nprint('hello')");
    expect(first).toMatchObject({ ok: true, stdout: "hello\n", value: null, error: null, kernelRestarted: false });
    const second = await box.exec("x += 2\nmath.sqrt(x * x)");
    expect(second.ok).toBe(true);
    expect(second.value).toBe("42.0");
    expect(second.wallMs).toBeGreaterThan(0);
    expect(second.cpuMs).not.toBeNull();
    expect(second.peakMemMb).toBeGreaterThan(1);
  });

  it("returns errors with a traceback that points at the user's line", async () => {
    const box = await sandbox();
    const result = await box.exec("def f(n):\n    return 1 / n\n\nf(0)");
    expect(result.ok).toBe(false);
    expect(result.error?.name).toBe("ZeroDivisionError");
    expect(result.error?.traceback).toContain("return 1 / n");
    expect(result.error?.traceback).not.toContain("worker.py");
    const syntax = await box.exec("def broken(:\n  pass");
    expect(syntax.error?.name).toBe("SyntaxError");
    expect((await box.exec("f")).ok).toBe(true);
  });

  it("keeps head and tail of long output, counts every byte, and replaces invalid UTF-8", async () => {
    const box = await sandbox();
    const result = await box.exec(
      "import sys, os\nsys.stdout.write('A' * 100000 + 'END')\nsys.stdout.flush()\nos.write(2, b'bad \\xff\\xfe bytes')",
      { outputLimitBytes: 1000 },
    );
    expect(result.stdoutBytes).toBe(100003);
    expect(result.stdout.startsWith("A".repeat(500))).toBe(true);
    expect(result.stdout.endsWith("END")).toBe(true);
    expect(result.stdout).toContain("bytes omitted by dynabox");
    expect(result.stdout.length).toBeLessThan(1200);
    expect(result.stderr).toBe("bad \uFFFD\uFFFD bytes");
  });

  it("interrupts a cell at its timeout and keeps the kernel's state", async () => {
    const box = await sandbox();
    await box.exec("kept = 'yes'");
    const result = await box.exec("import time\ntime.sleep(30)", { timeoutSeconds: 1 });
    expect(result).toMatchObject({ ok: false, timedOut: true, kernelRestarted: false });
    expect(result.error?.name).toBe("TimeoutError");
    expect(result.wallMs).toBeLessThan(5000);
    expect((await box.exec("kept")).value).toBe("'yes'");
  });

  it("restarts the kernel on request: variables go, files stay", async () => {
    const box = await sandbox();
    await box.exec("gone = 1\nopen('kept.txt', 'w').write('file')");
    await box.restartKernel();
    const after = await box.exec("gone");
    expect(after.error?.name).toBe("NameError");
    expect((await box.exec("open('kept.txt').read()")).value).toBe("'file'");
  });

  it("answers host calls from sandbox code, including failures and unknown names", async () => {
    const box = await sandbox();
    const seen: unknown[] = [];
    box.setHostCall("add", (args) => {
      seen.push(args);
      const { a, b } = args as { a: number; b: number };
      return { sum: a + b };
    });
    box.setHostCall("fail", () => {
      throw new Error("nope");
    });
    const result = await box.exec("import dynabox\ndynabox.host_call('add', {'a': 2, 'b': 3})['sum']");
    expect(result.value).toBe("5");
    expect(seen).toEqual([{ a: 2, b: 3 }]);
    const failed = await box.exec("import dynabox\ndynabox.host_call('fail')");
    expect(failed.error?.message).toContain("nope");
    const unknown = await box.exec("import dynabox\ndynabox.host_call('missing')");
    expect(unknown.error?.message).toContain("no host call named");
  });

  it("attaches events emitted by sandbox code to the cell's result", async () => {
    const box = await sandbox();
    const result = await box.exec("import dynabox\ndynabox.emit('submit', {'answer': 42})\n'done'");
    expect(result.events).toEqual([{ name: "submit", payload: { answer: 42 } }]);
    expect((await box.exec("1")).events).toEqual([]);
  });

  it("runs shell commands as results, whatever their exit code, with a timeout", async () => {
    const box = await sandbox();
    const result = await box.shell("echo out; echo err >&2; pwd; exit 7");
    expect(result).toMatchObject({ exitCode: 7, stdout: "out\n/workspace\n", stderr: "err\n", timedOut: false });
    const slow = await box.shell("sleep 30", { timeoutSeconds: 1 });
    expect(slow.timedOut).toBe(true);
    expect(slow.wallMs).toBeLessThan(5000);
    expect((await box.shell("echo $GREETING", { env: { GREETING: "hi" } })).stdout).toBe("hi\n");
  });

  it("stops a cell when the caller aborts, and stays usable", async () => {
    const box = await sandbox();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 300);
    await expect(box.exec("import time\ntime.sleep(30)", { signal: controller.signal })).rejects.toThrow("stop");
    expect((await box.exec("2 + 2")).value).toBe("4");
  });
});
