// Python out of the library: the cell that defines chosen actions in a task's kernel (with what
// they depend on), and one importable module with every current action. All are pure functions
// of the actions; running the cells is the caller's business.
//
// Loading execs each action's stored source as it was written (comments and all) rather than
// pasting it into the cell, so one action that can not be defined (a module missing in this
// image, a stored row that breaks the library's rule) costs only itself and the actions that
// need it, and tracebacks show the action's own lines. Before anything of an action runs, the
// loader checks it against the rule (`sandbox/lib/dynabox_rule.py`): defining it then runs
// nothing but its imports. The exported module carries every stored field as a quoted string
// and checks each action against the same rule (embedded) before it defines it.

import { z } from "zod";
import type { CellResult } from "../sandbox/protocol.js";
import { actionFieldsProblem, ruleSource } from "./rule.js";
import type { LibraryAction } from "./types.js";

export const LOADED_EVENT = "actions-loaded";

const loadedPayloadSchema = z.object({ loaded: z.array(z.string()), failed: z.record(z.string(), z.string()) });

export interface ResolvedActions {
  /** The actions and everything they need, each after what it depends on. */
  ordered: LibraryAction[];
  /** Names the actions refer to that the library does not have (dependencies only, not free names). */
  missing: string[];
}

/**
 * Adds what the actions depend on, transitively, and orders them dependencies first. A
 * dependency is a function of the same snippet (`dependencies`) or a free name that is the name
 * of a library action (a function loaded from the library when the action was written).
 */
export function resolveDependencies(
  actions: readonly LibraryAction[],
  lookup: (name: string) => LibraryAction | undefined,
): ResolvedActions {
  const ordered: LibraryAction[] = [];
  const missing = new Set<string>();
  const seen = new Set<string>();
  const visit = (action: LibraryAction): void => {
    if (seen.has(action.name)) return;
    seen.add(action.name); // before the dependencies: mutual recursion ends here
    for (const name of action.dependencies) {
      const dependency = lookup(name);
      if (dependency === undefined) missing.add(name);
      else visit(dependency);
    }
    for (const name of action.freeNames) {
      const dependency = lookup(name);
      if (dependency !== undefined) visit(dependency);
    }
    ordered.push(action);
  };
  for (const action of actions) visit(action);
  return { ordered, missing: [...missing].sort() };
}

/** A lookup over a list of actions (by name). */
export function lookupIn(actions: readonly LibraryAction[]): (name: string) => LibraryAction | undefined {
  const byName = new Map(actions.map((action) => [action.name, action]));
  return (name) => byName.get(name);
}

// The loader, as Python. It runs as a function so that its helpers stay out of the user's
// namespace; `globals()` inside it is the namespace the cell runs in. Every action is checked
// against the library's rule before its imports or source run; its imports are run in a scratch
// namespace first, so an action whose import would rebind a name an earlier action of the same
// cell bound (its name or one of its imports) is refused instead of breaking that action.
const LOADER = `def _dynabox_define_actions(actions, rule_source):
    import __future__, linecache
    import dynabox
    # The rule comes with the cell, so no file in the workspace (first on sys.path) can replace it.
    rule = {"__name__": "dynabox_rule"}
    exec(compile(rule_source, "<dynabox_rule>", "exec"), rule)
    namespace = globals()
    names = set(action["name"] for action in actions)
    bound = {}

    def is_library_action(value):
        return getattr(getattr(value, "__code__", None), "co_filename", "").startswith("<action ")

    def define(action):
        name, version = action["name"], action["version"]
        problem = rule["action_problem"](action["source"], name)
        for statement in action["imports"]:
            problem = problem or rule["import_problem"](statement)
        if problem is not None:
            return "breaks the library's rule: %s" % problem
        if name in bound:
            return "its name is already bound by another action's import"
        # Annotations are never evaluated when an action is defined (PEP 563, for every action).
        flags = __future__.annotations.compiler_flag
        scratch = {}
        for statement in action["imports"]:
            if not statement.startswith("from __future__ import "):
                exec(statement, scratch)
        scratch.pop("__builtins__", None)
        for key, value in scratch.items():
            if key in names or is_library_action(namespace.get(key)):
                return "its import binds %s, the name of a library action" % key
            if key in bound and bound[key] is not value:
                return "its import of %s clashes with another action's" % key
        filename = "<action %s v%d>" % (name, version)
        source = action["source"] + "\\n"
        code = compile(source, filename, "exec", flags, True)
        namespace.update(scratch)
        bound.update(scratch)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(code, namespace)
        bound[name] = namespace[name]
        return None

    loaded, failed = [], {}
    for action in actions:
        name, version = action["name"], action["version"]
        broken = [need for need in action["needs"] if need in failed]
        if broken:
            failed[name] = "needs %s, which could not be defined" % ", ".join(broken)
        else:
            try:
                reason = define(action)
            except Exception as error:
                reason = "%s: %s" % (type(error).__name__, error)
            if reason is None:
                loaded.append(name)
            else:
                failed[name] = reason
        if name in failed:
            print("dynabox: action %s (v%d) not defined: %s" % (name, version, failed[name]))
    dynabox.emit("${LOADED_EVENT}", {"loaded": loaded, "failed": failed})
`;

