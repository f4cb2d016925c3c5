// One importable Python module with every current action (`dynabox actions export`). Every
// stored field is written as a quoted, ASCII-only literal or an escaped comment, never as code,
// and the module checks each action against the library's rule (embedded) before it defines it.

import { lookupIn, resolveDependencies } from "./load.js";
import { actionFieldsProblem, ruleSource } from "./rule.js";
import type { LibraryAction } from "./types.js";

/** The names an import statement binds (`import a.b` binds a; `from x import y as z` binds z). */
export function boundNames(statement: string): string[] {
  const fromMatch = /^from\s+\S+\s+import\s+(.+)$/s.exec(statement.trim());
  const list = fromMatch ? fromMatch[1] ?? "" : statement.trim().replace(/^import\s+/, "");
  return list
    .replace(/[()]/g, "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "" && part !== "*")
    .map((part) => {
      const alias = /\s+as\s+(\S+)$/.exec(part);
      if (alias) return alias[1] as string;
      return fromMatch ? part : (part.split(".")[0] as string);
    });
}

export interface ExportInfo {
  /** Where the actions came from (the library file), for the header. */
  library?: string;
  generatedAt?: Date;
  /** The text of `dynabox_rule.py` to embed; read from the package's sandbox/ folder by default. */
  ruleSource?: string;
}

/**
 * Text as a Python string literal of printable ASCII only: every other character is escaped, so
 * no stored text can end the literal, start a new line, or change how the file is decoded.
 */
export function pythonString(text: string): string {
  let literal = '"';
  for (const character of text) {
    const code = character.codePointAt(0) as number;
    if (character === "\\" || character === '"') literal += "\\" + character;
    else if (code >= 0x20 && code < 0x7f) literal += character;
    else if (code <= 0xff) literal += "\\x" + code.toString(16).padStart(2, "0");
    else if (code <= 0xffff) literal += "\\u" + code.toString(16).padStart(4, "0");
    else literal += "\\U" + code.toString(16).padStart(8, "0");
  }
  return literal + '"';
}

/** Text as a readable Python expression: one quoted line per line, joined by newlines. */
function pythonLines(text: string, indent: string): string {
  const lines = text.split("\n");
  if (lines.length === 1) return pythonString(text);
  return `"\\n".join([\n${lines.map((line) => `${indent}    ${pythonString(line)},`).join("\n")}\n${indent}])`;
}

/** Text for one comment line: printable ASCII, everything else escaped, so it can not leave the comment. */
export function commentText(text: string): string {
  return pythonString(text).slice(1, -1);
}

// The exported module's own code. Each action is checked against the embedded rule before any
// of it runs; one that fails is skipped with a warning, and so are the actions that need it.
const EXPORT_LOADER = `def _dynabox_load(actions, rule_source):
    import __future__, linecache, warnings
    rule = {"__name__": "dynabox_rule"}
    exec(compile(rule_source, "<dynabox_rule>", "exec"), rule)
    namespace = globals()
    names = set(action["name"] for action in actions)
    loaded, failed = [], set()
    for action in actions:
        name = action["name"]
        problem = rule["action_problem"](action["source"], name)
        for statement in action["imports"]:
            problem = problem or rule["import_problem"](statement)
        for statement in action["imports"]:
            module = statement.split()[1]
            if module.split(".")[0] in _DYNABOX_IMPORTS_REFUSED:
                problem = problem or "module %s runs code of its own when imported" % module
        missing = [need for need in action["needs"] if need in failed]
        if missing:
            problem = problem or "needs %s, which could not be defined" % ", ".join(missing)
        if problem is None and name in namespace:
            problem = "the name is already taken in this module"
        if problem is not None:
            failed.add(name)
            warnings.warn("dynabox export: action %r not defined: %s" % (name, problem), stacklevel=2)
            continue
        flags = __future__.annotations.compiler_flag  # annotations never evaluated at definition
        try:
            scratch = {}
            for statement in action["imports"]:
                if not statement.startswith("from __future__ import "):
                    exec(statement, scratch)
            scratch.pop("__builtins__", None)
            clashes = [key for key, value in scratch.items() if key in names or (key in namespace and namespace[key] is not value)]
            if clashes:
                failed.add(name)
                warnings.warn("dynabox export: action %r not defined: its import of %s clashes with a name already defined here" % (name, ", ".join(clashes)), stacklevel=2)
                continue
            namespace.update(scratch)
            filename = "<action %s v%d>" % (name, action["version"])
            source = action["source"] + "\\n"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec", flags, True), namespace)
            loaded.append(name)
        except Exception as error:
            failed.add(name)
            warnings.warn("dynabox export: action %r not defined: %s: %s" % (name, type(error).__name__, error), stacklevel=2)
    return loaded
`;

/** Standard-library modules whose import does something by itself (opens a browser, prints, starts a program). */
const IMPORTS_REFUSED_IN_EXPORTS = ["antigravity", "this", "idlelib", "turtledemo", "tkinter", "turtle", "pydoc_data", "webbrowser"];

/**
 * One importable Python module with the given actions (normally every current one). Every stored
 * field is written as a quoted, ASCII-only Python literal or an escaped comment, never as code:
 * importing the module checks each action against the library's rule (embedded), runs its
 * imports and defines it; an action that fails the check is skipped with a warning, and so are
 * the actions that need it. A header comment lists each action's version and provenance, the
 * names nothing in the module defines, and names two actions import differently.
 */
export function exportModule(actions: readonly LibraryAction[], info: ExportInfo = {}): string {
  const usable = actions.filter((action) => actionFieldsProblem(action) === undefined);
  const { ordered, missing } = resolveDependencies(usable, lookupIn(usable));
  const refused = actions.filter((action) => !usable.includes(action));
  const defined = new Set(ordered.map((action) => action.name));
  const importers = new Map<string, Set<string>>();
  for (const action of ordered) {
    for (const statement of action.imports) {
      if (statement.startsWith("from __future__ import")) continue;
      for (const name of boundNames(statement)) importers.set(name, (importers.get(name) ?? new Set()).add(statement));
    }
  }
  const comment = (text: string): string => `# ${commentText(text)}`;
  const header = [
    "# -*- coding: utf-8 -*-",
    "# dynabox action library export. Every stored field is a quoted string below; importing this",
    "# module checks each action against the library's rule before it defines it (Python 3.9+).",
    comment(`generated ${(info.generatedAt ?? new Date()).toISOString()}${info.library ? ` from ${info.library}` : ""}: ${ordered.length} action(s), latest promoted versions`),
    "#",
  ];
  for (const action of ordered) {
    header.push(
      comment(
        `${action.name} v${action.version}: from task ${action.taskId} (run ${action.runId}, step ${action.step}); ` +
          `used in ${action.uses} task(s), ${action.successes} passed, ${action.failures} failed`,
      ),
    );
  }
  for (const action of refused) header.push(comment(`left out: ${action.name}: ${actionFieldsProblem(action) ?? ""}`));
  const unresolved = ordered
    .map((action) => ({ name: action.name, names: action.freeNames.filter((name) => !defined.has(name)) }))
    .filter((entry) => entry.names.length > 0);
  if (unresolved.length > 0 || missing.length > 0) {
    header.push("#", "# Names these functions use that this module does not define (provide them before calling):");
    for (const entry of unresolved) header.push(comment(`  ${entry.name}: ${entry.names.join(", ")}`));
    if (missing.length > 0) header.push(comment(`  missing library functions: ${missing.join(", ")}`));
  }
  for (const [name, statements] of importers) {
    if (statements.size > 1) header.push(comment(`warning: ${name} is imported in ${statements.size} different ways; the last one wins: ${[...statements].join(" | ")}`));
  }
  const entries = ordered.map((action) => {
    const needs = [...action.dependencies, ...action.freeNames].filter((name) => defined.has(name) && name !== action.name);
    return [
      "    {",
      `        "name": ${pythonString(action.name)},`,
      `        "version": ${Number.isSafeInteger(action.version) ? action.version : 0},`,
      `        "imports": [${action.imports.map(pythonString).join(", ")}],`,
      `        "needs": [${needs.map(pythonString).join(", ")}],`,
      `        "source": ${pythonLines(action.source, "        ")},`,
      "    },",
    ].join("\n");
  });
  const rule = info.ruleSource ?? ruleSource();
  return [
    header.join("\n"),
    `_DYNABOX_IMPORTS_REFUSED = frozenset([${IMPORTS_REFUSED_IN_EXPORTS.map(pythonString).join(", ")}])`,
    `_DYNABOX_RULE = ${pythonLines(rule, "")}`,
    `_DYNABOX_ACTIONS = [\n${entries.join("\n")}\n]`,
    EXPORT_LOADER.trimEnd(),
    "__all__ = _dynabox_load(_DYNABOX_ACTIONS, _DYNABOX_RULE)\ndel _dynabox_load, _DYNABOX_ACTIONS, _DYNABOX_RULE, _DYNABOX_IMPORTS_REFUSED",
  ].join("\n\n\n") + "\n";
}
