import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { actionFieldsProblem, importProblem, nameProblem } from "../../src/actions/rule.js";

const run = promisify(execFile);

/** Runs `dynabox_rule` (sandbox/lib) in the host's python3 on each input: true when it accepts it. */
async function pythonAccepts(check: "name_problem" | "import_problem", inputs: string[]): Promise<boolean[]> {
  const script = `import json, sys; import dynabox_rule as r; print(json.dumps([r.${check}(x) is None for x in json.loads(sys.argv[1])]))`;
  const { stdout } = await run("python3", ["-c", script, JSON.stringify(inputs)], { env: { ...process.env, PYTHONPATH: path.resolve("sandbox/lib") } });
  return JSON.parse(stdout) as boolean[];
}

/** Runs `action_problem` on each (source, name): the reason, or null when accepted. */
async function pythonSourceProblems(cases: [string, string][]): Promise<(string | null)[]> {
  const script = "import json, sys; import dynabox_rule as r; print(json.dumps([r.action_problem(s, n) for s, n in json.loads(sys.argv[1])]))";
  const { stdout } = await run("python3", ["-c", script, JSON.stringify(cases)], { env: { ...process.env, PYTHONPATH: path.resolve("sandbox/lib") } });
  return JSON.parse(stdout) as (string | null)[];
}

const NAMES = [
  "load_csv", "_helper", "f", "Mean2", "", "a b", "evil\nprint(1)", "2x", "ｌｅｎ", "é", "len", "print", "open", "submit", "read_file",
  "search_actions", "__import__", "__init__", "__x", "dynabox", "dynabox_extract", "_dynabox_define_actions", "DynaboxHelper", "_DYNABOX_ACTIONS", "class", "match", "_", "None", "type",
];
const IMPORTS = [
  "import pandas as pd", "import os.path", "import numpy", "from collections import Counter as C, OrderedDict", "from __future__ import annotations",
  "import os; os.system('id')", "import os\nimport sys", "from os import *", "from . import x", "from operator import add as len", "import builtins as print",
  "from __future__ import barry_as_FLUFL", "import  os", "import os as __builtins__", "from os import system as submit", "from __main__ import x",
  "from os import (path)", "import os, sys", "from x import y as z", "import a.b as c", "from math import sqrt as dynabox_sqrt",
];

describe("the library's rule", () => {
  it("accepts and refuses the same names on the host as in Python", async () => {
    expect(NAMES.map((name) => nameProblem(name) === undefined)).toEqual(await pythonAccepts("name_problem", NAMES));
    expect(NAMES.filter((name) => nameProblem(name) === undefined)).toEqual(["load_csv", "_helper", "f", "Mean2"]);
  });

  it("accepts and refuses the same import statements on the host as in Python", async () => {
    expect(IMPORTS.map((statement) => importProblem(statement) === undefined)).toEqual(await pythonAccepts("import_problem", IMPORTS));
    expect(IMPORTS.filter((statement) => importProblem(statement) === undefined)).toEqual([
      "import pandas as pd", "import os.path", "import numpy", "from collections import Counter as C, OrderedDict", "from __future__ import annotations",
      "from x import y as z", "import a.b as c",
    ]);
  });

  it("checks references as identifiers", () => {
    expect(actionFieldsProblem({ name: "f", imports: [], dependencies: ["g"], freeNames: ["THRESHOLD"] })).toBeUndefined();
    expect(actionFieldsProblem({ name: "f", imports: [], dependencies: ["g\nh"], freeNames: [] })).toMatch(/not an identifier/);
  });

  it("accepts a source only when defining it runs nothing of its own", async () => {
    const cases: [string, string][] = [
      ['def f(x: "pd.DataFrame", y: int = -1, z=(1, "a"), *args: list[int], w: dict[str, int | None] = {"k": [1.5, None]}, **kw) -> tuple[int, ...]:\n    """Doc."""\n    return x', "f"],
      ["async def g(path, *, sep=',') -> None:\n    # a comment\n    pass", "g"],
      ["@functools.lru_cache\ndef f(x):\n    return x", "f"],
      ["def f(x=print('boom')):\n    return x", "f"],
      ["def f(x=[i for i in range(3)]):\n    return x", "f"],
      ["def f(x=(lambda: 1)):\n    return x", "f"],
      ["def f(x=SOME_CONSTANT):\n    return x", "f"],
      ["def f(x: print('boom')):\n    return x", "f"],
      ["def f() -> (len := 5):\n    return 1", "f"],
      ["def f(x: \"__import__('os').system('id')\"):\n    return x", "f"],
      ["def f(x: os.__dict__):\n    return x", "f"],
      ["def f():\n    return 1\nprint('boom')", "f"],
      ["import os\ndef f():\n    return 1", "f"],
      ["class f:\n    x = print('boom')", "f"],
      ["def g():\n    return 1", "f"],
      ["def f(:\n    pass", "f"],
      ["def len(x):\n    return 1", "len"],
    ];
    const problems = await pythonSourceProblems(cases);
    expect(problems.slice(0, 2)).toEqual([null, null]);
    expect(problems.slice(2).every((problem) => typeof problem === "string" && problem.length > 0)).toBe(true);
  });
});
