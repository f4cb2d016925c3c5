import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exportModule } from "../../src/actions/export.js";
import { definitionCode } from "../../src/actions/load.js";
import { analyzeCell, checkActions, extractActions } from "../../src/actions/extract.js";
import { TaskLibrary } from "../../src/actions/promote.js";
import { ActionStore } from "../../src/actions/store.js";
import type { LibraryAction } from "../../src/actions/types.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { sandbox } from "./sandbox-fixture.js";

const directories: string[] = [];
const stores: ActionStore[] = [];
async function store(): Promise<ActionStore> {
  const directory = await mkdtemp(path.join(tmpdir(), "dynabox-actions-docker-"));
  directories.push(directory);
  const opened = ActionStore.open(path.join(directory, "actions.sqlite"));
  stores.push(opened);
  return opened;
}
afterEach(async () => {
  for (const each of stores.splice(0)) each.close();
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** The names in the kernel's user namespace. */
async function userNames(box: Sandbox): Promise<string[]> {
  const result = await box.exec("sorted(k for k in globals() if not k.startswith('__') and k != '_')");
  return JSON.parse((result.value ?? "[]").replace(/'/g, '"')) as string[];
}

const SNIPPET = `import pandas as pd
import numpy as np, os.path
from collections import Counter as C, OrderedDict
THRESHOLD = 3

def load_table(path: str, sep: str = ",") -> pd.DataFrame:
    """Read a CSV file into a DataFrame.

    Columns with fewer than THRESHOLD characters are dropped."""
    # read with pandas, keep wide columns only
    frame = pd.read_csv(path, sep=sep)  # inline comment

    def wide(name):  # nested: not an action of its own
        return len(name) >= THRESHOLD
    return frame[[c for c in frame.columns if wide(c)]]

async def fetch_size(path) -> int:
    return os.path.getsize(path)

def most_common(items):
    return C(items).most_common(1)[0][0], describe_items(items)

def describe_items(items):
    return np.mean([len(str(item)) for item in items]), missing_helper(items)

most_common(["a", "b", "a"]) if False else None
`;

describe("action extraction in the sandbox", () => {
  it("reports top-level functions with exact source, aliased imports, dependencies and free names", async () => {
    const box = await sandbox();
    const before = await userNames(box);
    const found = await extractActions(box, SNIPPET, { taskId: "t1", step: 4 });
    expect(await userNames(box)).toEqual(before); // nothing left behind, not even `_`
    expect(found.map((action) => action.name)).toEqual(["load_table", "fetch_size", "most_common", "describe_items"]);
    const [load, fetch, common, describe_] = found;

    expect(load?.signature).toBe("load_table(path: str, sep: str=',') -> pd.DataFrame");
    expect(load?.docstring).toBe("Read a CSV file into a DataFrame.\n\nColumns with fewer than THRESHOLD characters are dropped.");
    expect(load?.source.startsWith('def load_table(path: str, sep: str = ",") -> pd.DataFrame:')).toBe(true);
    expect(load?.source).toContain("# read with pandas, keep wide columns only");
    expect(load?.source).toContain("frame = pd.read_csv(path, sep=sep)  # inline comment");
    expect(load?.source.endsWith("return frame[[c for c in frame.columns if wide(c)]]")).toBe(true);
    expect(load?.imports).toEqual(["import pandas as pd"]);
    expect(load?.freeNames).toEqual(["THRESHOLD"]);
    expect(found.some((action) => action.name === "wide")).toBe(false);
    expect(load?.origin).toEqual({ taskId: "t1", step: 4 });

    expect(fetch).toMatchObject({ isAsync: true, signature: "fetch_size(path) -> int", imports: ["import os.path"], freeNames: [] });
    expect(common).toMatchObject({ imports: ["from collections import Counter as C"], dependencies: ["describe_items"], freeNames: [] });
    expect(describe_).toMatchObject({ imports: ["import numpy as np"], dependencies: [], freeNames: ["missing_helper"] });
  });

  it("gives the same hash when only comments, layout or the docstring change, and a new one for new code", async () => {
    const box = await sandbox();
    const origin = { taskId: "t", step: 1 };
    const [first] = await extractActions(box, "import math as m\ndef f(x):\n    '''Doc.'''\n    return m.sqrt(x)", origin);
    const [reformatted] = await extractActions(box, "import math as m\n\ndef f( x ):\n    # why\n    return   m.sqrt(x)  # done", origin);
    const [otherImport] = await extractActions(box, "import cmath as m\ndef f(x):\n    return m.sqrt(x)", origin);
    const [changed] = await extractActions(box, "import math as m\ndef f(x):\n    return m.sqrt(x) + 1", origin);
    expect(reformatted?.normalHash).toBe(first?.normalHash);
    expect(otherImport?.normalHash).not.toBe(first?.normalHash);
    expect(changed?.normalHash).not.toBe(first?.normalHash);
  });

  it("rejects functions whose definition would run code, and reports the names a cell refers to and binds", async () => {
    const box = await sandbox();
    const code = [
      "import functools",
      "from operator import add as len",
      "@functools.lru_cache",
      "def cached(x):",
      "    return x",
      "def default_call(x=print('boom')):",
      "    return x",
      "def annotated(x: open('/tmp/x', 'w')) -> int:",
      "    return x",
      "def shadows(values):",
      "    return len(values, 1)",
      "def plain(values: list[int], scale: float = -1.5) -> 'list[int] | None':",
      "    return [scale * value for value in values] + helper(values)",
      "result = plain([1]) + load_csv('x')",
    ].join("\n");
    const analysis = await analyzeCell(box, code, { taskId: "t", step: 1 });
    expect(analysis.candidates.map((candidate) => candidate.name)).toEqual(["plain"]);
    expect(Object.fromEntries(analysis.rejected.map((entry) => [entry.name, entry.reason]))).toEqual({
      cached: expect.stringMatching(/decorators/),
      default_call: expect.stringMatching(/default values must be literals/),
      annotated: expect.stringMatching(/annotations/),
      shadows: expect.stringMatching(/binds a name that is not allowed: 'len'/),
    });
    expect(analysis.references).toEqual(expect.arrayContaining(["helper", "load_csv", "plain", "functools", "print"]));
    expect(analysis.bindings).toEqual(expect.arrayContaining(["result", "plain", "cached", "functools", "len"]));
    expect(await checkActions(box, [
      { name: "plain", source: "def plain():\n    return 1", imports: [] },
      { name: "plain", source: "def plain():\n    return 1\nprint('after')", imports: [] },
      { name: "plain", source: "def plain():\n    return 1", imports: ["import os; os.system('id')"] },
    ])).toEqual([undefined, expect.stringMatching(/exactly one function definition/), expect.stringMatching(/import/)]);
  });

  it("returns [] for code that does not parse, and for code without functions", async () => {
    const box = await sandbox();
    expect(await extractActions(box, "def broken(:\n    pass", { taskId: "t", step: 1 })).toEqual([]);
    expect(await extractActions(box, "x = 1\nclass A:\n    def method(self):\n        pass", { taskId: "t", step: 1 })).toEqual([]);
    expect(await extractActions(box, "", { taskId: "t", step: 1 })).toEqual([]);
  });
});

let nextId = 1;
function libraryAction(name: string, source: string, extra: Partial<LibraryAction> = {}): LibraryAction {
  return {
    id: nextId++, name, version: 1, status: "promoted", isAsync: false, signature: `${name}()`, docstring: "", source,
    imports: [], dependencies: [], freeNames: [], normalHash: name, runId: "r", taskId: "t", step: 1,
    createdAt: "", promotedAt: "", uses: 0, successes: 0, failures: 0, ...extra,
  };
}

describe("loading actions into a kernel", () => {
  it("defines actions with their imports in dependency order and keeps the namespace clean", async () => {
    const box = await sandbox();
    const helper = libraryAction("word_lengths", "def word_lengths(text):\n    # split on whitespace\n    return [len(w) for w in text.split()]");
    const mean = libraryAction("mean_word_length", "def mean_word_length(text):\n    '''Mean length of the words.'''\n    return st.mean(word_lengths(text))", {
      imports: ["import statistics as st"],
      dependencies: ["word_lengths"],
      version: 2,
    });
    const annotated = libraryAction("later", "def later(x: Undefined) -> Undefined:\n    return x", { imports: ["from __future__ import annotations"] });
    const broken = libraryAction("needs_missing_module", "def needs_missing_module():\n    return nope.x", { imports: ["import nope_not_installed as nope"] });
    const dependent = libraryAction("uses_broken", "def uses_broken():\n    return needs_missing_module()", { dependencies: ["needs_missing_module"] });
    const code = definitionCode([mean, annotated, dependent], (name) => ({ word_lengths: helper, needs_missing_module: broken })[name]);
    const loaded = await box.exec(code);
    expect(loaded.ok).toBe(true);
    expect(loaded.events).toContainEqual({
      name: "actions-loaded",
      payload: {
        loaded: ["word_lengths", "mean_word_length", "later"],
        failed: {
          needs_missing_module: "ModuleNotFoundError: No module named 'nope_not_installed'",
          uses_broken: "needs needs_missing_module, which could not be defined",
        },
      },
    });
    expect(loaded.stdout).toContain("dynabox: action needs_missing_module (v1) not defined: ModuleNotFoundError");
    expect(await userNames(box)).toEqual(["later", "mean_word_length", "st", "word_lengths"]);

    const called = await box.exec("import inspect\n[mean_word_length('ab abcd'), mean_word_length('x'), mean_word_length.__doc__, inspect.getsource(word_lengths).splitlines()[1].strip()]");
    expect(called.value).toBe("[3, 1, 'Mean length of the words.', '# split on whitespace']");
    const failing = await box.exec("mean_word_length('')");
    expect(failing.error?.name).toBe("StatisticsError");
    expect(failing.error?.traceback).toContain("return st.mean(word_lengths(text))"); // the action's own line
  });

  it("refuses, at load, stored actions that break the rule or whose imports clash, and defines the others", async () => {
    const box = await sandbox();
    // A task's workspace comes first on sys.path: a rule module there must not replace the real one.
    await box.putFiles([{ path: "dynabox_rule.py", content: "def action_problem(*args):\n    return None\n\ndef import_problem(*args):\n    return None\n" }]);
    const marker = "/tmp/dynabox-defined-something";
    const hostile = [
      libraryAction("decorated", `def mark(f):\n    open(${JSON.stringify(marker)}, "w").write("decorator")\n    return f\n\n@mark\ndef decorated():\n    return 1`),
      libraryAction("default_runs", `def default_runs(x=open(${JSON.stringify(marker)}, "w").write("default")):\n    return x`),
      libraryAction("annotated_call", `def annotated_call(x: open(${JSON.stringify(marker)}, "w").write("annotation")):\n    return x`),
      libraryAction("trailing_code", `def trailing_code():\n    return 1\nopen(${JSON.stringify(marker)}, "w").write("trailing")`),
      libraryAction("not_its_name", "def other_name():\n    return 1"),
      libraryAction("shadows_action", "def shadows_action():\n    return sorted_rows", { imports: ["from os import system as sorted_rows"] }),
      libraryAction("sorted_rows", "def sorted_rows(rows):\n    return sorted(rows)"),
      libraryAction("clashing", "def clashing():\n    return np", { imports: ["import math as np"] }),
      libraryAction("uses_numpy", "def uses_numpy():\n    return np.zeros(1).size", { imports: ["import numpy as np"] }),
    ];
    const loaded = await box.exec(definitionCode(hostile));
    expect(loaded.ok).toBe(true);
    const report = loaded.events.find((event) => event.name === "actions-loaded")?.payload as { loaded: string[]; failed: Record<string, string> };
    expect(report.loaded).toEqual(["sorted_rows", "clashing"]);
    expect(Object.keys(report.failed).sort()).toEqual(["annotated_call", "decorated", "default_runs", "not_its_name", "shadows_action", "trailing_code", "uses_numpy"]);
    expect(report.failed.uses_numpy).toMatch(/clashes/);
    expect(report.failed.shadows_action).toMatch(/binds sorted_rows, the name of a library action/);
    expect((await box.exec(`import os\nos.path.exists(${JSON.stringify(marker)})`)).value).toBe("False");
    expect((await box.exec("(sorted_rows([2, 1]), clashing().__name__)")).value).toBe("([1, 2], 'math')");
  });

  it("exports a module the sandbox can import and use", async () => {
    const box = await sandbox();
    const actions = [
      libraryAction("double_all", "def double_all(values):\n    return [twice(v) for v in values]", { dependencies: ["twice"] }),
      libraryAction("twice", "def twice(v):\n    return v * 2"),
      libraryAction("frame_sum", "def frame_sum(rows):\n    return int(pd.DataFrame(rows).to_numpy().sum())", { imports: ["import pandas as pd"] }),
    ];
    await box.putFiles([{ path: "library_export.py", content: exportModule(actions) }]);
    const result = await box.exec("import library_export as lib\n(lib.double_all([1, 2]), lib.frame_sum([[1, 2], [3, 4]]), lib.__all__)");
    expect(result.error).toBeNull();
    expect(result.value).toBe("([2, 4], 10, ['twice', 'double_all', 'frame_sum'])");
  });
});

describe("a task's life with the library", () => {
  it("records candidates from a separate extraction sandbox, promotes them when the task passes, loads them in the next task, and counts the cells that used them", async () => {
    const library = await store();
    const extractor = await sandbox({ role: "action-extractor" });
    const first = new TaskLibrary(library, { runId: "run-1", taskId: "task-a", extractor });
    const box = await sandbox();
    const step = "import re as regex\n\ndef slug_words(title: str) -> list[str]:\n    \"\"\"Split a title into lowercase URL slug words.\"\"\"\n    return regex.findall(r'[a-z0-9]+', title.lower())\n\nslug_words('Hello, World')";
    const ran = await box.exec(step);
    expect(ran.value).toBe("['hello', 'world']");
    expect(await first.recordStep(step, 1, ran)).toEqual(["slug_words"]);
    const settled = first.finish(true);
    expect(settled.promotion?.promoted.map((action) => `${action.name}@${action.version}`)).toEqual(["slug_words@1"]);

    const warnings: string[] = [];
    const second = new TaskLibrary(library, { runId: "run-1", taskId: "task-b", extractor, onWarning: (message) => warnings.push(message) });
    const fresh = await sandbox();
    const offered = await second.load(fresh, "make a url slug from a title", 3);
    expect(offered).toEqual([{ name: "slug_words", signature: "slug_words(title: str) -> list[str]", docstring: "Split a title into lowercase URL slug words." }]);
    expect(warnings).toEqual([]);
    const used = "'-'.join(slug_words('A Tale of Two Cities'))";
    const usedResult = await fresh.exec(used);
    expect(usedResult.value).toBe("'a-tale-of-two-cities'");
    await second.recordStep(used, 1, usedResult);
    const failing = "slug_words(None)";
    const failingResult = await fresh.exec(failing);
    expect(failingResult.ok).toBe(false);
    await second.recordStep(failing, 2, failingResult);

    // The in-kernel search: a host call whose hits carry the cells that define them.
    fresh.setHostCall("search_actions", second.searchHandler());
    const searched = await fresh.exec(
      "import dynabox\nhits = dynabox.host_call('search_actions', {'query': 'slug', 'limit': 2})\nfor hit in hits:\n    for source in hit['definitions'].values():\n        exec(source, globals())\n[hit['name'] for hit in hits]",
    );
    expect(searched.value).toBe("['slug_words']");

    expect(second.usage()).toEqual({ slug_words: 2 });
    const failed = second.finish(false);
    expect(failed.used.map((action) => [action.name, action.uses, action.failures])).toEqual([["slug_words", 1, 1]]);
    expect(failed.discarded).toBe(0);
  });
});
