"""How a caller builds one argv item: its fixed text and the expressions that vary.

``'of=%s' % volume_file`` is the fixed ``of=`` and the expression ``volume_file``;
``'%s/%s' % (self.vg_name, name)`` is two expressions around a fixed ``/``. A generated function
keeps the fixed text in its argv exactly as the caller wrote it and takes one parameter per
expression, so ``dd`` still gets ``of=PATH`` and the contract checks only the path.

Understood: ``%`` formatting (positional or by name, ``%s``/``%d``/``%i``/``%r`` without flags),
``+`` of strings, f-strings without format specs, ``'...'.format(...)`` with ``{}`` or ``{0}``
fields, ``SEP.join((a, b))`` of a literal tuple or list, and ``str(x)``. Anything else is one
expression.
"""

from __future__ import annotations

import ast
import re

_PERCENT = re.compile(r"%(?:\((\w+)\))?([sdir])|%%")
_BRACES = re.compile(r"\{(\d*)\}|\{\{|\}\}")


class Expr(str):
    """The source text of a varying expression inside a template (a `str`, to compare easily)."""


def parse(source: str) -> tuple[str | Expr, ...]:
    """The parts of the argv item whose source is `source`; one `Expr` when not understood."""
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return (Expr(source),)
    parts = _parts(node)
    if parts is None:
        return (Expr(source),)
    return _merge(parts)


def _parts(node: ast.expr) -> list[str | Expr] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _parts(node.left), _parts(node.right)
        if left is None or right is None:
            return None
        return left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            return _percent(node.left.value, node.right)
        return None
    if isinstance(node, ast.JoinedStr):
        return _fstring(node)
    if isinstance(node, ast.Call):
        return _call(node)
    return [_expr(node)]


def _expr(node: ast.expr) -> Expr:
    return Expr(ast.unparse(node))


def _percent(template: str, right: ast.expr) -> list[str | Expr] | None:
    """``'of=%s' % x``, ``'%s/%s' % (a, b)``, ``'if=%(path)s' % {'path': p}``."""
    if isinstance(right, ast.Tuple):
        values = list(right.elts)
    elif isinstance(right, ast.Dict):
        values = []
    else:
        values = [right]
    named = {}
    if isinstance(right, ast.Dict):
        for key, value in zip(right.keys, right.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            named[key.value] = value
    out: list[str | Expr] = []
    position, index = 0, 0
    for match in _PERCENT.finditer(template):
        out.append(template[position:match.start()])
        position = match.end()
        if match.group(0) == "%%":
            out.append("%")
            continue
        if match.group(1):
            if match.group(1) not in named:
                return None
            out.append(_expr(named[match.group(1)]))
        else:
            if index >= len(values):
                return None
            out.append(_expr(values[index]))
            index += 1
    if index != len(values) or "%" in _PERCENT.sub("", template):
        return None  # a flag or width (%05d): not a plain substitution
    out.append(template[position:])
    return out


def _fstring(node: ast.JoinedStr) -> list[str | Expr] | None:
    out: list[str | Expr] = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            out.append(value.value)
        elif (isinstance(value, ast.FormattedValue) and value.format_spec is None
              and value.conversion in (-1, ord("s"))):
            out.append(_expr(value.value))
        else:
            return None
    return out


def _call(node: ast.Call) -> list[str | Expr] | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "str" and len(node.args) == 1:
        return None if node.keywords else [_expr(node.args[0])]
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant)
            and isinstance(func.value.value, str)):
        return [_expr(node)]
    text = func.value.value
    joined = node.args[0] if len(node.args) == 1 else None
    if func.attr == "join" and isinstance(joined, (ast.Tuple, ast.List)):
        out: list[str | Expr] = []
        for index, element in enumerate(joined.elts):
            if index:
                out.append(text)
            parts = _parts(element)
            if parts is None:
                return None
            out += parts
        return out
    if func.attr == "format" and not node.keywords:
        out = []
        position, index = 0, 0
        for match in _BRACES.finditer(text):
            out.append(text[position:match.start()])
            position = match.end()
            if match.group(0) in ("{{", "}}"):
                out.append(match.group(0)[0])
                continue
            number = int(match.group(1)) if match.group(1) else index
            index += 1
            if number >= len(node.args):
                return None
            out.append(_expr(node.args[number]))
        if "{" in _BRACES.sub("", text) or "}" in _BRACES.sub("", text):
            return None
        out.append(text[position:])
        return out
    return [_expr(node)]


def _merge(parts: list[str | Expr]) -> tuple[str | Expr, ...]:
    """Adjacent literal text joined, empty text dropped."""
    out: list[str | Expr] = []
    for part in parts:
        if isinstance(part, Expr):
            out.append(part)
        elif part:
            if out and not isinstance(out[-1], Expr):
                out[-1] = out[-1] + part
            else:
                out.append(part)
    return tuple(out)


def literal_text(parts: tuple[str | Expr, ...]) -> tuple[str, ...]:
    """The fixed text of a template, with a marker where each expression goes: its shape."""
    return tuple("\0" if isinstance(part, Expr) else part for part in parts)


def split_literal(value: str, shape: tuple[str, ...]) -> list[str] | None:
    """The values a literal argv item gives each expression of `shape`, or None if it does not fit.

    ``'of=/dev/null'`` against ``('of=', EXPR)`` gives ``['/dev/null']``. Two expressions side by
    side cannot be told apart, so such a shape fits no literal.
    """
    pattern = "".join("(.*)" if text == "\0" else re.escape(text) for text in shape)
    if "(.*)(.*)" in pattern:
        return None
    match = re.fullmatch(pattern, value, re.DOTALL)
    return list(match.groups()) if match else None
