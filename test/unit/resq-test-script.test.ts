import { describe, expect, it } from "vitest";
import { judgeTestRun } from "../../src/grading/resq.js";
import { insertSecretPrint, randomSecret, randomTestFileName, testFeedback, testRunPassed } from "../../src/grading/test-script.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const PRINT = `print("${SECRET}", flush=True)`;
const GUARDED = `if exit_code is None or exit_code == 0: ${PRINT}`;

describe("insertSecretPrint", () => {
  it("inserts before the first sys.exit(exit_code) with the same indentation, guarded by exit_code", () => {
    const script = ["import sys", "ok = True", "exit_code = 0 if ok else 1", "sys.exit(exit_code)", ""].join("\n");
    const { script: out, insertedAtLine } = insertSecretPrint(script, SECRET);
    expect(insertedAtLine).toBe(3);
    expect(out).toBe(["import sys", "ok = True", "exit_code = 0 if ok else 1", GUARDED, "sys.exit(exit_code)", ""].join("\n"));
    const nested = insertSecretPrint("def main():\n    exit_code = run()\n    sys.exit(exit_code)\n", SECRET).script;
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
    const lines = insertSecretPrint(script, SECRET).script.split("\n");
    expect(lines[5]).toBe(`\t\t${PRINT}`);
    expect(lines[6]).toBe("\t\tsys.exit(0)");
    expect(lines.filter((line) => line.includes(SECRET))).toHaveLength(1);
  });

  it("ignores sys.exit(1), other arguments and commented-out exits", () => {
    const script = ["import sys", "# sys.exit(0) would be wrong here", "sys.exit(1 if bad else 2)", "    sys.exit( 0 )"].join("\n");
    const result = insertSecretPrint(script, SECRET);
    expect(result.insertedAtLine).toBe(3);
    expect(result.script.split("\n")[3]).toBe(`    ${PRINT}`);
  });

  it("appends the print at the end, at top level, when there is no such line", () => {
    expect(insertSecretPrint("import sys\nprint('hi')\n", SECRET)).toEqual({
      script: `import sys\nprint('hi')\n${PRINT}\n`,
      insertedAtLine: null,
    });
    expect(insertSecretPrint("print('no newline')", SECRET).script).toBe(`print('no newline')\n${PRINT}\n`);
    expect(insertSecretPrint("", SECRET).script).toBe(`${PRINT}\n`);
  });

  it("keeps CRLF line endings", () => {
    const out = insertSecretPrint("import sys\r\nsys.exit(0)\r\n", SECRET).script;
    expect(out).toBe(`import sys\r\n${PRINT}\r\nsys.exit(0)\r\n`);
  });

  it("matches every bundled test script's exit line", async () => {
    const { readFile } = await import("node:fs/promises");
    const rows = JSON.parse(await readFile("tasks/resq/dataset.json", "utf8")) as { test_script: string }[];
    for (const row of rows) {
      const { script, insertedAtLine } = insertSecretPrint(row.test_script, SECRET);
      expect(insertedAtLine).not.toBeNull();
      expect(script.split("\n")[(insertedAtLine ?? 0) + 1]).toBe("sys.exit(exit_code)");
    }
  });

  it("refuses a secret that could break out of the Python string", () => {
    expect(() => insertSecretPrint("x", 'a"); import os; ("')).toThrow(RangeError);
  });
});

describe("secrets, names and verdicts", () => {
  it("makes fresh 32-hex secrets and fresh test file names", () => {
    const secrets = new Set(Array.from({ length: 50 }, randomSecret));
    expect(secrets.size).toBe(50);
    for (const secret of secrets) expect(secret).toMatch(/^[0-9a-f]{32}$/);
    expect(randomTestFileName()).toMatch(/^test_dynabox_[0-9a-f]{24}\.py$/);
    expect(randomTestFileName()).not.toBe(randomTestFileName());
  });

  it("passes only on exit 0 with the secret on stdout", () => {
    expect(testRunPassed(0, `x\n${SECRET}\n`, SECRET)).toBe(true);
    expect(testRunPassed(0, "PASS\n", SECRET)).toBe(false);
    expect(testRunPassed(1, `${SECRET}\n`, SECRET)).toBe(false);
    expect(testRunPassed(null, `${SECRET}\n`, SECRET)).toBe(false);
    expect(judgeTestRun({ exitCode: 0, stdout: SECRET, timedOut: false }, SECRET)).toBe("PASS");
    expect(judgeTestRun({ exitCode: 0, stdout: "PASS", timedOut: false }, SECRET)).toBe("FAIL");
    expect(judgeTestRun({ exitCode: null, stdout: SECRET, timedOut: true }, SECRET)).toBe("TIMED OUT");
  });

  it("hides the secret in the feedback and caps its length, keeping head and tail", () => {
    expect(testFeedback(`ok\n${SECRET}\n`, "warn\n", { secret: SECRET })).toBe("ok\n<secret>\nwarn\n");
    const long = testFeedback("a".repeat(5000) + "END", "", { limit: 1000 });
    expect(long.length).toBeLessThan(1100);
    expect(long.startsWith("aaa")).toBe(true);
    expect(long.endsWith("END")).toBe(true);
    expect(long).toContain("characters cut");
  });
});
