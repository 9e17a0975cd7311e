"""The annotation compiler: each parameter's annotation becomes a `Rule`, once, at decoration.

A `Rule` holds two checks of one value: `to_wire` (the caller's Python value -> the plain value
msgpack sends) and `from_wire` (what came off the socket -> the value the function receives). Both
raise `Refused`. Only the types that travel over the channel compile; anything else is
`Unsupported` (a `PolicyError`, or a `PolicyWarning` with ``strict=False``).
"""

from __future__ import annotations

import enum
import sys
import types
import typing
import warnings
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from leastpriv.errors import PolicyError
from leastpriv.markers import AllowNonFinite, Check, Marker, Refused, short, type_name
from leastpriv.paths import CheckedPath

__all__ = ["UNCHECKED", "PolicyWarning", "Rule", "Unsupported", "compile_annotation"]

_SCALARS: tuple[type, ...] = (bool, int, float, str, bytes)
_NONE_TYPE = type(None)
# Values an Enum member or a Literal may carry and still travel as itself.
_PLAIN_VALUES: tuple[type, ...] = (_NONE_TYPE, bool, int, float, str, bytes)


class PolicyWarning(UserWarning):
    """Warned instead of raising `PolicyError` when a contract is built with ``strict=False``."""


class Unsupported(Exception):
    """An annotation leastpriv cannot check; strict contracts raise it as PolicyError."""


class Rule:
    """The compiled check of one annotation.

    `to_wire` takes a caller's Python value and returns the plain value msgpack sends; `from_wire`
    takes what came off the socket and rebuilds the Python value (Enum members, tuples). Both raise
    `Refused`. `same` says both return their input unchanged (lets containers skip copying);
    `kind` is the Python type markers see, None for unions and mixed literals.
    """

    __slots__ = ("from_wire", "kind", "same", "to_wire")

    def __init__(self, to_wire: Check, from_wire: Check | None = None, *, kind: type | None,
                 same: bool) -> None:
        self.to_wire = to_wire
        self.from_wire = from_wire if from_wire is not None else to_wire
        self.kind = kind
        self.same = same


def _unchecked(value: Any) -> Any:
    return value


UNCHECKED = Rule(_unchecked, kind=None, same=True)


def _exact_type(expected: type) -> Rule:
    name = expected.__name__
    # A path PathUnder checked is a str subclass; it is taken as the plain str it is, so that a
    # function can hand it on to another entrypoint, where it is checked again.
    also = CheckedPath if expected is str else None

    def check_exact(value: Any) -> Any:
        if type(value) is expected:
            return value
        if type(value) is also:
            return str(value)
        raise Refused(f"expected {name}, got {type_name(value)}")

    return Rule(check_exact, kind=expected, same=True)


# msgpack carries integers from -2**63 to 2**64 - 1; refusing others here gives a clear
# ContractViolation instead of an OverflowError from the encoder.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_INT_RANGE_RULE = "integer outside the 64-bit range the channel carries"


# The largest finite float: a chained comparison with it is false for NaN and both infinities.
_FLOAT_MAX = sys.float_info.max


def _number_rule(declared: type, *, finite: bool = True) -> Rule:
    """``int``, or ``float``, which takes an int as well (Python's own numeric tower) and refuses
    NaN and the infinities unless not `finite` (``Annotated[float, AllowNonFinite()]``)."""
    takes_float = declared is float
    expected = f"expected {declared.__name__}"

    def check_number(value: Any) -> Any:
        kind = type(value)
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise Refused(_INT_RANGE_RULE)
        if kind is float and takes_float:
            if not finite or -_FLOAT_MAX <= value <= _FLOAT_MAX:
                return value
            raise Refused(f"{value!r} is not a finite number")
        raise Refused(f"{expected}, got {type_name(value)}")

    return Rule(check_number, kind=declared, same=True)


def _none_rule() -> Rule:
    def check_none(value: Any) -> Any:
        if value is None:
            return None
        raise Refused(f"expected None, got {type_name(value)}")

    return Rule(check_none, kind=_NONE_TYPE, same=True)


