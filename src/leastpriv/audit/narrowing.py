"""Narrowing: the checks and annotations that confine a parameter, so its flows stop counting.

A check in the body -- containment in a fixed root after normalisation, a regex match, a membership
or equality test -- confines the checked name on the branch where it held; a contract annotation
(``Annotated[str, PathUnder(...)]``, or a module-level alias of one) confines the parameter from
the start.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

from leastpriv.audit.astnames import callee_tail, dotted_name, is_fixed

_CHECK_METHODS = frozenset({"is_relative_to", "isdigit", "isalnum", "isidentifier", "isdecimal"})
_REGEX_FUNCS = frozenset({"re.match", "re.fullmatch", "re.search"})
_VALIDATOR_SUFFIXES = (
    "is_uuid_like",
    "valid_ipv4",
    "valid_ipv6",
    "valid_mac",
    "is_valid_ipv4",
    "is_valid_ipv6",
    "is_valid_mac",
    "is_valid_cidr",
)
# A call that is itself a check: the names it confines when it returns true (a helper of the
# module whose body is ``return name in CORES``), given by the data flow, which knows the helpers.
Predicate = Callable[[ast.Call], set[str]]


# leastpriv contract markers that make a parameter narrow (``Annotated[str, PathUnder(...)]``).
_NARROWING_MARKERS = frozenset({"PathUnder", "Match", "OneOf", "Range", "Literal"})


def holds_when(
    test: ast.expr, outcome: bool, normalised: set[str], predicate: Predicate | None = None
) -> set[str]:
    """Names that a narrowing check has confined when `test` evaluated to `outcome`."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return holds_when(test.operand, not outcome, normalised, predicate)
    if isinstance(test, ast.BoolOp):
        # ``a and b`` true: both hold; ``a or b`` false: neither held, so both negations hold.
        if isinstance(test.op, ast.And) == outcome:
            return set().union(
                *(holds_when(v, outcome, normalised, predicate) for v in test.values)
            )
        return set()
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        right = test.comparators[0]
        if isinstance(test.ops[0], ast.Is | ast.IsNot) and is_none(right):
            # re.fullmatch(...) is not None: the match itself
            same = isinstance(test.ops[0], ast.IsNot) == outcome
            return holds_when(test.left, same, normalised, predicate)
        return _compare_narrows(test, outcome)
    if isinstance(test, ast.Call) and outcome:
        return _call_narrows(test, normalised) | (predicate(test) if predicate else set())
    return set()


def is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _compare_narrows(test: ast.Compare, outcome: bool) -> set[str]:
    op, right = test.ops[0], test.comparators[0]
    positive = isinstance(op, ast.In | ast.Eq | ast.Is)
    if not isinstance(op, ast.In | ast.NotIn | ast.Eq | ast.NotEq | ast.Is | ast.IsNot):
        return set()
    if positive != outcome:
        return set()
    left = test.left
    if isinstance(left, ast.Call) and callee_tail(left) == "commonpath":
        return {n.id for n in ast.walk(left) if isinstance(n, ast.Name)}
    checked = _checked_name(left)
    if checked is not None and (is_fixed(right) or _computed(right)):
        return {checked}
    return set()


def _checked_name(node: ast.expr) -> str | None:
    """The name a check confines: a variable, or an attribute of one (``self.name``), dotted."""
    if isinstance(node, ast.Name):
        return node.id
    return dotted_name(node) if isinstance(node, ast.Attribute) else None


def _computed(node: ast.expr) -> bool:
    """A collection the code computes from fixed arguments (``netns.listnetns()``,
    ``get_available_cores()``): a value found in it is one the system has, not the caller's."""
    return (
        isinstance(node, ast.Call)
        and all(is_fixed(arg) for arg in node.args)
        and all(is_fixed(k.value) for k in node.keywords)
    )


def _call_narrows(test: ast.Call, normalised: set[str]) -> set[str]:
    tail = callee_tail(test)
    func = test.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        receiver = func.value.id
        if tail == "startswith":
            # A prefix test only confines a path once ``..`` and symlinks are resolved.
            return {receiver} if receiver in normalised else set()
        if tail in _CHECK_METHODS:
            return {receiver}
    regex = tail in ("match", "fullmatch") or dotted_name(func) in _REGEX_FUNCS
    if regex or tail.endswith(_VALIDATOR_SUFFIXES):
        return {name for a in test.args if (name := _checked_name(a)) is not None}
    return set()



def wide_params(
    func: ast.FunctionDef | ast.AsyncFunctionDef, aliases: Mapping[str, ast.expr]
) -> list[str]:
    """Parameters not already narrowed by a contract annotation (or a module-level alias of one)."""
    args = func.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [
        a.arg
        for a in every
        if a.arg not in ("self", "cls") and not narrowing_annotation(a.annotation, aliases)
    ]


def narrowing_annotation(
    annotation: ast.expr | None,
    aliases: Mapping[str, ast.expr],
    seen: frozenset[str] = frozenset(),
) -> bool:
    """True when `annotation` has a leastpriv marker (PathUnder, Match, OneOf, Range) or Literal,
    written in it or in a module-level alias it names (`seen` stops alias cycles)."""
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in aliases and node.id not in seen:
            if narrowing_annotation(aliases[node.id], aliases, seen | {node.id}):
                return True
            continue
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else None
        )
        if name in _NARROWING_MARKERS:
            return True
    return False

