// Exhausting file descriptors: sandbox code opening files without end stops at the profile's
// open-files cap (OPEN_FILES_LIMIT), not at the engine's (20000 or 1048576), and the sandbox then
// works normally. Fails without the profile's nofile ulimit.

import { describe, expect, it } from "vitest";
import { OPEN_FILES_LIMIT } from "../../src/sandbox/profile.js";
import { sandbox } from "./sandbox-fixture.js";

describe("open files", () => {
  it("sandbox code that opens files without end stops at the open-files cap", async () => {
    const box = await sandbox();
    const result = await box.exec(
      [
        "import os, resource",
        "handles = []",
        "try:",
        "    while True:",
        "        handles.append(os.open('/dev/null', os.O_RDONLY))",
        "except OSError as error:",
        "    reached = (len(handles), error.errno)",
        "for handle in handles:",
        "    os.close(handle)",
        "(reached, resource.getrlimit(resource.RLIMIT_NOFILE))",
      ].join("\n"),
      { timeoutSeconds: 60 },
    );
    expect(result.ok).toBe(true);
    const [[opened, errno], [soft, hard]] = JSON.parse(result.value!.replace(/\(/g, "[").replace(/\)/g, "]")) as [[number, number], [number, number]];
    expect([soft, hard]).toEqual([OPEN_FILES_LIMIT, OPEN_FILES_LIMIT]);
    expect(errno).toBe(24); // EMFILE
    expect(opened).toBeLessThan(OPEN_FILES_LIMIT);
    expect(opened).toBeGreaterThan(OPEN_FILES_LIMIT - 64);
    expect((await box.exec("sum(range(10))")).value).toBe("45");
  });
});