def _element_checker(element: Check, same: bool) -> Callable[[Iterable[Any]], Any]:
    """Checks every item; returns a list of converted items, or None when `same` (no copy)."""

    def check_items(items: Iterable[Any]) -> list[Any] | None:
        try:
            if same:
                for item in items:
                    element(item)
                return None
            return [element(item) for item in items]
        except Refused:
            pass
        # The slow path only runs on failure: walk again to say which item failed.
        for index, item in enumerate(items):
            try:
                element(item)
            except Refused as refusal:
                raise refusal.inside(f"[{index}]") from None
        raise AssertionError("unreachable: an item failed once and passed the second time")

    return check_items


def _sequence_rule(element: Rule, sequence: type[list[Any]] | type[tuple[Any, ...]]) -> Rule:
    """``list[T]`` or ``tuple[T, ...]``: both travel as a list and are rebuilt as declared."""
    to_items = _element_checker(element.to_wire, element.same)
    from_items = _element_checker(element.from_wire, element.same)
    name = sequence.__name__

    def sequence_to_wire(value: Any) -> Any:
        if type(value) is not sequence:
            raise Refused(f"expected {name}, got {type_name(value)}")
        converted = to_items(value)
        if converted is not None:
            return converted
        return value if sequence is list else list(value)

    def sequence_from_wire(value: Any) -> Any:
        # Accept either sequence type: which one the decoder builds is the codec's choice.
        if type(value) is not list and type(value) is not tuple:
            raise Refused(f"expected {name}, got {type_name(value)}")
        converted = from_items(value)
        if converted is None and type(value) is sequence:
            return value
        return sequence(value if converted is None else converted)

    return Rule(sequence_to_wire, sequence_from_wire, kind=sequence, same=False)


def _fixed_tuple_rule(elements: list[Rule]) -> Rule:
    size = len(elements)
    to_checks = [rule.to_wire for rule in elements]
    from_checks = [rule.from_wire for rule in elements]

    def check_fixed(value: Any, checks: list[Check]) -> list[Any]:
        if len(value) != size:
            raise Refused(f"expected {size} items, got {len(value)}")
        converted = []
        for index, (check, item) in enumerate(zip(checks, value, strict=True)):
            try:
                converted.append(check(item))
            except Refused as refusal:
                raise refusal.inside(f"[{index}]") from None
        return converted

    def fixed_to_wire(value: Any) -> Any:
        if type(value) is not tuple:
            raise Refused(f"expected tuple, got {type_name(value)}")
        return check_fixed(value, to_checks)

    def fixed_from_wire(value: Any) -> Any:
        if type(value) is not list and type(value) is not tuple:
            raise Refused(f"expected tuple, got {type_name(value)}")
        return tuple(check_fixed(value, from_checks))

    return Rule(fixed_to_wire, fixed_from_wire, kind=tuple, same=False)


def _dict_checker(key: Check, value_check: Check, same: bool) -> Check:
    def check_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise Refused(f"expected dict, got {type_name(value)}")
        converted: dict[str, Any] | None = None if same else {}
        for item_key, item in value.items():
            try:
                checked_key = key(item_key)
            except Refused as refusal:
                raise refusal.inside(f"[key {short(item_key)}]") from None
            try:
                checked = value_check(item)
            except Refused as refusal:
                raise refusal.inside(f"[{short(item_key)}]") from None
            if converted is not None:
                converted[checked_key] = checked
        return value if converted is None else converted

    return check_dict


def _dict_rule(key: Rule, element: Rule) -> Rule:
    if key.kind is not str:
        raise Unsupported("dict keys must be str (or Annotated/Literal str)")
    same = key.same and element.same
    return Rule(_dict_checker(key.to_wire, element.to_wire, same),
                 _dict_checker(key.from_wire, element.from_wire, same), kind=dict, same=same)


