"""Finds the top-level functions of a code cell, for dynabox's action library.

Runs in an extraction sandbox of its own, never in the agent's kernel: the host sends it only
the text of a cell the agent ran, and this module parses it (`ast`, `symtable`) without running
any of it. So nothing the agent does in its kernel has a say in what becomes a candidate. The
host calls `emit_extracted(code)`: the result goes back as one event.

Every function is checked against the library's rule (`dynabox_rule`): one that breaks it is
reported under `rejected`, never as a candidate. The report also lists the global names the
cell refers to and binds, from which the host counts which library actions the cell used.

Per function: its exact source text (comments kept, sliced by line numbers, never unparsed),
the snippet's import statements it needs (aliases kept), the other functions of the snippet it
refers to, and the free names nothing in the snippet provides (so a loader can tell what is
unresolved). `normal_form` is the AST without docstring and positions, plus the imports it
needs: equal normal forms mean the same function, whatever the comments and layout.
"""

import ast
import builtins
import copy
import re
import symtable

import dynabox_rule

__all__ = ["extract", "analyze", "emit_extracted", "emit_checked"]

_BUILTIN_NAMES = frozenset(dir(builtins))
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def emit_extracted(code):
    """Analyzes `code` and emits the result as the event `actions-extracted`; returns None."""
    import dynabox

    dynabox.emit("actions-extracted", analyze(code))


def emit_checked(entries):
    """Checks [{name, source, imports}] against the rule; emits `actions-checked`: a reason or None each."""
    import dynabox

    problems = []
    for entry in entries:
        problem = dynabox_rule.action_problem(entry.get("source"), entry.get("name"))
        for statement in entry.get("imports") or []:
            problem = problem or dynabox_rule.import_problem(statement)
        problems.append(problem)
    dynabox.emit("actions-checked", problems)


