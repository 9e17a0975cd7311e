"""Contracts: what each privileged function accepts, checked on both sides of the channel.

A privileged function declares its contract with ordinary type annotations, narrowed with markers::

    def chown_console_log_privileged(
        path: Annotated[str, PathUnder("/var/lib/myservice/instances")],
        uid: Annotated[int, Range(1000, 65533)],
    ) -> None: ...

`Contract.of` turns the annotations into validators once, at decoration time. The caller runs
`Contract.bind` (an early, clear error before anything is sent); the daemon runs `Contract.unbind`
on what came off the socket, and that check is the one that counts.

Only the types that travel over the channel are accepted: ``None, bool, int, float, str, bytes,
list[T], tuple[T, ...], tuple[A, B], dict[str, T], Optional/Union, Literal[...]``, `enum.Enum`
subclasses (sent by value) and ``Annotated[T, marker, ...]`` with the markers `PathUnder`, `Match`,
`OneOf`, `Range` and `MaxLen`. Type checks are exact: a bool is not an int, str and bytes never mix,
nothing is converted implicitly (an int is accepted where a float is declared, as in Python's own
numeric tower).
"""

from __future__ import annotations

import enum
import os
import re
import reprlib
import stat
import types
import typing
import warnings
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from leastpriv.errors import ContractViolation, PolicyError

__all__ = ["Contract", "Match", "MaxLen", "OneOf", "PathUnder", "PolicyWarning", "Range"]

Check = Callable[[Any], Any]

# The parameter name used in a ContractViolation about the payload as a whole (not one argument).
_WHOLE_PAYLOAD = "<arguments>"
_SCALARS: tuple[type, ...] = (bool, int, float, str, bytes)
_NONE_TYPE = type(None)
# Values an Enum member or a Literal may carry and still travel as itself.
_PLAIN_VALUES: tuple[type, ...] = (_NONE_TYPE, bool, int, float, str, bytes)


class PolicyWarning(UserWarning):
    """Warned instead of raising `PolicyError` when a contract is built with ``strict=False``."""


class _Refused(Exception):
    """A value failed a check; `location` says where inside a nested value (``[3]['key']``)."""

    def __init__(self, rule: str, location: str = "") -> None:
        super().__init__(rule)
        self.rule = rule
        self.location = location

    def inside(self, step: str) -> _Refused:
        return _Refused(self.rule, step + self.location)

    def describe(self) -> str:
        return f"{self.location}: {self.rule}" if self.location else self.rule


class _Unsupported(Exception):
    """An annotation leastpriv cannot check; strict contracts raise it as PolicyError."""


_short_repr = reprlib.Repr()
_short_repr.maxstring = 60
_short_repr.maxother = 60
_short_repr.maxlist = _short_repr.maxtuple = _short_repr.maxdict = 6
_short_repr.maxlevel = 3


def _short(value: Any) -> str:
    """A repr bounded in size: messages name the value, never echo a huge one."""
    if isinstance(value, (str, bytes)) and len(value) > 60:
        # reprlib would repr a whole bytes object before cutting it; slice first.
        return repr(value[:57]) + f"... ({len(value)} long)"
    try:
        return _short_repr.repr(value)
    except Exception:  # an int past sys.get_int_max_str_digits(), a __repr__ that raises
        return f"<{_type_name(value)} value>"


def _type_name(value: Any) -> str:
    return type(value).__name__


# ----------------------------------------------------------------------------------------------
# Markers


class Marker:
    """Base of the constraint markers used in ``Annotated[T, marker]``."""

    __slots__ = ()
    #: True when the marker hands on a rewritten value (PathUnder's normalised path).
    transforms = False

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        """A check of one (already type-checked) value; PolicyError if it cannot apply to `kind`."""
        raise NotImplementedError

    def _refuse_kind(self, kind: type | None) -> PolicyError:
        kind_name = kind.__name__ if kind is not None else "a union or mixed literal"
        return PolicyError(f"{self!r} cannot apply to {kind_name}")


