// Python that defines chosen library actions in a task's kernel, with what they depend on: a
// pure function of the actions; running the cell is the caller's business.
//
// Loading execs each action's stored source as it was written (comments and all) rather than
// pasting it into the cell, so one action that can not be defined (a module missing in this
// image, a stored row that breaks the library's rule) costs only itself and the actions that
// need it, and tracebacks show the action's own lines. Before anything of an action runs, the
// loader checks it against the rule (`sandbox/lib/dynabox_rule.py`, carried in the cell):
// defining it then runs nothing but its imports.

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
