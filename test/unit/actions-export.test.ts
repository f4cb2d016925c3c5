import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { boundNames, commentText, exportModule, pythonString } from "../../src/actions/export.js";
import { definitionCode, definitionPlan, lookupIn, resolveDependencies } from "../../src/actions/load.js";
import { extractionCell, toAnalysis } from "../../src/actions/extract.js";
import { normalHash } from "../../src/actions/normalize.js";
import { TaskLibrary } from "../../src/actions/promote.js";
import { ActionStore } from "../../src/actions/store.js";
import type { LibraryAction } from "../../src/actions/types.js";
import { DynaboxError } from "../../src/errors.js";

const run = promisify(execFile);
const directories: string[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** Parses Python with the host's python3 (ast only: nothing is run). */
async function pythonParses(code: string): Promise<void> {
  const directory = await mkdtemp(path.join(tmpdir(), "dynabox-export-"));
  directories.push(directory);
  const file = path.join(directory, "module.py");
  await writeFile(file, code);
  await run("python3", ["-c", "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read())", file]);
}

/** What the host's python3 makes of a Python expression (as JSON). */
async function pythonValue(expression: string): Promise<unknown> {
  const { stdout } = await run("python3", ["-c", "import ast, json, sys; print(json.dumps(ast.literal_eval(sys.argv[1])))", expression]);
  return JSON.parse(stdout) as unknown;
}

let nextId = 1;
function action(name: string, extra: Partial<LibraryAction> = {}): LibraryAction {
  return {
    id: nextId++,
    name,
    version: 1,
    status: "promoted",
    isAsync: false,
    signature: `${name}()`,
    docstring: "",
    source: `def ${name}():\n    # keeps its comment\n    return ${JSON.stringify(name)}`,
    imports: [],
    dependencies: [],
    freeNames: [],
    normalHash: normalHash(name),
    runId: "run-1",
    taskId: "task-1",
    step: 2,
    createdAt: "2025-01-01T00:00:00.000Z",
    promotedAt: "2025-01-01T00:00:00.000Z",
    uses: 0,
    successes: 0,
    failures: 0,
    ...extra,
  };
}

describe("dependency resolution", () => {
  it("adds what the actions need, transitively, dependencies first", () => {
    const top = action("report", { dependencies: ["summarize"], freeNames: ["load_csv", "CONSTANT"] });
    const summarize = action("summarize", { dependencies: ["median", "gone"] });
    const median = action("median");
    const load = action("load_csv");
    const library = [top, summarize, median, load, action("unrelated")];
    const { ordered, missing } = resolveDependencies([top], lookupIn(library));
    expect(ordered.map((each) => each.name)).toEqual(["median", "summarize", "load_csv", "report"]);
    expect(missing).toEqual(["gone"]);
  });

  it("survives mutual recursion", () => {
    const even = action("is_even", { dependencies: ["is_odd"] });
    const odd = action("is_odd", { dependencies: ["is_even"] });
    expect(resolveDependencies([even], lookupIn([even, odd])).ordered.map((each) => each.name)).toEqual(["is_odd", "is_even"]);
  });
});

describe("python out of the library", () => {
  it("writes a loader cell that is valid Python and carries the sources verbatim", async () => {
    const tricky = action("tricky", {
      source: 'def tricky(x="\\"quoted\\" \\\\ back"):\n    """Doc with \'\'\' and \\u00e9 é and ${}."""\n    return x',
      imports: ["import pandas as pd", "from __future__ import annotations"],
    });
    const code = definitionCode([tricky, action("plain", { dependencies: ["tricky"] })]);
    await pythonParses(code);
    expect(code).toContain("_dynabox_define_actions");
    expect(code).toContain("del _dynabox_define_actions");
    const literal = /loads\(("(?:[^"\\]|\\.)*")\)/.exec(code)?.[1];
    const payload = JSON.parse((await pythonValue(literal!)) as string) as { name: string; source: string; needs: string[] }[];
    expect(payload.map((entry) => entry.name)).toEqual(["tricky", "plain"]);
    expect(payload[0]?.source).toBe(tricky.source);
    expect(payload[1]?.needs).toEqual(["tricky"]);
    expect(definitionCode([])).toBe("");
  });

  it("leaves out of the loader cell actions whose stored name, imports or references break the rule", () => {
    const plan = definitionPlan([
      action("fine"),
      action("bad\nname", { source: "def x():\n    pass" }),
      action("bad_import", { imports: ["import os; os.system('id')"] }),
      action("shadows", { imports: ["from operator import add as len"] }),
      action("odd_reference", { dependencies: ["a b"] }),
    ]);
    expect([...plan.versions.keys()]).toEqual(["fine"]);
    expect(plan.refused.map((entry) => entry.name)).toEqual(["bad\nname", "bad_import", "shadows", "odd_reference"]);
  });

  it("exports one valid module that defines the actions, dependency order, with a provenance header", async () => {
    const load = action("load_csv", { imports: ["import csv", "import os"], version: 3, uses: 4, successes: 3, failures: 1 });
    const summary = action("summarize", {
      imports: ["import csv", "from collections import Counter as C", "from __future__ import annotations"],
      dependencies: ["load_csv"],
      freeNames: ["THRESHOLD"],
    });
    const clash = action("clash", { imports: ["from cmath import sqrt"] });
    const other = action("other", { imports: ["from math import sqrt"] });
    const module = exportModule([summary, load, clash, other], { library: "/lib.sqlite", generatedAt: new Date("2025-02-03T04:05:06Z") });
    await pythonParses(module);
    expect(module).toMatch(/^[\x20-\x7e\n]*$/); // printable ASCII only
    expect(module).toContain("# generated 2025-02-03T04:05:06.000Z from /lib.sqlite: 4 action(s)");
    expect(module).toContain("# load_csv v3: from task task-1 (run run-1, step 2); used in 4 task(s), 3 passed, 1 failed");
    expect(module).toContain("#   summarize: THRESHOLD");
    expect(module).toContain("# warning: sqrt is imported in 2 different ways");
    const directory = await mkdtemp(path.join(tmpdir(), "dynabox-export-"));
    directories.push(directory);
    await writeFile(path.join(directory, "exported.py"), module);
    const { stdout, stderr } = await run(
      "python3",
      ["-W", "always", "-c", "import exported, inspect; print(exported.__all__, exported.load_csv(), exported.summarize(), inspect.getsource(exported.load_csv).splitlines()[1].strip())"],
      { cwd: directory },
    );
    expect(stdout.trim()).toBe("['load_csv', 'summarize', 'clash'] load_csv summarize # keeps its comment");
    expect(stderr).toContain("action 'other' not defined: its import of sqrt clashes");
    await pythonParses(exportModule([]));
  });

  it("quotes every stored text as printable ASCII that Python reads back exactly", async () => {
    const texts = ['"q" \\ \n\r\u2028\u0000 \u00e9 \ud83d\ude00 \ud800 """ \'\'\' # coding: utf-7 +AAo-', ""];
    for (const text of texts) {
      const literal = pythonString(text);
      expect(literal).toMatch(/^"[\x20-\x7e]*"$/);
      const { stdout } = await run("python3", ["-c", "import ast, sys; print(' '.join(str(ord(c)) for c in ast.literal_eval(sys.argv[1])))", literal]);
      expect(stdout.trim()).toBe([...text].map((character) => character.codePointAt(0)).join(" "));
      expect(commentText(text)).not.toMatch(/[\n\r]/);
    }
  });

  it("knows which names an import binds", () => {
    expect(boundNames("import pandas as pd")).toEqual(["pd"]);
    expect(boundNames("import os.path")).toEqual(["os"]);
    expect(boundNames("from x import y as z, w")).toEqual(["z", "w"]);
    expect(boundNames("from math import *")).toEqual([]);
  });

});

describe("the extraction cell", () => {
  it("passes any code text to Python unchanged", async () => {
    const code = "def f():\n    return '\\u2028 \u2028 \"q\" \\\\ é 😀'\r\n\t# tab\n";
    const cell = extractionCell(code);
    expect(cell.startsWith('__import__("dynabox_extract").emit_extracted(')).toBe(true);
    const literal = cell.slice(cell.indexOf("(", cell.indexOf("emit_extracted")) + 1, -1);
    expect(await pythonValue(literal)).toBe(code);
  });

  it("validates the extractor's report, applies the host's checks and hashes normal forms", () => {
    const extracted = (name: string, imports: string[] = []) => ({
      name, is_async: false, signature: `${name}()`, docstring: null, source: `def ${name}():\n    pass`, imports,
      dependencies: [], free_names: ["x"], normal_form: "FunctionDef(...)", line: 1,
    });
    const analysis = toAnalysis(
      { functions: [extracted("f"), extracted("evil\nname"), extracted("g", ["import os; os.system('x')"])], rejected: [{ name: "h", reason: "decorators" }], references: ["a"], bindings: ["f"] },
      { taskId: "t", step: 3 },
    );
    const [found] = analysis.candidates;
    expect(analysis.candidates).toHaveLength(1);
    expect(analysis.rejected.map((entry) => entry.name)).toEqual(["h", "evil\nname", "g"]);
    expect(found).toMatchObject({ name: "f", docstring: "", freeNames: ["x"], origin: { taskId: "t", step: 3 } });
    expect(found?.normalHash).toBe(normalHash("FunctionDef(...)"));
    expect(found?.normalHash).toMatch(/^[0-9a-f]{64}$/);
    expect(() => toAnalysis([{ name: "f" }], { taskId: "t", step: 1 })).toThrow(DynaboxError);
  });
});

describe("a task library whose extraction sandbox breaks", () => {
  it("records nothing for that step, warns, and lets the task go on", async () => {
    const store = ActionStore.open(":memory:");
    const warnings: string[] = [];
    // An extraction sandbox that answers every cell with an error.
    const broken = {
      async exec() {
        return {
          ok: false, stdout: "", stderr: "", stdoutBytes: 0, stderrBytes: 0, value: null, events: [],
          error: { name: "AttributeError", message: "no emit_extracted", traceback: "" },
          timedOut: false, oom: false, kernelRestarted: false, wallMs: 1, cpuMs: null, peakMemMb: null,
        };
      },
    };
    const library = new TaskLibrary(store, { runId: "r", taskId: "t", extractor: broken, onWarning: (message) => warnings.push(message) });
    expect(await library.recordStep("def f():\n    pass", 3, { ok: true })).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining("step 3: not analyzed for the action library")]);
    expect(store.candidates("r", "t")).toEqual([]);
    store.close();
  });
});