class Range(Marker):
    """An int or float between `lo` and `hi`, both included."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo: int | float, hi: int | float) -> None:
        for bound in (lo, hi):
            if type(bound) not in (int, float) or bound != bound:  # excludes bool and NaN
                raise PolicyError(f"Range bounds must be int or float numbers, got {bound!r}")
        if lo > hi:
            raise PolicyError(f"Range({lo!r}, {hi!r}) is empty: lo is above hi")
        self.lo = lo
        self.hi = hi

    def __repr__(self) -> str:
        return f"Range({self.lo!r}, {self.hi!r})"

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        if kind not in (int, float):
            raise self._refuse_kind(kind)
        lo, hi = self.lo, self.hi
        rule = f"must be between {lo!r} and {hi!r}"

        def check_range(value: Any) -> Any:
            # Written as a positive test so that NaN, which compares false to everything, fails.
            if lo <= value <= hi:
                return value
            raise _Refused(f"{_short(value)} {rule}")

        return check_range


class MaxLen(Marker):
    """A str, bytes, list, tuple or dict of at most `n` items (characters for str)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        if type(n) is not int or n < 0:
            raise PolicyError(f"MaxLen needs a non-negative int, got {n!r}")
        self.n = n

    def __repr__(self) -> str:
        return f"MaxLen({self.n})"

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        if kind not in (str, bytes, list, tuple, dict):
            raise self._refuse_kind(kind)
        limit = self.n

        def check_length(value: Any) -> Any:
            if len(value) <= limit:
                return value
            raise _Refused(f"length {len(value)} exceeds the maximum {limit}")

        return check_length


class OneOf(Marker):
    """One of the listed values (compared by value, after the exact type check of `T`)."""

    __slots__ = ("values",)

    def __init__(self, *values: Any) -> None:
        if not values:
            raise PolicyError("OneOf needs at least one value")
        try:
            frozenset(values)
        except TypeError:
            raise PolicyError(f"OneOf values must be hashable, got {_short(values)}") from None
        self.values = values

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.values))})"

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        if kind in (list, tuple, dict):
            raise self._refuse_kind(kind)
        for value in self.values:
            try:
                base.to_wire(value)
            except _Refused as refusal:
                raise PolicyError(f"{self!r}: {value!r} is not a valid value of the type "
                                  f"it narrows ({refusal.describe()})") from None
        # The base check already made the type exact, so set membership (which would let True
        # match 1) only ever compares values of the declared type.
        allowed = frozenset(self.values)
        rule = f"must be one of {_short(self.values)}"

        def check_one_of(value: Any) -> Any:
            if value in allowed:
                return value
            raise _Refused(f"{_short(value)} {rule}")

        return check_one_of


# Line boundaries as str.splitlines() knows them, and NUL: the characters that let one value
# smuggle a second line into a config file, a log line or a command. A character class such as
# [^/]+ matches them, so Match refuses them whatever the pattern says unless told otherwise.
_STR_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00]")
_STR_NUL = re.compile("\x00")
_BYTES_BREAKS = re.compile(b"[\n\r\x00]")
_BYTES_NUL = re.compile(b"\x00")


class Match(Marker):
    """A str (or bytes, with a bytes pattern) that `regex` matches in full (`re.fullmatch`).

    Line breaks and NUL are refused even where the pattern would match them; pass
    ``allow_newlines=True`` for a value that is multi-line by design (NUL stays refused).
    """

    __slots__ = ("allow_newlines", "pattern")

    def __init__(self, regex: str | bytes | re.Pattern[str] | re.Pattern[bytes], *,
                 allow_newlines: bool = False) -> None:
        try:
            self.pattern = re.compile(regex)
        except (re.error, TypeError) as exc:
            raise PolicyError(f"Match: {_short(regex)} is not a valid regular expression: {exc}") \
                from None
        self.allow_newlines = allow_newlines

    def __repr__(self) -> str:
        return f"Match({self.pattern.pattern!r})"

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        is_bytes = isinstance(self.pattern.pattern, bytes)
        if kind is not (bytes if is_bytes else str):
            raise self._refuse_kind(kind)
        forbidden: re.Pattern[str] | re.Pattern[bytes]
        if is_bytes:
            forbidden = _BYTES_NUL if self.allow_newlines else _BYTES_BREAKS
        else:
            forbidden = _STR_NUL if self.allow_newlines else _STR_BREAKS
        fullmatch = self.pattern.fullmatch
        rule = f"must match {self.pattern.pattern!r} in full"

        def check_match(value: Any) -> Any:
            if forbidden.search(value) is not None:
                raise _Refused("line breaks and NUL are not allowed")
            if fullmatch(value) is None:
                raise _Refused(f"{_short(value)} {rule}")
            return value

        return check_match


