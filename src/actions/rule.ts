// The library's rule, host side: what the host can check without a Python parser (names and
// import statements) before an action is stored, loaded or exported. The whole rule, with the
// function's source, is `sandbox/lib/dynabox_rule.py`; it runs in the extraction sandbox, in the
// loader cell of a fresh kernel, and in every exported module. The two must agree: a name or
// import this file accepts must pass `name_problem` / `import_problem` there (a unit test runs
// both on the same inputs).

import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../sandbox/image.js";

/** Python 3's keywords and soft keywords: never a name. */
const KEYWORDS = new Set(
  "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield _ case match type".split(" "),
);

/** The builtins of Python 3.11 (without dunder names, which the prefix rule excludes anyway). */
const BUILTINS = new Set(
  [
    "ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError",
    "BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError",
    "ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning",
    "EnvironmentError Exception ExceptionGroup False FileExistsError FileNotFoundError",
    "FloatingPointError FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError",
    "IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError",
    "ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError OSError",
    "OverflowError PendingDeprecationWarning PermissionError ProcessLookupError RecursionError",
    "ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration",
    "SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError True TypeError",
    "UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError",
    "UnicodeWarning UserWarning ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin",
    "bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits delattr",
    "dict dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash",
    "help hex id input int isinstance issubclass iter len license list locals map max memoryview min",
    "next object oct open ord pow print property quit range repr reversed round set setattr slice sorted",
    "staticmethod str sum super tuple type vars zip",
  ]
    .join(" ")
    .split(" "),
);

/** The functions every agent kernel starts with (`sandbox/lib/dynabox_actions.py`). */
export const INITIAL_ACTIONS: readonly string[] = [
  "list_files",
  "read_file",
  "write_file",
  "copy_file",
  "inspect_script_lines",
  "execute_script",
  "search_actions",
  "submit",
];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Whether `text` is an ASCII Python identifier (the shape only). */
export function isIdentifier(text: string): boolean {
  return IDENTIFIER.test(text) && !KEYWORDS.has(text);
}

/** Why `name` may not be an action's name (or a name an action's import binds); undefined when it may. */
export function nameProblem(name: string): string | undefined {
  if (!IDENTIFIER.test(name)) return `${JSON.stringify(name)} is not an ASCII Python identifier`;
  if (KEYWORDS.has(name)) return `${JSON.stringify(name)} is a Python keyword`;
  if (name.startsWith("__")) return `${JSON.stringify(name)} starts with '__'`;
  if (/^_?dynabox/i.test(name)) return `${JSON.stringify(name)} is reserved for dynabox`;
  if (BUILTINS.has(name) || INITIAL_ACTIONS.includes(name)) return `${JSON.stringify(name)} would replace a builtin or an initial action`;
  return undefined;
}

/**
 * Why `statement` may not be one of an action's imports; undefined when it may. Only the
 * canonical forms the extractor writes (Python's `ast.unparse`) are accepted: `import a.b`,
 * `import a.b as c`, `from a.b import c, d as e`, `from __future__ import annotations`.
 */
export function importProblem(statement: string): string | undefined {
  if (statement === "from __future__ import annotations") return undefined;
  const plain = /^import ([^ ,]+)(?: as ([^ ,]+))?$/.exec(statement);
  if (plain) {
    const [, module = "", alias] = plain;
    if (!DOTTED.test(module) || moduleHasDunder(module)) return `${JSON.stringify(statement)} imports a module name that is not allowed`;
    const bound = alias ?? (module.split(".")[0] as string);
    const problem = nameProblem(bound);
    return problem === undefined ? undefined : `${JSON.stringify(statement)} binds a name that is not allowed: ${problem}`;
  }
  const from = /^from ([^ ]+) import (.+)$/.exec(statement);
  if (!from) return `${JSON.stringify(statement)} is not one canonical import statement`;
  const [, module = "", list = ""] = from;
  if (!DOTTED.test(module) || moduleHasDunder(module)) return `${JSON.stringify(statement)} imports from a module name that is not allowed`;
  for (const part of list.split(", ")) {
    const alias = /^([^ ,]+)(?: as ([^ ,]+))?$/.exec(part);
    if (!alias) return `${JSON.stringify(statement)} is not one canonical import statement`;
    const [, name = "", asName] = alias;
    if (!IDENTIFIER.test(name) || name.startsWith("__")) return `${JSON.stringify(statement)} imports a name that is not allowed`;
    const problem = nameProblem(asName ?? name);
    if (problem !== undefined) return `${JSON.stringify(statement)} binds a name that is not allowed: ${problem}`;
  }
  return undefined;
}

function moduleHasDunder(module: string): boolean {
  return module.split(".").some((part) => part.startsWith("__") || KEYWORDS.has(part));
}

/** The parts of a stored or extracted action the host checks (everything but the source). */
export interface ActionFields {
  name: string;
  imports: readonly string[];
  dependencies: readonly string[];
  freeNames: readonly string[];
}

/**
 * Why an action may not be stored, loaded or exported, as far as the host can tell without
 * parsing Python (its source is checked by `dynabox_rule.py` wherever it is run); undefined
 * when nothing is wrong.
 */
export function actionFieldsProblem(action: ActionFields): string | undefined {
  const named = nameProblem(action.name);
  if (named !== undefined) return named;
  for (const statement of action.imports) {
    const problem = importProblem(statement);
    if (problem !== undefined) return problem;
  }
  for (const name of [...action.dependencies, ...action.freeNames]) {
    if (!IDENTIFIER.test(name)) return `it refers to ${JSON.stringify(name)}, which is not an identifier`;
  }
  return undefined;
}

let cachedRuleSource: string | undefined;

/** The text of `sandbox/lib/dynabox_rule.py` (the whole rule, in Python), read once. */
export function ruleSource(): string {
  cachedRuleSource ??= readFileSync(path.join(projectRoot(), "sandbox", "lib", "dynabox_rule.py"), "utf8");
  return cachedRuleSource;
}
