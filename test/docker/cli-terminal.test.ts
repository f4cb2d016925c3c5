// Sandbox-made names and messages on dynabox's own terminal output, end to end through the
// built CLI: nothing the sandbox makes reaches the terminal as a raw escape sequence.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const cli = path.resolve("dist/cli/main.js");

describe("dynabox exec with hostile names", () => {
  it("escapes file names left out of copy-out, the cell's output and its error", async () => {
    const outside = await mkdtemp(path.join(tmpdir(), "dynabox-terminal-"));
    try {
      const code = [
        "import os",
        "name = 'red\\x1b[31m\\nline\\x1b]0;owned\\x07'",
        "open(name, 'w').write('x')",
        "os.symlink('/etc/passwd', 'link\\x1b[2J\\n\\u009b1m')",
        "print(sorted(os.listdir('.')), name)",
        "raise ValueError(name)",
      ].join("\n");
      const result = await execa("node", [cli, "exec", "--copy-out", path.join(outside, "out"), "-c", code], { reject: false });
      expect(result.exitCode).toBe(1);
      const output = result.stdout + result.stderr;
      expect(output).not.toMatch(/[\u001b\u0007\u009b]/);
      expect(result.stderr).toMatch(/not copied out: \S*link\\x1b\[2J\\x0a\\x9b1m \(/);
      expect(result.stdout).toContain("red\\x1b[31m");
      expect(result.stderr).toContain("ValueError: red\\x1b[31m");
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
