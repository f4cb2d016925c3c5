// Python out of the library: the cell that defines chosen actions in a task's kernel (with what
// they depend on, and a call counter), the cell that reports those counts, and one importable
// module with every current action. All are pure functions of the actions; running the cells is
// the caller's business.
//
// Loading execs each action's stored source as it was written (comments and all) rather than
// pasting it into the cell, so one action that can not be defined (a module missing in this
// image) costs only itself and the actions that need it, and tracebacks show the action's own
// lines. The call counter lives in the `dynabox` module (`dynabox.action_calls`), not in the
// user's namespace; each action is wrapped with functools.wraps, so its name, docstring,
// signature and `inspect.getsource` stay those of the action.

import { SandboxError } from "../errors.js";
import type { CellResult } from "../sandbox/protocol.js";
import { usagePayloadSchema, type ActionUsage, type LibraryAction } from "./types.js";

export const LOADED_EVENT = "actions-loaded";
export const USAGE_EVENT = "action-usage";

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
// namespace; `globals()` inside it is the namespace the cell runs in.
const LOADER = `def _dynabox_define_actions(actions):
    import __future__, functools, inspect, linecache
    import dynabox
    namespace = globals()
    calls = dynabox.__dict__.setdefault("action_calls", {})

    def counted(function, name, version):
        record = calls.get(name)
        if record is None or record["version"] != version:
            record = calls[name] = {"version": version, "calls": 0, "errors": 0}
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def wrapper(*args, **kwargs):
                record["calls"] += 1
                try:
                    return await function(*args, **kwargs)
                except Exception:
                    record["errors"] += 1
                    raise
        else:
            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                record["calls"] += 1
                try:
                    return function(*args, **kwargs)
                except Exception:
                    record["errors"] += 1
                    raise
        wrapper.__dynabox_action__ = (name, version)
        return wrapper

    loaded, failed = [], {}
    for action in actions:
        name, version = action["name"], action["version"]
        broken = [need for need in action["needs"] if need in failed]
        if broken:
            failed[name] = "needs %s, which could not be defined" % ", ".join(broken)
        else:
            try:
                flags = 0
                for statement in action["imports"]:
                    if statement.startswith("from __future__ import "):
                        for feature in statement[len("from __future__ import "):].split(","):
                            flags |= getattr(__future__, feature.strip()).compiler_flag
                    else:
                        exec(statement, namespace)
                filename = "<action %s v%d>" % (name, version)
                source = action["source"] + "\\n"
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                exec(compile(source, filename, "exec", flags, True), namespace)
                namespace[name] = counted(namespace[name], name, version)
                loaded.append(name)
            except Exception as error:
                failed[name] = "%s: %s" % (type(error).__name__, error)
        if name in failed:
            print("dynabox: action %s (v%d) not defined: %s" % (name, version, failed[name]))
    dynabox.emit("${LOADED_EVENT}", {"loaded": loaded, "failed": failed})
`;

/**
 * A cell that defines the actions (and what they depend on, from `lookup`; by default only among
 * `actions`) in the kernel, in dependency order, each with its imports. An action whose module
 * is missing is skipped with a one-line note, and so are the actions that need it. The cell
 * emits `actions-loaded` ({loaded: names, failed: {name: reason}}) and leaves nothing in the
 * user's namespace but the actions and their imports. "" when there is nothing to define.
 */
export function definitionCode(actions: readonly LibraryAction[], lookup: (name: string) => LibraryAction | undefined = lookupIn(actions)): string {
  const { ordered } = resolveDependencies(actions, lookup);
  if (ordered.length === 0) return "";
  const names = new Set(ordered.map((action) => action.name));
  const payload = ordered.map((action) => ({
    name: action.name,
    version: action.version,
    imports: action.imports,
    source: action.source,
    needs: [...action.dependencies, ...action.freeNames].filter((name) => names.has(name) && name !== action.name),
  }));
  // JSON inside a Python string literal (JSON strings are valid Python literals): no escaping to get wrong.
  return `${LOADER}try:\n    _dynabox_define_actions(__import__("json").loads(${JSON.stringify(JSON.stringify(payload))}))\nfinally:\n    del _dynabox_define_actions\n`;
}

