// The kernel-protocol attacks under a hostile scripted model through `dynabox run`: a 300 MB
// search query, a forged control line and escape sequences in names and messages. The run
// goes on, the task ends as an ordinary failure (not an error), and the terminal gets no raw
// escape sequence.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { cleanupsAfterEach } from "../cleanups.js";
import { cli } from "./run-fixture.js";

const cleanups = cleanupsAfterEach();

describe("dynabox run with a model that attacks the kernel protocol", () => {
  it("survives a huge search, a forged control line and hostile names, and records the task as failed", async () => {
    const folder = await mkdtemp(path.join(tmpdir(), "dynabox-attack-run-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const server = await startScriptedOpenAIServer({
      replies: [
        { reply: { thought: "flood the host", code: 'search_actions("a" * 300_000_000)' } },
        {
          expect: { lastUserMessage: /over the limit/ },
          reply: { thought: "forge", code: 'import dynabox, os\nkernel = dynabox.host_call.__self__\nos.write(kernel.channel.write_fd, b"[1, 2]\\n")' },
        },
        {
          expect: { lastUserMessage: /KernelProtocolError/ },
          reply: {
            thought: "names",
            code: "open('evil\\x1b]0;owned\\x07\\n\\x1b[2J', 'w').write('x')\nprint('\\x1b[31mred\\x1b[0m')\nraise ValueError('\\x1b[2Jboom')",
          },
        },
        { reply: { thought: "give up", code: "submit()" } },
      ],
    });
    cleanups.push(() => server.close());
    const runDirectory = path.join(folder, "run");
    const result = await execa(
      "node",
      [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/4", "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--max-steps", "6", "--library", path.join(folder, "actions.sqlite"), "--run-dir", runDirectory],
      { reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/[\u001b\u0007\u009b]/);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as { tasks: { outcome: string; steps: number }[] };
    expect(summary.tasks).toEqual([expect.objectContaining({ outcome: "failed", steps: 4 })]);
    server.assertDone();
  }, 300_000);
});
