// Attacks on the kernel protocol itself (issue 7, items 5, 6 and 8): oversized host calls,
// events and control lines; forged control messages from the cell, from its children and from
// other processes through /proc; and the engine's log as a way to fill the host disk.
// Each asserts that the hostile sandbox gets a clear error, the process and every other
// sandbox go on, and the same sandbox then runs a normal cell.

import { describe, expect, it } from "vitest";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { sandbox } from "./sandbox-fixture.js";

const HUGE = 300_000_000; // past the 256 MiB where a line used to throw out of the stream listener

async function expectHealthy(box: Sandbox): Promise<void> {
  expect(await box.exec("sum(range(10))")).toMatchObject({ ok: true, value: "45", error: null });
  await box.kernel.ping();
}

/** Python that writes `line` (a Python bytes expression, `ID` standing for the cell id) into the worker's control pipe. */
function writeControlLine(line: string): string {
  return [
    "import dynabox, os",
    "kernel = dynabox.host_call.__self__",
    "ID = kernel.cell_id.encode()",
    `os.write(kernel.channel.write_fd, ${line} + b"\\n")`,
    "'written'",
  ].join("\n");
}

describe("attacks on the kernel protocol", () => {
  it("5: 300 MB host-call arguments, events and raw control lines end only that cell; a concurrent sandbox completes every step", async () => {
    const [honest, hostile] = await Promise.all([sandbox(), sandbox({ limits: { memoryMb: 4096 } })]);
    const calls: unknown[] = [];
    hostile.setHostCall("search_actions", (args) => {
      calls.push(args);
      return [];
    });

    const steps = 40;
    const honestRun = (async () => {
      await honest.exec("x = 0");
      for (let step = 0; step < steps; step++) {
        const result = await honest.exec("import time\ntime.sleep(0.05)\nx += 1\nx", { timeoutSeconds: 20 });
        expect(result).toMatchObject({ ok: true, kernelRestarted: false });
      }
      return (await honest.exec("x")).value;
    })();

    const viaHostCall = await hostile.exec(
      `import dynabox\ndynabox.host_call("search_actions", {"query": "a" * ${HUGE}})`,
      { timeoutSeconds: 120 },
    );
    expect(viaHostCall.ok).toBe(false);
    expect(viaHostCall.error?.message).toMatch(/over the limit/);
    await expectHealthy(hostile);

    const viaEvent = await hostile.exec(`import dynabox\ndynabox.emit("submit", "a" * ${HUGE})`, { timeoutSeconds: 120 });
    expect(viaEvent.ok).toBe(false);
    expect(viaEvent.error?.message).toMatch(/over the limit/);
    expect(viaEvent.events).toEqual([]);
    await expectHealthy(hostile);

    // Past the worker's own checks: a raw line straight into the control pipe.
    const rawCall = await hostile.exec(
      writeControlLine(`b'{"type":"call","id":"' + ID + b'","name":"search_actions","args":{"query":"' + b"a" * ${HUGE} + b'"}}'`),
      { timeoutSeconds: 120 },
    );
    expect(rawCall).toMatchObject({ ok: false, kernelRestarted: true });
    expect(rawCall.error?.name).toBe("KernelProtocolError");
    expect(rawCall.error?.message).toMatch(/over \d+ bytes/);
    await expectHealthy(hostile);

    // Under the line cap but over the events cap: the events are dropped, the cell says why.
    const rawEvents = await hostile.exec(
      writeControlLine(
        `b'{"type":"done","id":"' + ID + b'","value":null,"error":null,"events":[{"name":"submit","payload":"' + b"a" * 10_000_000 + b'"}],"cpu_ms":1,"peak_mem_mb":1}'`,
      ),
      { timeoutSeconds: 60 },
    );
    expect(rawEvents.ok).toBe(false);
    expect(rawEvents.events).toEqual([]);
    expect(rawEvents.error?.name).toBe("DynaboxLimitError");

    // Small in bytes, but many values: costly to parse on the host, so capped too.
    const manyValues = await hostile.exec(`import dynabox\ndynabox.emit("submit", [0] * 100_000)`);
    expect(manyValues.ok).toBe(false);
    expect(manyValues.error?.message).toMatch(/JSON values, over the limit/);
    const rawValues = await hostile.exec(
      writeControlLine(`b'{"type":"done","id":"' + ID + b'","value":null,"error":null,"events":[{"name":"submit","payload":[' + b"0," * 100_000 + b'0]}],"cpu_ms":1,"peak_mem_mb":1}'`),
    );
    expect(rawValues).toMatchObject({ ok: false, events: [], error: { name: "DynaboxLimitError" } });

    expect(calls).toEqual([]);
    expect(await honestRun).toBe(String(steps));
    expect(honest.isAlive).toBe(true);
    expect(hostile.isAlive).toBe(true);
    await expectHealthy(hostile);
  });

  it("6: forged control lines from the cell are the worker's fault: it is replaced, the supervisor lives", async () => {
    const box = await sandbox();
    const forgeries = [
      "b'[1, 2]'",
      "b'\"text\"'",
      "b'null'",
      "b'not json at all'",
      "b'{\"type\": \"nonsense\"}'",
      "b'{\"type\": \"done\"}'",
      "b'{\"type\":\"done\",\"id\":\"' + ID + b'\",\"error\":\"a string\"}'",
      "b'{\"type\":\"done\",\"id\":\"' + ID + b'\",\"error\":{\"name\":1,\"message\":\"m\",\"traceback\":\"\"}}'",
      "b'{\"type\":\"done\",\"id\":\"' + ID + b'\",\"events\":\"not a list\"}'",
      "b'{\"type\":\"done\",\"id\":\"' + ID + b'\",\"events\":[7]}'",
      "b'{\"type\":\"done\",\"id\":\"' + ID + b'\",\"value\":{\"a\":1}}'",
      "b'{\"type\":\"call\",\"id\":\"' + ID + b'\",\"name\":5}'",
      "b'[' * 100000 + b']' * 100000",
    ];
    for (const forgery of forgeries) {
      await box.exec("remembered = True");
      const result = await box.exec(writeControlLine(forgery), { timeoutSeconds: 10 });
      expect(result, forgery).toMatchObject({ ok: false, kernelRestarted: true });
      expect(result.error?.name, forgery).toBe("KernelProtocolError");
      expect((await box.exec("remembered")).error?.name).toBe("NameError");
      await expectHealthy(box);
    }
    // Garbage in the worker's own input pipe (reopened for writing through /proc/self/fd) is not
    // a message: skipped, the state kept.
    await box.exec("remembered = True");
    const intoInput = await box.exec(
      [
        "import dynabox, os",
        "read_fd = dynabox.host_call.__self__.channel.reader.fileno()",
        "fd = os.open(f'/proc/self/fd/{read_fd}', os.O_WRONLY)",
        "os.write(fd, b'[1]\\n\"text\"\\nnot json\\n')",
        "os.close(fd)",
        "'written'",
      ].join("\n"),
    );
    expect(intoInput.value).toBe("'written'");
    expect(await box.exec("remembered")).toMatchObject({ ok: true, value: "True", kernelRestarted: false });
    // NaN is not JSON: the host could not parse it and would wait until the cell's deadline.
    const notANumber = await box.exec(
      writeControlLine(
        `b'{"type":"done","id":"' + ID + b'","value":"1","error":null,"events":[{"name":"n","payload":NaN}],"cpu_ms":Infinity,"peak_mem_mb":1}'`,
      ),
      { timeoutSeconds: 10 },
    );
    expect(notANumber).toMatchObject({ ok: true, value: "1", cpuMs: null, events: [{ name: "n", payload: null }] });
    // A second host call while one waits is refused the same way.
    box.setHostCall("slow", () => new Promise((resolve) => setTimeout(() => resolve("late"), 2000)));
    const doubled = await box.exec(
      [
        "import dynabox, json, os",
        "kernel = dynabox.host_call.__self__",
        "line = json.dumps({'type': 'call', 'id': kernel.cell_id, 'name': 'slow', 'args': None}) + '\\n'",
        "os.write(kernel.channel.write_fd, (line + line).encode())",
        "kernel.channel.receive()",
      ].join("\n"),
      { timeoutSeconds: 10 },
    );
    expect(doubled).toMatchObject({ ok: false, kernelRestarted: true });
    expect(doubled.error?.message).toMatch(/second host call/);
    await expectHealthy(box);
    expect(box.kernel.invalidMessages).toBe(0);
  });

  it("6: a child of the cell that forges a control line after the cell ended costs the kernel's state, never the supervisor", async () => {
    const box = await sandbox();
    const started = await box.exec(
      [
        "import dynabox, os, time",
        "fd = dynabox.host_call.__self__.channel.write_fd",
        "if os.fork() == 0:",
        "    time.sleep(1)",
        "    os.write(fd, b'[\"forged\"]\\n')",
        "    os._exit(0)",
        "remembered = True",
        "'forked'",
      ].join("\n"),
    );
    expect(started.value).toBe("'forked'");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const next = await box.exec("'after'");
    expect(next).toMatchObject({ ok: true, value: "'after'", kernelRestarted: true });
    expect(next.stderr).toMatch(/broke dynabox's protocol/);
    expect((await box.exec("remembered")).error?.name).toBe("NameError");
    await expectHealthy(box);
  });

  it("6: a kernel that can not start (a .pth planted in the user's own site folder) answers cells with an error, never hangs", async () => {
    const box = await sandbox();
    const planted = await box.exec(
      "import os, site\nfolder = site.getusersitepackages()\nos.makedirs(folder, exist_ok=True)\nopen(os.path.join(folder, 'zz.pth'), 'w').write('import os; os._exit(3)\\n')",
    );
    expect(planted.ok).toBe(true);
    const died = await box.exec("import os\nos._exit(1)", { timeoutSeconds: 10 });
    expect(died).toMatchObject({ ok: false, kernelRestarted: true });
    const refused = await box.exec("1 + 1", { timeoutSeconds: 10 });
    expect(refused).toMatchObject({ ok: false, kernelRestarted: true });
    expect(refused.error?.message).toMatch(/before it was ready/);
    // Shell commands still work; without the file the kernel comes back.
    expect((await box.shell("rm /tmp/.local/lib/python3*/site-packages/zz.pth", { timeoutSeconds: 10 })).exitCode).toBe(0);
    await expectHealthy(box);
  });

  it("6: other processes can not open the worker's pipes through /proc", async () => {
    const box = await sandbox();
    await box.exec("remembered = True");
    const probe = [
      "import os",
      "needle = b'/opt/dynabox/' + b'worker.py'",
      "worker = next(p for p in os.listdir('/proc') if p.isdigit() and needle in open(f'/proc/{p}/cmdline', 'rb').read())",
      "opened = []",
      "try:",
      "    names = os.listdir(f'/proc/{worker}/fd')",
      "except OSError:",
      "    names = [str(n) for n in range(3, 16)]",
      "for name in names:",
      "    try:",
      "        fd = os.open(f'/proc/{worker}/fd/{name}', os.O_WRONLY | os.O_NONBLOCK)",
      "    except OSError:",
      "        continue",
      "    try:",
      "        os.write(fd, b'[1]\\n')",
      "        opened.append(name)",
      "    except OSError:",
      "        pass",
      "    os.close(fd)",
      "print(len(opened))",
    ].join("\n");
    await box.putFiles([{ path: "probe.py", content: probe }]);
    const result = await box.shell("python3 probe.py", { timeoutSeconds: 20 });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("0");
    // Nothing reached the worker or the supervisor: the state is still there.
    expect(await box.exec("remembered")).toMatchObject({ ok: true, value: "True", kernelRestarted: false });
    await expectHealthy(box);
  });

  it("8: no engine log: the log driver is none and a flood of protocol lines leaves no log file", async () => {
    const box = await sandbox();
    for (let cell = 0; cell < 35; cell++) {
      const result = await box.exec(`import dynabox\ndynabox.emit("bulk", "x" * 900_000)\nprint("y" * 60_000)`);
      expect(result.ok).toBe(true);
    }
    const details = await box.container.inspect();
    expect(details.HostConfig.LogConfig).toMatchObject({ Type: "none" });
    expect(details.LogPath).toBe("");
    await expect(box.container.logs({ stdout: true, stderr: true })).rejects.toThrow();
    await expectHealthy(box);
  });
});
