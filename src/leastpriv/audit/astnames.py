"""Reading names and call shapes off the AST: small, shared by the visitor and the data flow."""

from __future__ import annotations

import ast


def dotted_name(node: ast.expr) -> str | None:
    """``os.path.join`` for that attribute chain; None when it does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def base_name(node: ast.expr) -> str | None:
    """The variable an attribute or subscript chain starts at (``cmd`` for ``cmd[0].x``)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def callee_tail(node: ast.Call) -> str:
    """The last name of the callee: ``startswith`` for ``path.startswith(x)``."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def call_operands(node: ast.Call) -> list[ast.expr]:
    """Every argument expression, positional then keyword."""
    return [*node.args, *(k.value for k in node.keywords)]


def first_arg(node: ast.Call) -> ast.expr | None:
    """The first positional argument (unstarred), else the ``args=`` keyword."""
    if node.args:
        first = node.args[0]
        return first.value if isinstance(first, ast.Starred) else first
    for keyword in node.keywords:
        if keyword.arg == "args":
            return keyword.value
    return None


def keyword_true(node: ast.Call, name: str) -> bool:
    """True when the call passes ``name=True`` literally."""
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    )


def is_fixed(node: ast.expr) -> bool:
    """A constant, a literal collection of constants, or a module-level NAME in capitals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    if isinstance(node, ast.Dict):
        return True
    name = dotted_name(node)
    return name is not None and name.rsplit(".", 1)[-1].isupper()
