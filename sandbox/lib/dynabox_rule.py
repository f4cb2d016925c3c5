"""The rule every action of dynabox's library meets, checked wherever an action crosses a boundary.

An action is agent-written code that later runs in other tasks' kernels and in exported modules.
Its body runs only when someone calls it; this rule makes sure that *defining* it runs nothing
and binds nothing but its own name and the names its imports bind:

- the name is an ASCII identifier, not a keyword, not a builtin, not one of the agent's initial
  actions, and does not start with "__" or "dynabox"/"_dynabox";
- the source is exactly one top-level `def` or `async def` of that name: no decorators, no type
  parameters; default values are literals (numbers, strings, bytes, None, True, False, ...,
  and tuples, lists, sets and dicts of literals); annotations are names, dotted names,
  subscripts, `|` unions, literal constants and strings of the same shapes, never calls;
- each import is one canonical statement (`import a.b as c` for one module, `from a.b import c as d, e`, or
  `from __future__ import annotations`): no star imports, no relative imports, and every name
  it binds passes the name rule.

The checker is self-contained (standard library only) because `dynabox actions export` copies
it into the exported module, which checks each action again when it is imported.
"""

import ast
import builtins
import keyword

__all__ = ["name_problem", "import_problem", "action_problem"]

# The functions `dynabox_actions` defines in every agent kernel: an action of the same name
# would replace them for every later task.
INITIAL_ACTIONS = frozenset(
    [
        "list_files",
        "read_file",
        "write_file",
        "copy_file",
        "inspect_script_lines",
        "execute_script",
        "search_actions",
        "submit",
    ]
)
_RESERVED = frozenset(dir(builtins)) | INITIAL_ACTIONS
_FUTURE_FEATURES = frozenset(["annotations"])
_MAX_ANNOTATION_DEPTH = 3


def name_problem(name):
    """Why `name` may not be an action's name or a name its imports bind; None when it may."""
    if not isinstance(name, str) or not name:
        return "the name is empty or not a string"
    if not name.isascii() or not name.isidentifier():
        return "%r is not an ASCII Python identifier" % (name,)
    if keyword.iskeyword(name) or name in getattr(keyword, "softkwlist", ()):
        return "%r is a Python keyword" % (name,)
    if name.startswith("__"):
        return "%r starts with '__'" % (name,)
    if name.lower().startswith("dynabox") or name.lower().startswith("_dynabox"):
        return "%r is reserved for dynabox" % (name,)
    if name in _RESERVED:
        return "%r would replace a builtin or an initial action" % (name,)
    return None


def import_problem(statement):
    """Why `statement` may not be one of an action's imports; None when it may."""
    if not isinstance(statement, str):
        return "an import is not a string"
    try:
        tree = ast.parse(statement, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "an import does not parse"
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Import, ast.ImportFrom)):
        return "an import must be exactly one import statement"
    node = tree.body[0]
    if ast.unparse(node) != statement:
        return "an import must be written canonically (%r)" % (ast.unparse(node),)
    if isinstance(node, ast.Import) and len(node.names) != 1:
        return "an import statement must import one module"
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return "relative imports are not allowed"
        if node.module == "__future__":
            unknown = [alias.name for alias in node.names if alias.name not in _FUTURE_FEATURES or alias.asname]
            return "only 'from __future__ import annotations' is allowed" if unknown else None
        if any(not part.isascii() or part.startswith("__") for part in node.module.split(".")):
            return "module %r is not allowed in an import" % (node.module,)
    for alias in node.names:
        if alias.name == "*":
            return "star imports are not allowed"
        for part in alias.name.split("."):
            if not part.isascii() or part.startswith("__"):
                return "module or name %r is not allowed in an import" % (alias.name,)
        bound = alias.asname or alias.name.split(".")[0]
        problem = name_problem(bound)
        if problem is not None:
            return "the import binds a name that is not allowed: %s" % problem
    return None


def action_problem(source, name):
    """Why `source` may not be the action `name`; None when defining it runs nothing of its own."""
    problem = name_problem(name)
    if problem is not None:
        return problem
    if not isinstance(source, str) or not source.strip():
        return "the source is empty"
    try:
        tree = ast.parse(source, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return "the source does not parse (%s)" % type(error).__name__
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "the source must be exactly one function definition"
    node = tree.body[0]
    if node.name != name:
        return "the source defines %r, not %r" % (node.name, name)
    if node.decorator_list:
        return "decorators are not allowed (they run when the function is defined)"
    if getattr(node, "type_params", None):
        return "type parameters are not allowed"
    arguments = node.args
    for default in list(arguments.defaults) + [each for each in arguments.kw_defaults if each is not None]:
        if not _is_literal(default):
            return "default values must be literals (%s)" % _shown(default)
    annotated = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
    annotated += [each for each in (arguments.vararg, arguments.kwarg) if each is not None]
    annotations = [each.annotation for each in annotated if each.annotation is not None]
    if node.returns is not None:
        annotations.append(node.returns)
    for annotation in annotations:
        if not _is_plain_annotation(annotation, 0):
            return "annotations must be names, dotted names, subscripts or unions (%s)" % _shown(annotation)
    return None


def _is_literal(node):
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        return isinstance(operand, ast.Constant) and type(operand.value) in (int, float, complex)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(each) for each in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None and _is_literal(key) for key in node.keys) and all(_is_literal(value) for value in node.values)
    return False


def _is_plain_annotation(node, depth):
    if isinstance(node, ast.Name):
        return not node.id.startswith("__")
    if isinstance(node, ast.Attribute):
        return not node.attr.startswith("_") and _is_plain_annotation(node.value, depth)
    if isinstance(node, ast.Subscript):
        return _is_plain_annotation(node.value, depth) and _is_plain_annotation(node.slice, depth)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_plain_annotation(each, depth) for each in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_plain_annotation(node.left, depth) and _is_plain_annotation(node.right, depth)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return node.value is None or node.value is Ellipsis or type(node.value) in (int, bool)
        # A string annotation is evaluated later (typing.get_type_hints): it must have the same shape.
        if depth >= _MAX_ANNOTATION_DEPTH:
            return False
        try:
            inner = ast.parse(node.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return _is_plain_annotation(inner, depth + 1)
    index = getattr(ast, "Index", None)  # Python 3.8 wraps subscripts in Index
    if index is not None and isinstance(node, index):
        return _is_plain_annotation(node.value, depth)
    return False


def _shown(node):
    try:
        text = ast.unparse(node)
    except Exception:  # unparse of an odd tree must not hide the real problem
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."