def analyze(code):
    """{functions, rejected, references, bindings} of a cell; all empty when it does not parse."""
    try:
        tree = ast.parse(code, mode="exec")
        table = symtable.symtable(code, "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {"functions": [], "rejected": [], "references": [], "bindings": []}
    functions, rejected = [], []
    for found in _extract(code, tree, table):
        problem = dynabox_rule.action_problem(found["source"], found["name"])
        for statement in found["imports"]:
            problem = problem or dynabox_rule.import_problem(statement)
        if problem is None:
            functions.append(found)
        else:
            rejected.append({"name": found["name"], "reason": problem})
    references, bindings = _cell_names(table)
    return {"functions": functions, "rejected": rejected, "references": references, "bindings": bindings}


def extract(code):
    """The top-level functions of `code` (the last definition of each name), unchecked; [] if it does not parse."""
    try:
        tree = ast.parse(code, mode="exec")
        table = symtable.symtable(code, "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return _extract(code, tree, table)


def _cell_names(table):
    """Global names the cell refers to (anywhere, nested code too) and names it binds at top level."""
    references = set()
    bindings = set()
    for symbol in table.get_symbols():
        if symbol.is_referenced():
            references.add(symbol.get_name())
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
            bindings.add(symbol.get_name())
    for child in table.get_children():
        references |= _global_symbols(child)
        bindings |= _global_assignments(child)
    return sorted(references), sorted(bindings)


def _global_assignments(table):
    names = set()
    for symbol in table.get_symbols():
        if symbol.is_declared_global() and symbol.is_assigned():
            names.add(symbol.get_name())
    for child in table.get_children():
        names |= _global_assignments(child)
    return names


def _extract(code, tree, table):
    lines = _LINE.findall(code)
    future_annotations = any(
        isinstance(node, ast.ImportFrom) and node.module == "__future__" and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    bindings = _import_bindings(tree)
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node  # a later definition replaces an earlier one, as it does when run
    tables = {}
    for child in table.get_children():
        if child.get_type() == "function":
            tables[(child.get_name(), child.get_lineno())] = child

    extracted = []
    for name, node in functions.items():
        used = _used_names(node, tables.get((name, node.lineno)), future_annotations)
        unresolved = used - _BUILTIN_NAMES - set(bindings) - set(functions)
        imports = _needed_imports(tree, used, bindings)
        dependencies = sorted(used & (set(functions) - {name}))
        free = sorted(unresolved)
        extracted.append(
            {
                "name": name,
                "is_async": isinstance(node, ast.AsyncFunctionDef),
                "signature": _signature(node),
                "docstring": ast.get_docstring(node, clean=True),
                "source": _source(node, lines),
                "imports": imports,
                "dependencies": dependencies,
                "free_names": free,
                "normal_form": _normal_form(node, imports),
                "line": node.lineno,
            }
        )
    return extracted


def _signature(node):
    text = "%s(%s)" % (node.name, ast.unparse(node.args))
    if node.returns is not None:
        text += " -> " + ast.unparse(node.returns)
    return text


def _source(node, lines):
    """The function's original text, decorators included; trailing indented comments kept."""
    start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
    end = node.end_lineno
    indent = node.col_offset
    # Comments after the last statement but still inside the body belong to the function.
    probe = end
    while probe < len(lines):
        text = lines[probe]
        stripped = text.strip()
        if stripped == "":
            probe += 1
            continue
        if stripped.startswith("#") and len(text) - len(text.lstrip()) > indent:
            probe += 1
            end = probe
            continue
        break
    return "".join(lines[start - 1 : end]).rstrip("\r\n")


def _import_bindings(tree):
    """Name bound at module level by an import -> (statement index, alias index)."""
    bindings = {}
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            for position, alias in enumerate(node.names):
                bound = alias.asname or alias.name.split(".")[0]
                bindings[bound] = (index, position)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for position, alias in enumerate(node.names):
                if alias.name != "*":
                    bindings[alias.asname or alias.name] = (index, position)
    return bindings


def _needed_imports(tree, used, bindings):
    """The snippet's import statements, narrowed to the aliases the function uses, in order."""
    wanted = {}
    for name in used:
        if name in bindings:
            index, position = bindings[name]
            wanted.setdefault(index, set()).add(position)
    statements = []
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            statements.append(ast.unparse(node))
            continue
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            continue  # never carried: a star import binds names nobody can check
        if index not in wanted:
            continue
        aliases = [alias for position, alias in enumerate(node.names) if position in wanted[index]]
        if isinstance(node, ast.Import):
            for alias in aliases:
                statements.append(ast.unparse(ast.Import(names=[alias])))
        else:
            statements.append(ast.unparse(ast.ImportFrom(module=node.module, names=aliases, level=node.level)))
    # The same binding may come from two statements; a later import wins, as it does when run.
    seen = set()
    unique = []
    for statement in statements:
        if statement not in seen:
            seen.add(statement)
            unique.append(statement)
    return unique


def _used_names(node, table, future_annotations):
    """Global names the function reads or writes, at definition time or when called."""
    used = set()
    # Decorators, defaults and (unless postponed) annotations run where the def statement is.
    evaluated = list(node.decorator_list) + list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]
    if not future_annotations:
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        arguments += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
        evaluated += [a.annotation for a in arguments if a.annotation is not None]
        if node.returns is not None:
            evaluated.append(node.returns)
    for expression in evaluated:
        for inner in ast.walk(expression):
            if isinstance(inner, ast.Name):
                used.add(inner.id)
    if table is not None:
        used |= _global_symbols(table)
    return used


def _global_symbols(table):
    names = set()
    for symbol in table.get_symbols():
        if symbol.is_global() and (symbol.is_referenced() or symbol.is_assigned()):
            names.add(symbol.get_name())
    for child in table.get_children():
        names |= _global_symbols(child)
    return names


def _normal_form(node, imports):
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:] or [ast.Pass()]
    stripped = copy.copy(node)
    stripped.body = body
    parts = [ast.dump(ast.parse(statement).body[0]) for statement in imports]
    parts.append(ast.dump(stripped))
    return "\n".join(parts)