class PathUnder(Marker):
    """An absolute path strictly inside one of `roots`, after normalisation and symlinks.

    The value is normalised lexically first (``//``, ``.`` and ``..`` resolved as a path string
    means them) and the normalised path is what the function receives. Then every directory
    component is resolved with its symlinks (by the kernel: see `_locate`) and the result must
    lie inside a root (itself resolved); if the final component exists and is a symlink, where it
    leads must lie inside a root too. The path itself need not exist. A root is not inside itself.

    The check happens before the function runs; see docs/contracts.md for the race that remains
    and how a function closes it (``O_NOFOLLOW``, ``openat``).
    """

    __slots__ = ("roots",)
    transforms = True

    def __init__(self, *roots: str | os.PathLike[str]) -> None:
        if not roots:
            raise PolicyError("PathUnder needs at least one root")
        normalised = []
        for root in roots:
            try:
                text = os.fspath(root)
            except TypeError:
                raise PolicyError(f"PathUnder roots must be paths, got {root!r}") from None
            if not isinstance(text, str) or not os.path.isabs(text) or "\x00" in text:
                raise PolicyError(f"PathUnder roots must be absolute str paths, got {root!r}")
            normalised.append(_normalise(text))
        self.roots: tuple[str, ...] = tuple(normalised)

    def __repr__(self) -> str:
        return f"PathUnder({', '.join(map(repr, self.roots))})"

    def _compile(self, kind: type | None, base: _Rule) -> Check:
        if kind is not str:
            raise self._refuse_kind(kind)
        roots = self.roots
        resolved_roots = _resolved_roots(roots)
        where = " or ".join(roots)

        def check_path(value: Any) -> Any:
            if "\x00" in value:
                raise _Refused("a path must not contain NUL")
            if not value.startswith("/"):
                raise _Refused(f"{_short(value)} is not an absolute path")
            path = _normalise(value)
            if not any(_inside(path, root) for root in roots):
                raise _Refused(f"{_short(value)} is not inside {where}")
            _check_resolved(path, value, resolved_roots(), where)
            return path

        return check_path


def _normalise(path: str) -> str:
    path = os.path.normpath(path)
    # POSIX lets "//x" mean something else than "/x", so normpath keeps it; leastpriv does not.
    return "/" + path.lstrip("/")


def _inside(path: str, root: str) -> bool:
    if root == "/":
        return path != "/"
    return path.startswith(root) and path[len(root):len(root) + 1] == "/"


def _realpath(path: str) -> str:
    """`path` with every symlink resolved; refused when a component cannot be examined.

    The kernel resolves it: an ``O_PATH`` open follows every symlink as any later use of the path
    will (it needs only search permission, as a walk with ``lstat`` does), and ``/proc/self/fd``
    names what it reached. Three system calls, where ``os.path.realpath`` makes one per component
    from Python, on both sides of every call with a path argument.

    Components that do not exist cannot be symlinks, so they are taken as written. A component
    that cannot be examined (permission denied, a symlink loop) is refused: fail closed.
    """
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return os.path.realpath(path)  # resolves the part that exists, the rest as written
    except OSError as exc:
        raise _Refused(f"{_short(path)} cannot be resolved ({exc.strerror})") from None
    try:
        return _opened_path(fd, path)
    finally:
        os.close(fd)


