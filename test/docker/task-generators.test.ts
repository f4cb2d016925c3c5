// The bundled tasks are generated, not hand-edited: each generator, run in the sandbox image
// on a copy without its outputs, writes exactly the committed files (sab, resq); mlab's
// prepare.py, whose output is not committed, writes the same bytes in two fresh sandboxes.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sandbox } from "./sandbox-fixture.js";

type Digests = Record<string, string>;

function digests(files: Map<string, Buffer>, keep: (file: string) => boolean): Digests {
  const entries = [...files.entries()]
    .filter(([file]) => keep(file) && !file.includes("__pycache__"))
    .map(([file, content]) => [file, createHash("sha256").update(content).digest("hex")] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  return Object.fromEntries(entries);
}

/** Copies tasks/<family> into a fresh sandbox, removes `outputs`, runs `command`, reads the result. */
async function generate(family: string, outputs: string[], command: string): Promise<{ before: Map<string, Buffer>; after: Map<string, Buffer> }> {
  const box = await sandbox();
  await box.putDirectory(`tasks/${family}`, "/workspace");
  const before = await box.readFiles("/workspace");
  const run = await box.shell(`rm -rf ${outputs.join(" ")} && ${command}`, { timeoutSeconds: 120 });
  expect(run.exitCode, run.stderr).toBe(0);
  return { before, after: await box.readFiles("/workspace") };
}

describe("the bundled tasks' generators", () => {
  it("sab/generate.py writes exactly the committed datasets and gold results", async () => {
    const generated = (file: string): boolean => file.startsWith("benchmark/datasets/") || file.startsWith("benchmark/eval_programs/gold_results/");
    const { before, after } = await generate("sab", ["benchmark/datasets", "benchmark/eval_programs/gold_results"], "python3 generate.py");
    expect(Object.keys(digests(after, generated)).length).toBeGreaterThan(4);
    expect(digests(after, generated)).toEqual(digests(before, generated));
  });

  it("resq/build.py writes exactly the committed dataset and repository bundles", async () => {
    const generated = (file: string): boolean => file === "dataset.json" || file.startsWith("repos/");
    const { before, after } = await generate("resq", ["dataset.json", "repos"], "python3 build.py");
    expect(Object.keys(digests(after, generated))).toContain("dataset.json");
    expect(digests(after, generated)).toEqual(digests(before, generated));
  });

  it("every mlab prepare.py writes the same bytes in two fresh sandboxes", async () => {
    const prepareAll = "for task in */; do (cd \"$task/scripts\" && python3 prepare.py > /dev/null) || exit 1; done";
    const [first, second] = await Promise.all([generate("mlab", ["*/scripts/prepared"], prepareAll), generate("mlab", ["*/scripts/prepared"], prepareAll)]);
    const once = digests(first!.after, () => true);
    expect(Object.keys(once).filter((file) => file.endsWith("answer.csv"))).toHaveLength(4);
    expect(Object.keys(once).filter((file) => file.endsWith("/env/train.csv")).length).toBeGreaterThanOrEqual(3);
    expect(digests(second!.after, () => true)).toEqual(once);
  });
});