def _union_rule(alternatives: list[Rule]) -> Rule:
    non_none = [rule for rule in alternatives if rule.kind is not _NONE_TYPE]
    if len(non_none) == 1 and len(alternatives) == 2:
        return _optional_rule(non_none[0])
    names = " | ".join(rule.kind.__name__ if rule.kind else "union" for rule in alternatives)

    def first_accepting(direction: str) -> Check:
        checks = [getattr(rule, direction) for rule in alternatives]

        def check_union(value: Any) -> Any:
            # Declaration order decides: on the daemon side a value that several members accept
            # (an Enum's value and its plain type) becomes the first of them.
            for check in checks:
                try:
                    return check(value)
                except Refused:
                    continue
            raise Refused(f"expected {names}, got {type_name(value)}")

        return check_union

    return Rule(first_accepting("to_wire"), first_accepting("from_wire"), kind=None,
                 same=all(rule.same for rule in alternatives))


def _optional_rule(inner: Rule) -> Rule:
    def optional(check: Check) -> Check:
        def check_optional(value: Any) -> Any:
            return None if value is None else check(value)

        return check_optional

    return Rule(optional(inner.to_wire), optional(inner.from_wire), kind=None, same=inner.same)


def _literal_rule(values: tuple[Any, ...]) -> Rule:
    for value in values:
        if not isinstance(value, enum.Enum) and type(value) not in _PLAIN_VALUES:
            raise Unsupported(f"Literal value {value!r} does not travel")
    # Keyed by (type, value) so that Literal[1] refuses True and Literal["a"] refuses b"a".
    by_python = {(type(value), value): _wire_value(value) for value in values}
    by_wire = {(type(_wire_value(value)), _wire_value(value)): value for value in values}
    kinds = {type(value) for value in values}
    rule = f"must be one of {short(values)}"

    def lookup(table: dict[tuple[type, Any], Any]) -> Check:
        def check_literal(value: Any) -> Any:
            try:
                return table[(type(value), value)]
            except (KeyError, TypeError):  # TypeError: an unhashable value is no literal
                raise Refused(f"{short(value)} {rule}") from None

        return check_literal

    return Rule(lookup(by_python), lookup(by_wire), kind=kinds.pop() if len(kinds) == 1 else None,
                 same=not any(isinstance(value, enum.Enum) for value in values))


def _wire_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _enum_rule(cls: type[enum.Enum]) -> Rule:
    members = list(cls.__members__.values())
    for member in members:
        if type(member.value) not in _PLAIN_VALUES:
            raise Unsupported(f"{cls.__name__}.{member.name} has a value of type "
                               f"{type_name(member.value)}, which does not travel")
    by_wire = {(type(member.value), member.value): member for member in members}
    flag_bits = 0
    if issubclass(cls, enum.Flag):
        for member in members:
            flag_bits |= member.value
    name = cls.__name__

    def enum_to_wire(value: Any) -> Any:
        if type(value) is cls:
            return value.value
        raise Refused(f"expected {name}, got {type_name(value)}")

    def enum_from_wire(value: Any) -> Any:
        try:
            return by_wire[(type(value), value)]
        except (KeyError, TypeError):
            pass
        # A Flag value may combine members; it is valid when it sets only the members' bits.
        if flag_bits and type(value) is int and value & ~flag_bits == 0:
            return cls(value)
        raise Refused(f"{short(value)} is not a value of {name}")

    return Rule(enum_to_wire, enum_from_wire, kind=cls, same=False)