def _locate(path: str) -> tuple[str, bool]:
    """Where `path` lies once its directories' symlinks are resolved, and whether it is itself a
    symlink (not followed). One ``O_PATH | O_NOFOLLOW`` open answers both when it exists."""
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):  # it does not exist, so it is no symlink
        parent, name = os.path.split(path)
        return os.path.join(_realpath(parent), name), False
    except OSError as exc:
        raise _Refused(f"{_short(path)} cannot be resolved ({exc.strerror})") from None
    try:
        return _opened_path(fd, path), stat.S_ISLNK(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def _opened_path(fd: int, path: str) -> str:
    """The path the kernel reached for `path`, opened as `fd`; refused once it was removed."""
    try:
        resolved = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: walk the path in Python instead
        resolved = os.path.realpath(path, strict=True)
    if not resolved.startswith("/") or resolved.endswith(" (deleted)"):
        raise _Refused(f"{_short(path)} cannot be resolved (it was removed while checked)")
    return resolved


def _resolved_roots(roots: tuple[str, ...]) -> Callable[[], list[str]]:
    """The roots with their symlinks resolved, remembered once each root exists in full.

    A root that does not exist yet (created after the service started) is resolved again on
    every check until it does; one that exists is not re-examined, which saves a syscall per
    component on every call.
    """
    cache: list[str | None] = [None] * len(roots)

    def resolve() -> list[str]:
        resolved = []
        for index, root in enumerate(roots):
            known = cache[index]
            if known is None:
                try:
                    known = cache[index] = os.path.realpath(root, strict=True)
                except OSError:
                    known = _realpath(root)
            resolved.append(known)
        return resolved

    return resolve


def _check_resolved(path: str, given: str, real_roots: list[str], where: str) -> None:
    location, is_link = _locate(path)
    if not any(_inside(location, root) for root in real_roots):
        raise _Refused(f"{_short(given)} leads outside {where} through a symlink")
    if is_link and not any(_inside(_realpath(location), root) for root in real_roots):
        raise _Refused(f"{_short(given)} is a symlink that leads outside {where}")


# ----------------------------------------------------------------------------------------------
# Validators compiled from annotations


class _Rule:
    """The compiled check of one annotation.

    `to_wire` takes a caller's Python value and returns the plain value msgpack sends; `from_wire`
    takes what came off the socket and rebuilds the Python value (Enum members, tuples). Both raise
    `_Refused`. `same` says both return their input unchanged (lets containers skip copying);
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


_UNCHECKED = _Rule(_unchecked, kind=None, same=True)


def _exact_type(expected: type) -> _Rule:
    name = expected.__name__

    def check_exact(value: Any) -> Any:
        if type(value) is expected:
            return value
        raise _Refused(f"expected {name}, got {_type_name(value)}")

    return _Rule(check_exact, kind=expected, same=True)


# msgpack carries integers from -2**63 to 2**64 - 1; refusing others here gives a clear
# ContractViolation instead of an OverflowError from the encoder.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_INT_RANGE_RULE = "integer outside the 64-bit range the channel carries"


def _number_rule(declared: type) -> _Rule:
    """``int``, or ``float``, which takes an int as well (Python's own numeric tower)."""
    takes_float = declared is float
    expected = f"expected {declared.__name__}"

    def check_number(value: Any) -> Any:
        kind = type(value)
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise _Refused(_INT_RANGE_RULE)
        if kind is float and takes_float:
            return value
        raise _Refused(f"{expected}, got {_type_name(value)}")

    return _Rule(check_number, kind=declared, same=True)


def _none_rule() -> _Rule:
    def check_none(value: Any) -> Any:
        if value is None:
            return None
        raise _Refused(f"expected None, got {_type_name(value)}")

    return _Rule(check_none, kind=_NONE_TYPE, same=True)


def _element_checker(element: Check, same: bool) -> Callable[[Iterable[Any]], Any]:
    """Checks every item; returns a list of converted items, or None when `same` (no copy)."""

    def check_items(items: Iterable[Any]) -> list[Any] | None:
        try:
            if same:
                for item in items:
                    element(item)
                return None
            return [element(item) for item in items]
        except _Refused:
            pass
        # The slow path only runs on failure: walk again to say which item failed.
        for index, item in enumerate(items):
            try:
                element(item)
            except _Refused as refusal:
                raise refusal.inside(f"[{index}]") from None
        raise AssertionError("unreachable: an item failed once and passed the second time")

    return check_items


def _sequence_rule(element: _Rule, sequence: type[list[Any]] | type[tuple[Any, ...]]) -> _Rule:
    """``list[T]`` or ``tuple[T, ...]``: both travel as a list and are rebuilt as declared."""
    to_items = _element_checker(element.to_wire, element.same)
    from_items = _element_checker(element.from_wire, element.same)
    name = sequence.__name__

    def sequence_to_wire(value: Any) -> Any:
        if type(value) is not sequence:
            raise _Refused(f"expected {name}, got {_type_name(value)}")
        converted = to_items(value)
        if converted is not None:
            return converted
        return value if sequence is list else list(value)

    def sequence_from_wire(value: Any) -> Any:
        # Accept either sequence type: which one the decoder builds is the codec's choice.
        if type(value) is not list and type(value) is not tuple:
            raise _Refused(f"expected {name}, got {_type_name(value)}")
        converted = from_items(value)
        if converted is None and type(value) is sequence:
            return value
        return sequence(value if converted is None else converted)

    return _Rule(sequence_to_wire, sequence_from_wire, kind=sequence, same=False)


def _fixed_tuple_rule(elements: list[_Rule]) -> _Rule:
    size = len(elements)
    to_checks = [rule.to_wire for rule in elements]
    from_checks = [rule.from_wire for rule in elements]

    def check_fixed(value: Any, checks: list[Check]) -> list[Any]:
        if len(value) != size:
            raise _Refused(f"expected {size} items, got {len(value)}")
        converted = []
        for index, (check, item) in enumerate(zip(checks, value, strict=True)):
            try:
                converted.append(check(item))
            except _Refused as refusal:
                raise refusal.inside(f"[{index}]") from None
        return converted

    def fixed_to_wire(value: Any) -> Any:
        if type(value) is not tuple:
            raise _Refused(f"expected tuple, got {_type_name(value)}")
        return check_fixed(value, to_checks)

    def fixed_from_wire(value: Any) -> Any:
        if type(value) is not list and type(value) is not tuple:
            raise _Refused(f"expected tuple, got {_type_name(value)}")
        return tuple(check_fixed(value, from_checks))

    return _Rule(fixed_to_wire, fixed_from_wire, kind=tuple, same=False)


def _dict_checker(key: Check, value_check: Check, same: bool) -> Check:
    def check_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise _Refused(f"expected dict, got {_type_name(value)}")
        converted: dict[str, Any] | None = None if same else {}
        for item_key, item in value.items():
            try:
                checked_key = key(item_key)
            except _Refused as refusal:
                raise refusal.inside(f"[key {_short(item_key)}]") from None
            try:
                checked = value_check(item)
            except _Refused as refusal:
                raise refusal.inside(f"[{_short(item_key)}]") from None
            if converted is not None:
                converted[checked_key] = checked
        return value if converted is None else converted

    return check_dict


def _dict_rule(key: _Rule, element: _Rule) -> _Rule:
    if key.kind is not str:
        raise _Unsupported("dict keys must be str (or Annotated/Literal str)")
    same = key.same and element.same
    return _Rule(_dict_checker(key.to_wire, element.to_wire, same),
                 _dict_checker(key.from_wire, element.from_wire, same), kind=dict, same=same)


def _union_rule(alternatives: list[_Rule]) -> _Rule:
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
                except _Refused:
                    continue
            raise _Refused(f"expected {names}, got {_type_name(value)}")

        return check_union

    return _Rule(first_accepting("to_wire"), first_accepting("from_wire"), kind=None,
                 same=all(rule.same for rule in alternatives))


def _optional_rule(inner: _Rule) -> _Rule:
    def optional(check: Check) -> Check:
        def check_optional(value: Any) -> Any:
            return None if value is None else check(value)

        return check_optional

    return _Rule(optional(inner.to_wire), optional(inner.from_wire), kind=None, same=inner.same)


def _literal_rule(values: tuple[Any, ...]) -> _Rule:
    for value in values:
        if not isinstance(value, enum.Enum) and type(value) not in _PLAIN_VALUES:
            raise _Unsupported(f"Literal value {value!r} does not travel")
    # Keyed by (type, value) so that Literal[1] refuses True and Literal["a"] refuses b"a".
    by_python = {(type(value), value): _wire_value(value) for value in values}
    by_wire = {(type(_wire_value(value)), _wire_value(value)): value for value in values}
    kinds = {type(value) for value in values}
    rule = f"must be one of {_short(values)}"

    def lookup(table: dict[tuple[type, Any], Any]) -> Check:
        def check_literal(value: Any) -> Any:
            try:
                return table[(type(value), value)]
            except (KeyError, TypeError):  # TypeError: an unhashable value is no literal
                raise _Refused(f"{_short(value)} {rule}") from None

        return check_literal

    return _Rule(lookup(by_python), lookup(by_wire), kind=kinds.pop() if len(kinds) == 1 else None,
                 same=not any(isinstance(value, enum.Enum) for value in values))


def _wire_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _enum_rule(cls: type[enum.Enum]) -> _Rule:
    members = list(cls.__members__.values())
    for member in members:
        if type(member.value) not in _PLAIN_VALUES:
            raise _Unsupported(f"{cls.__name__}.{member.name} has a value of type "
                               f"{_type_name(member.value)}, which does not travel")
    by_wire = {(type(member.value), member.value): member for member in members}
    flag_bits = 0
    if issubclass(cls, enum.Flag):
        for member in members:
            flag_bits |= member.value
    name = cls.__name__

    def enum_to_wire(value: Any) -> Any:
        if type(value) is cls:
            return value.value
        raise _Refused(f"expected {name}, got {_type_name(value)}")

    def enum_from_wire(value: Any) -> Any:
        try:
            return by_wire[(type(value), value)]
        except (KeyError, TypeError):
            pass
        # A Flag value may combine members; it is valid when it sets only the members' bits.
        if flag_bits and type(value) is int and value & ~flag_bits == 0:
            return cls(value)
        raise _Refused(f"{_short(value)} is not a value of {name}")

    return _Rule(enum_to_wire, enum_from_wire, kind=cls, same=False)


def _annotated_rule(base: _Rule, metadata: tuple[Any, ...], strict: bool) -> _Rule:
    checks = []
    for marker in metadata:
        if isinstance(marker, Marker):
            checks.append(marker._compile(base.kind, base))
        elif isinstance(marker, type) and issubclass(marker, Marker):
            raise PolicyError(f"use an instance of {marker.__name__}(...), not the class")
        else:
            # Metadata leastpriv does not understand would read as a constraint yet constrain
            # nothing; refuse it rather than let a reader believe the value is narrowed.
            _policy_problem(f"Annotated metadata {_short(marker)} is not a leastpriv marker",
                            strict)
    if not checks:
        return base
    transforms = any(getattr(marker, "transforms", False) for marker in metadata)
    return _Rule(_then(base.to_wire, checks, before=True),
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
        raise _Unsupported(message)
    warnings.warn(message, PolicyWarning, stacklevel=4)


def _compile(annotation: Any, strict: bool) -> _Rule:
    """The `_Rule` of one annotation; `_Unsupported` for what cannot travel or be checked."""
    if annotation is Any or annotation is object:
        raise _Unsupported(f"{_annotation_name(annotation)} accepts anything; name the type")
    if annotation is None or annotation is _NONE_TYPE:
        return _none_rule()
    if annotation is int or annotation is float:
        return _number_rule(annotation)
    if annotation in _SCALARS:
        return _exact_type(annotation)
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:  # typing.NewType
        return _compile(supertype, strict)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _annotated_rule(_compile(args[0], strict), annotation.__metadata__, strict)
    if origin is Union or origin is types.UnionType:
        return _union_rule([_compile(arg, strict) for arg in args])
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
    raise _Unsupported(f"{_annotation_name(annotation)} does not travel over the channel")


def _container_rule(origin: type, args: tuple[Any, ...], strict: bool) -> _Rule:
    if not args:
        raise _Unsupported(f"bare {origin.__name__} does not say what it holds; "
                           f"write e.g. {origin.__name__}[str]")
    if origin is list:
        return _sequence_rule(_compile(args[0], strict), list)
    if origin is dict:
        return _dict_rule(_compile(args[0], strict), _compile(args[1], strict))
    if len(args) == 2 and args[1] is Ellipsis:
        return _sequence_rule(_compile(args[0], strict), tuple)
    if args == ((),):  # tuple[()] as Python 3.10 spells it
        return _fixed_tuple_rule([])
    return _fixed_tuple_rule([_compile(arg, strict) for arg in args])


def _annotation_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


# ----------------------------------------------------------------------------------------------
# Contract


# Parameter kinds, numbered as inspect.Parameter numbers them (so its kinds compare equal).
_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD, _VAR_POSITIONAL, _KEYWORD_ONLY, _VAR_KEYWORD = range(5)
# A parameter without a default (inspect.Parameter.empty's role).
_NO_DEFAULT = object()
# The code object's flags for *args and **kwargs (CPython's CO_VARARGS and CO_VARKEYWORDS).
_CO_VARARGS, _CO_VARKEYWORDS = 0x04, 0x08


def _signature(func: Callable[..., Any]) -> list[tuple[str, int, Any]]:
    """``(name, kind, default)`` of each of `func`'s parameters, in `inspect.signature`'s order.

    A plain function, unwrapped through ``__wrapped__`` as `inspect.signature` does, is read from
    its code object: importing `inspect` costs each exec'd daemon about 1 MB and 10 ms. Any other
    callable (a partial, a method, an object, a ``__signature__``) goes to `inspect.signature`.
    """
    target, seen = func, set()
    while (hasattr(target, "__wrapped__") and not hasattr(target, "__signature__")
           and id(target) not in seen):
        seen.add(id(target))
        target = target.__wrapped__
    if type(target) is not types.FunctionType or hasattr(target, "__signature__"):
        import inspect

        return [(p.name, int(p.kind), _NO_DEFAULT if p.default is p.empty else p.default)
                for p in inspect.signature(func).parameters.values()]
    code = target.__code__
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames  # positional, keyword-only, then *args' and **kwargs' names
    defaults = target.__defaults__ or ()
    keyword_defaults = target.__kwdefaults__ or {}
    first_default = positional - len(defaults)
    params = [(names[i],
               _POSITIONAL_ONLY if i < code.co_posonlyargcount else _POSITIONAL_OR_KEYWORD,
               defaults[i - first_default] if i >= first_default else _NO_DEFAULT)
              for i in range(positional)]
    extra = positional + keyword_only
    if code.co_flags & _CO_VARARGS:
        params.append((names[extra], _VAR_POSITIONAL, _NO_DEFAULT))
        extra += 1
    params.extend((name, _KEYWORD_ONLY, keyword_defaults.get(name, _NO_DEFAULT))
                  for name in names[positional:positional + keyword_only])
    if code.co_flags & _CO_VARKEYWORDS:
        params.append((names[extra], _VAR_KEYWORD, _NO_DEFAULT))
    return params


class _Parameter:
    """One parameter's compiled plan: its rule, how it is passed, its default."""

    __slots__ = ("default", "has_default", "kind", "name", "rule")

    def __init__(self, name: str, kind: int, default: Any, rule: _Rule) -> None:
        self.name = name
        self.kind = kind
        self.rule = rule
        self.has_default = default is not _NO_DEFAULT
        self.default = default


_POSITIONAL = (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)
# Where unbind puts each value.
_IN_ARGS, _IN_KWARGS, _SPREAD_ARGS, _SPREAD_KWARGS = range(4)


class Contract:
    """The checked argument contract of one privileged function.

    Build it once with `Contract.of`; `bind` checks a call on the caller side and returns the
    plain payload to send; `unbind` checks a payload on the daemon side and returns the
    ``(args, kwargs)`` to call the function with.
    """

    __slots__ = (
        "_all_names", "_bind_plan", "_by_name", "_fast_positional", "_keyword_names", "_params",
        "_positional_names", "_positional_only_names", "_required_names", "_unbind_plan",
        "_var_keyword", "_var_positional", "function", "unchecked",
    )

    def __init__(self, function: str, params: list[_Parameter], unchecked: frozenset[str]) -> None:
        self.function = function
        #: Parameters passed through without a check (only with strict=False).
        self.unchecked = unchecked
        self._params = params
        self._by_name = {param.name: param for param in params}
        self._positional_names = [p.name for p in params if p.kind in _POSITIONAL]
        self._positional_only_names = frozenset(
            p.name for p in params if p.kind == _POSITIONAL_ONLY)
        self._keyword_names = frozenset(
            p.name for p in params
            if p.kind in (_POSITIONAL_OR_KEYWORD, _KEYWORD_ONLY))
        self._var_positional = next(
            (p.name for p in params if p.kind == _VAR_POSITIONAL), None)
        self._var_keyword = next(
            (p.name for p in params if p.kind == _VAR_KEYWORD), None)
        self._all_names = frozenset(p.name for p in params)
        self._required_names = frozenset(
            p.name for p in params if not p.has_default
            and p.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD))
        # The common call (every argument positional, none left to a default) skips the binder.
        self._fast_positional = len(self._positional_names) == len(params)
        # Flat tuples walked on every call: no attribute lookups, no introspection.
        self._bind_plan = tuple((p.name, p.rule.to_wire) for p in params)
        self._unbind_plan = tuple(
            (p.name, p.rule.from_wire, self._placement(p), p.default) for p in params)

    def _placement(self, param: _Parameter) -> int:
        """Where `unbind` puts a parameter's value: args, kwargs, or spread from *args/**kwargs."""
        if param.kind == _VAR_POSITIONAL:
            return _SPREAD_ARGS
        if param.kind == _VAR_KEYWORD:
            return _SPREAD_KWARGS
        if param.kind == _POSITIONAL_ONLY:
            return _IN_ARGS
        # Once *args is declared, every parameter before it can only be filled positionally.
        if param.kind == _POSITIONAL_OR_KEYWORD and self._var_positional:
            return _IN_ARGS
        return _IN_KWARGS

    def __repr__(self) -> str:
        return f"<Contract of {self.function}>"

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def of(cls, func: Callable[..., Any], *, strict: bool = True) -> Contract:
        """The contract of `func`, from its annotations; `PolicyError` when they fall short.

        With ``strict=False`` the policy problems (missing or unsupported annotations, ``*args``
        and ``**kwargs``) are warned about as `PolicyWarning` and those parameters pass
        unchecked. A misused marker is a `PolicyError` either way.
        """
        function = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"
        try:
            parameters = _signature(func)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{function}: no inspectable signature ({exc})") from None
        hints = _type_hints(func, function, strict)
        params = []
        unchecked = set()
        for name, kind, default in parameters:
            try:
                rule = _parameter_rule(name, kind, hints, strict)
                _check_default(default, rule)
            except _Unsupported as problem:
                message = f"{function}: parameter {name!r}: {problem}"
                if strict:
                    raise PolicyError(message) from None
                warnings.warn(message, PolicyWarning, stacklevel=2)
                rule = _UNCHECKED
            except PolicyError as error:
                raise PolicyError(f"{function}: parameter {name!r}: {error}") from None
            if rule is _UNCHECKED:
                unchecked.add(name)
            params.append(_Parameter(name, kind, default, rule))
        return cls(function, params, frozenset(unchecked))

    # -- caller side --------------------------------------------------------------------------

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Check a call's arguments; the payload ``{parameter: plain value}`` to send.

        `TypeError` for arguments that do not fit the signature, as a plain call would raise;
        `ContractViolation` for a value outside the contract.
        """
        plan = self._bind_plan
        values: tuple[Any, ...] | list[Any] = args
        if kwargs or not self._fast_positional or len(args) != len(plan):
            bound = self._bind_arguments(args, kwargs)
            values = [bound[name] for name, _ in plan]
        payload = {}
        name = ""
        try:
            for (name, to_wire), value in zip(plan, values, strict=True):
                payload[name] = to_wire(value)
        except _Refused as refusal:
            raise ContractViolation(self.function, name, refusal.describe()) from None
        return payload

    def _bind_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Python's own call binding, done from the precomputed parameter lists."""
        name = self.function.rpartition(".")[2]
        positional = self._positional_names
        # Fewer arguments than positional parameters is normal: the rest come by keyword or default.
        bound: dict[str, Any] = dict(zip(positional, args, strict=False))
        extra = list(args[len(positional):])
        if extra and self._var_positional is None:
            raise TypeError(f"{name}() takes {len(positional)} positional arguments "
                            f"but {len(args)} were given")
        extra_keywords = {}
        for key, value in kwargs.items():
            if key not in self._keyword_names:
                if self._var_keyword is not None:
                    extra_keywords[key] = value
                    continue
                if key in self._positional_only_names:
                    raise TypeError(f"{name}() got some positional-only arguments passed as "
                                    f"keyword arguments: '{key}'")
                raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
            if key in bound:
                raise TypeError(f"{name}() got multiple values for argument '{key}'")
            bound[key] = value
        if self._var_positional is not None:
            bound[self._var_positional] = extra
        if self._var_keyword is not None:
            bound[self._var_keyword] = extra_keywords
        missing = [p.name for p in self._params if p.name not in bound and not p.has_default]
        if missing:
            raise TypeError(f"{name}() missing {len(missing)} required argument"
                            f"{'s' if len(missing) > 1 else ''}: "
                            + ", ".join(repr(m) for m in missing))
        for param in self._params:
            if param.name not in bound:
                bound[param.name] = param.default
        return bound

    # -- daemon side --------------------------------------------------------------------------

    def unbind(self, payload: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Check an untrusted payload; the ``(args, kwargs)`` to call the function with.

        Raises `ContractViolation` for anything but a dict holding every required parameter,
        only known parameters, and values inside the contract.
        """
        if type(payload) is not dict:
            raise ContractViolation(self.function, _WHOLE_PAYLOAD,
                                    f"expected a map of arguments, got {_type_name(payload)}")
        if payload.keys() != self._all_names:
            self._check_names(payload)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, from_wire, placement, default in self._unbind_plan:
            if name in payload:
                try:
                    value = from_wire(payload[name])
                except _Refused as refusal:
                    raise ContractViolation(self.function, name, refusal.describe()) from None
            else:
                value = default
            if placement == _IN_KWARGS:
                kwargs[name] = value
            elif placement == _IN_ARGS:
                args.append(value)
            elif placement == _SPREAD_ARGS:
                args.extend(self._var_positional_values(name, value))
            else:
                kwargs.update(self._var_keyword_values(name, value))
        return args, kwargs

    def _check_names(self, payload: dict[Any, Any]) -> None:
        for key in payload:
            if key not in self._all_names:
                raise ContractViolation(self.function, _short(key), "not a parameter")
        for name in self._required_names:
            if name not in payload:
                raise ContractViolation(self.function, name, "required argument missing")

    def _var_positional_values(self, name: str, value: Any) -> list[Any]:
        if value is _NO_DEFAULT:
            return []
        if type(value) is not list and type(value) is not tuple:
            raise ContractViolation(self.function, name, f"expected list, got {_type_name(value)}")
        return list(value)

    def _var_keyword_values(self, name: str, value: Any) -> dict[str, Any]:
        if value is _NO_DEFAULT:
            return {}
        if type(value) is not dict:
            raise ContractViolation(self.function, name, f"expected dict, got {_type_name(value)}")
        for key in value:
            if type(key) is not str or key in self._by_name:
                raise ContractViolation(self.function, name,
                                        f"{_short(key)} is not a valid extra keyword")
        return value


def _type_hints(func: Callable[..., Any], function: str, strict: bool) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    # Any failure to evaluate the annotations (NameError, a bad forward reference) means the
    # contract cannot be known: a policy problem, reported as such.
    except Exception as exc:
        message = f"{function}: its annotations cannot be evaluated ({type(exc).__name__}: {exc})"
        if strict:
            raise PolicyError(message) from None
        warnings.warn(message, PolicyWarning, stacklevel=3)
        return {}


def _parameter_rule(name: str, kind: int, hints: dict[str, Any], strict: bool) -> _Rule:
    if kind == _VAR_POSITIONAL:
        raise _Unsupported("*args accepts any number of unchecked arguments; name each one")
    if kind == _VAR_KEYWORD:
        raise _Unsupported("**kwargs accepts any unchecked keyword; name each one")
    if name not in hints:
        raise _Unsupported("has no type annotation")
    return _compile(hints[name], strict)


def _check_default(default: Any, rule: _Rule) -> None:
    """A default outside the contract is a bug in the declaration: refuse it at decoration."""
    if default is _NO_DEFAULT or rule is _UNCHECKED:
        return
    try:
        rule.to_wire(default)
    except _Refused as refusal:
        raise PolicyError(f"default {_short(default)} is outside the contract: "
                          f"{refusal.describe()}") from None
