import { describe, expect, it } from "vitest";
import { EXIT_PROBE, insertAtExit, insertExitProbe, randomSecret, randomTestFileName, testFeedback } from "../../src/families/resq/test-script.js";

const PROBE = EXIT_PROBE;
const GUARDED = `if exit_code is None or exit_code == 0: ${PROBE}`;

describe("insertExitProbe", () => {
  it("inserts before the first sys.exit(exit_code) with the same indentation, guarded by exit_code", () => {
    const script = ["import sys", "ok = True", "exit_code = 0 if ok else 1", "sys.exit(exit_code)", ""].join("\n");
    const { script: out, probeLine, beforeExitLine } = insertExitProbe(script);
    expect(probeLine).toBe(4);
    expect(beforeExitLine).toBe(true);
    expect(out).toBe(["import sys", "ok = True", "exit_code = 0 if ok else 1", GUARDED, "sys.exit(exit_code)", ""].join("\n"));
    const nested = insertExitProbe("def main():\n    exit_code = run()\n    sys.exit(exit_code)\n").script;
    expect(nested.split("\n")[2]).toBe(`    ${GUARDED}`);
  });

  it("uses the first match only, and keeps nested indentation", () => {
    const script = [
      "import sys",
      "def main():",
      "    if failed():",
      "        sys.exit(1)",
      "    if ok:",
      "\t\tsys.exit(0)",
      "    sys.exit(exit_code)",
      "sys.exit(0)",
    ].join("\n");
    const { script: out, probeLine } = insertExitProbe(script);
    const lines = out.split("\n");
    expect(lines[5]).toBe(`\t\t${PROBE}`);
    expect(lines[6]).toBe("\t\tsys.exit(0)");
    expect(probeLine).toBe(6);
    expect(lines.filter((line) => line.includes(PROBE))).toHaveLength(1);
  });

  it("ignores sys.exit(1), other arguments and commented-out exits", () => {
    const script = ["import sys", "# sys.exit(0) would be wrong here", "sys.exit(1 if bad else 2)", "    sys.exit( 0 )"].join("\n");
    const result = insertExitProbe(script);
    expect(result.probeLine).toBe(4);
    expect(result.script.split("\n")[3]).toBe(`    ${PROBE}`);
  });

  it("inserts no probe when upstream's insert_secret finds no line: as upstream, such a test can never pass", () => {
    for (const script of ["import sys\nprint('hi')\n", "print('no newline')", "", "import sys\nsys.exit( 0 )\n", "sys.exit(main())\n"]) {
      expect(insertExitProbe(script)).toEqual({ script, probeLine: 0, beforeExitLine: false });
    }
    // insertAtExit itself (any statement) still appends when asked.
    expect(insertAtExit("a\r\nb\r\n", "X")).toMatchObject({ script: "a\r\nb\r\nX\r\n", probeLine: 3 });
  });

  it("puts the probe at a comment naming the exit, unguarded, when no code line exits (upstream prints its secret there)", () => {
    const script = ["import sys", "# ends with sys.exit(exit_code) below", "ok = check()", "sys.exit(main())", ""].join("\n");
    expect(insertExitProbe(script)).toEqual({
      script: ["import sys", PROBE, "# ends with sys.exit(exit_code) below", "ok = check()", "sys.exit(main())", ""].join("\n"),
      probeLine: 2,
      beforeExitLine: true,
    });
    expect(insertExitProbe("def f():\r\n    # sys.exit(0)\r\n    pass\r\n").script).toBe(`def f():\r\n    ${PROBE}\r\n    # sys.exit(0)\r\n    pass\r\n`);
  });

  it("keeps CRLF line endings", () => {
    const out = insertExitProbe("import sys\r\nsys.exit(0)\r\n").script;
    expect(out).toBe(`import sys\r\n${PROBE}\r\nsys.exit(0)\r\n`);
  });

  it("matches every bundled test script's exit line", async () => {
    const { readFile } = await import("node:fs/promises");
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { test_script: string }[];
    for (const row of rows) {
      const { script, probeLine, beforeExitLine } = insertExitProbe(row.test_script);
      expect(beforeExitLine).toBe(true);
      const lines = script.split("\n");
      expect(lines[probeLine - 1]).toContain(PROBE);
      expect(lines[probeLine]).toBe("sys.exit(exit_code)");
    }
  });
});

describe("secrets, names and feedback", () => {
  it("makes fresh 32-hex secrets and fresh upstream-shaped test file names", () => {
    const secrets = new Set(Array.from({ length: 50 }, randomSecret));
    expect(secrets.size).toBe(50);
    for (const secret of secrets) expect(secret).toMatch(/^[0-9a-f]{32}$/);
    expect(randomTestFileName()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.py$/);
    expect(randomTestFileName()).not.toBe(randomTestFileName());
  });

  it("hides a secret in the feedback and caps its length, keeping head and tail", () => {
    const secret = randomSecret();
    expect(testFeedback(`ok\n${secret}\n`, "warn\n", { secret })).toBe("ok\n<secret>\nwarn\n");
    const long = testFeedback("a".repeat(5000) + "END", "", { limit: 1000 });
    expect(long.length).toBeLessThan(1100);
    expect(long.startsWith("aaa")).toBe(true);
    expect(long.endsWith("END")).toBe(true);
    expect(long).toContain("characters cut");
  });
});