def _annotated_rule(base: Rule, metadata: tuple[Any, ...], strict: bool) -> Rule:
    # A marker that rewrites the value (PathUnder: the normalised path) runs first, wherever it is
    # written, so that every other marker judges the value the function receives, never a raw
    # spelling of it ("<root>/./x" would pass a Match the received "<root>/x" fails).
    metadata = tuple(sorted(metadata, key=lambda marker: not getattr(marker, "transforms", False)))
    checks = []
    for marker in metadata:
        if isinstance(marker, AllowNonFinite):
            marker._compile(base.kind, base)  # only says where it may apply; the base checks
        elif isinstance(marker, Marker):
            checks.append(marker._compile(base.kind, base))
        elif isinstance(marker, type) and issubclass(marker, Marker):
            raise PolicyError(f"use an instance of {marker.__name__}(...), not the class")
        else:
            # Metadata leastpriv does not understand would read as a constraint yet constrain
            # nothing; refuse it rather than let a reader believe the value is narrowed.
            _policy_problem(f"Annotated metadata {short(marker)} is not a leastpriv marker",
                            strict)
    if not checks:
        return base
    transforms = any(getattr(marker, "transforms", False) for marker in metadata)
    return Rule(_then(base.to_wire, checks, before=True),
                 _then(base.from_wire, checks, before=False),
                 kind=base.kind, same=base.same and not transforms)


def _then(base: Check, markers: list[Check], *, before: bool) -> Check:
    """Base check and markers in order; markers always see the Python value.

    Going to the wire (`before`), markers run on the caller's value before conversion; coming
    from the wire, after the value was rebuilt.
    """

    def run_markers(value: Any) -> Any:
        for marker in markers:
            value = marker(value)
        return value

    if before:
        def check_then_convert(value: Any) -> Any:
            wire = base(value)  # the exact type check comes first: markers rely on it
            checked = run_markers(value)
            return wire if checked is value else base(checked)

        return check_then_convert

    def convert_then_check(value: Any) -> Any:
        return run_markers(base(value))

    return convert_then_check


def _policy_problem(message: str, strict: bool) -> None:
    if strict:
        raise Unsupported(message)
    warnings.warn(message, PolicyWarning, stacklevel=4)


def compile_annotation(annotation: Any, strict: bool) -> Rule:
    """The `Rule` of one annotation; `Unsupported` for what cannot travel or be checked."""
    if annotation is Any or annotation is object:
        raise Unsupported(f"{_annotation_name(annotation)} accepts anything; name the type")
    if annotation is None or annotation is _NONE_TYPE:
        return _none_rule()
    if annotation is int or annotation is float:
        return _number_rule(annotation)
    if annotation in _SCALARS:
        return _exact_type(annotation)
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:  # typing.NewType
        return compile_annotation(supertype, strict)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        metadata = annotation.__metadata__
        if args[0] is float and any(isinstance(marker, AllowNonFinite) for marker in metadata):
            return _annotated_rule(_number_rule(float, finite=False), metadata, strict)
        return _annotated_rule(compile_annotation(args[0], strict), metadata, strict)
    if origin is Union or origin is types.UnionType:
        return _union_rule([compile_annotation(arg, strict) for arg in args])
    if origin is Literal:
        return _literal_rule(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_rule(annotation)
    # tuple[()] (the empty tuple) reads as no args, like the bare typing.Tuple alias it is told
    # apart from here; that alias is compared, not used as an annotation.
    if origin is tuple and not args and annotation is not typing.Tuple:  # noqa: UP006
        return _fixed_tuple_rule([])
    if origin in (list, tuple, dict) or annotation in (list, tuple, dict):
        return _container_rule(origin or annotation, args, strict)
    raise Unsupported(f"{_annotation_name(annotation)} does not travel over the channel")


def _container_rule(origin: type, args: tuple[Any, ...], strict: bool) -> Rule:
    if not args:
        raise Unsupported(f"bare {origin.__name__} does not say what it holds; "
                           f"write e.g. {origin.__name__}[str]")
    if origin is list:
        return _sequence_rule(compile_annotation(args[0], strict), list)
    if origin is dict:
        return _dict_rule(compile_annotation(args[0], strict), compile_annotation(args[1], strict))
    if len(args) == 2 and args[1] is Ellipsis:
        return _sequence_rule(compile_annotation(args[0], strict), tuple)
    if args == ((),):  # tuple[()] as Python 3.10 spells it
        return _fixed_tuple_rule([])
    return _fixed_tuple_rule([compile_annotation(arg, strict) for arg in args])


def _annotation_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