/** A cell that emits the kernel's call counts of loaded actions (`action-usage`); returns None. */
export function usageCode(): string {
  return `__import__("dynabox").emit("${USAGE_EVENT}", dict(getattr(__import__("dynabox"), "action_calls", {})))`;
}

/** The counts a `usageCode()` cell reported, by name; actions never called are left out. */
export function parseUsage(result: Pick<CellResult, "ok" | "events" | "error">): ActionUsage[] {
  const event = result.events.find((each) => each.name === USAGE_EVENT);
  if (event === undefined) {
    const reason = result.error ? `${result.error.name}: ${result.error.message}` : "no usage event";
    throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `reading action usage failed (${reason})`);
  }
  const parsed = usagePayloadSchema.safeParse(event.payload);
  if (!parsed.success) throw new SandboxError("DYNABOX_KERNEL_PROTOCOL", `unexpected action usage report: ${parsed.error.message}`);
  return Object.entries(parsed.data)
    .filter(([, counts]) => counts.calls > 0)
    .map(([name, counts]) => ({ name, version: counts.version, calls: counts.calls, errors: counts.errors }))
    .sort((a, b) => a.name.localeCompare(b.name));
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
}

/**
 * One importable Python module with the given actions (normally every current one): imports
 * deduplicated at the top (`from __future__` first), functions in dependency order, and a header
 * comment with each action's version and provenance, and the names nothing in the module defines.
 */
export function exportModule(actions: readonly LibraryAction[], info: ExportInfo = {}): string {
  const { ordered, missing } = resolveDependencies(actions, lookupIn(actions));
  const futures: string[] = [];
  const imports: string[] = [];
  for (const action of ordered) {
    for (const statement of action.imports) {
      const target = statement.startsWith("from __future__ import") ? futures : imports;
      if (!target.includes(statement)) target.push(statement);
    }
  }
  const defined = new Set(ordered.map((action) => action.name));
  const importers = new Map<string, Set<string>>();
  for (const statement of imports) {
    for (const name of boundNames(statement)) importers.set(name, (importers.get(name) ?? new Set()).add(statement));
  }
  const header = [
    "# dynabox action library export",
    `# generated ${(info.generatedAt ?? new Date()).toISOString()}${info.library ? ` from ${info.library}` : ""}: ${ordered.length} action(s), latest promoted versions`,
    "#",
  ];
  for (const action of ordered) {
    header.push(
      `# ${action.name} v${action.version}: from task ${action.taskId} (run ${action.runId}, step ${action.step}); ` +
        `used in ${action.uses} task(s), ${action.successes} passed, ${action.failures} failed`,
    );
  }
  const unresolved = ordered
    .map((action) => ({ name: action.name, names: action.freeNames.filter((name) => !defined.has(name)) }))
    .filter((entry) => entry.names.length > 0);
  if (unresolved.length > 0 || missing.length > 0) {
    header.push("#", "# Names these functions use that this module does not define (provide them before calling):");
    for (const entry of unresolved) header.push(`#   ${entry.name}: ${entry.names.join(", ")}`);
    if (missing.length > 0) header.push(`#   missing library functions: ${missing.join(", ")}`);
  }
  const clashes = [...importers.entries()].filter(([, statements]) => statements.size > 1);
  for (const [name, statements] of clashes) {
    header.push(`# warning: ${name} is imported in ${statements.size} different ways; the last one wins: ${[...statements].join(" | ")}`);
  }
  const parts = [header.join("\n")];
  if (futures.length > 0) parts.push(futures.join("\n"));
  if (imports.length > 0) parts.push(imports.join("\n"));
  parts.push(`__all__ = [${ordered.map((action) => JSON.stringify(action.name)).join(", ")}]`);
  const body = ordered.map((action) => action.source.replace(/\s+$/, ""));
  return `${parts.join("\n\n")}\n\n\n${body.join("\n\n\n")}${body.length > 0 ? "\n" : ""}`;
}