/** What a definition cell will do: the code, the actions it defines (by name, with version), and those refused on the host. */
export interface DefinitionPlan {
  code: string;
  /** Every action the cell tries to define, dependencies included: name -> version. */
  versions: Map<string, number>;
  /** Actions left out before the cell: their stored name, imports or references break the rule. */
  refused: { name: string; reason: string }[];
}

/**
 * Plans the cell that defines the actions (and what they depend on, from `lookup`; by default
 * only among `actions`) in the kernel, in dependency order, each with its imports. Actions whose
 * stored fields break the rule are left out (and reported); the kernel checks each source too.
 * An action that can not be defined is skipped with a one-line note, and so are the actions
 * that need it. The cell emits `actions-loaded` ({loaded: names, failed: {name: reason}}) and
 * leaves nothing in the user's namespace but the actions and their imports.
 */
export function definitionPlan(
  actions: readonly LibraryAction[],
  lookup: (name: string) => LibraryAction | undefined = lookupIn(actions),
  rule: string = ruleSource(),
): DefinitionPlan {
  const refused: { name: string; reason: string }[] = [];
  const valid = (action: LibraryAction | undefined): action is LibraryAction => {
    if (action === undefined) return false;
    const problem = actionFieldsProblem(action);
    if (problem !== undefined && !refused.some((entry) => entry.name === action.name)) refused.push({ name: action.name, reason: problem });
    return problem === undefined;
  };
  const { ordered } = resolveDependencies(actions.filter(valid), (name) => {
    const found = lookup(name);
    return valid(found) ? found : undefined;
  });
  const versions = new Map(ordered.map((action) => [action.name, action.version]));
  if (ordered.length === 0) return { code: "", versions, refused };
  const payload = ordered.map((action) => ({
    name: action.name,
    version: action.version,
    imports: action.imports,
    source: action.source,
    needs: [...action.dependencies, ...action.freeNames].filter((name) => versions.has(name) && name !== action.name),
  }));
  // JSON inside a Python string literal (JSON strings are valid Python literals): no escaping to get wrong.
  const code =
    `${LOADER}try:\n    _dynabox_define_actions(__import__("json").loads(${JSON.stringify(JSON.stringify(payload))}), ${JSON.stringify(rule)})\n` +
    "finally:\n    del _dynabox_define_actions\n";
  return { code, versions, refused };
}

/** The code of `definitionPlan`; "" when there is nothing to define. */
export function definitionCode(actions: readonly LibraryAction[], lookup: (name: string) => LibraryAction | undefined = lookupIn(actions)): string {
  return definitionPlan(actions, lookup).code;
}

/** What a definition cell reported: the actions it defined and why the others were not. */
export function parseLoaded(result: Pick<CellResult, "events">): { loaded: string[]; failed: Record<string, string> } | undefined {
  const event = result.events.find((each) => each.name === LOADED_EVENT);
  const parsed = loadedPayloadSchema.safeParse(event?.payload);
  return parsed.success ? parsed.data : undefined;
}

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
