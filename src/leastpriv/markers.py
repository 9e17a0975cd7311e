"""Contract markers: the constraints written in ``Annotated[T, marker]``, each a small check.

`Range`, `MaxLen`, `OneOf`, `Match` and `PathUnder` narrow the type they annotate;
`AllowNonFinite` lets a ``float`` take NaN and the infinities, which it refuses otherwise.
A marker compiles, once, into a check of one value whose type was already checked exactly; the
check returns the value (`PathUnder`: the `CheckedPath` it resolved) or raises `Refused`.
"""

from __future__ import annotations

import math
import os
import re
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leastpriv import paths
from leastpriv.errors import PolicyError

if TYPE_CHECKING:
    from leastpriv.checks import Rule

__all__ = ["AllowNonFinite", "Marker", "Match", "MaxLen", "OneOf", "PathUnder", "Range",
           "Refused", "short"]

Check = Callable[[Any], Any]


class Refused(Exception):
    """A value failed a check; `location` says where inside a nested value (``[3]['key']``)."""

    def __init__(self, rule: str, location: str = "") -> None:
        super().__init__(rule)
        self.rule = rule
        self.location = location

    def inside(self, step: str) -> Refused:
        return Refused(self.rule, step + self.location)

    def describe(self) -> str:
        return f"{self.location}: {self.rule}" if self.location else self.rule


_short_repr = reprlib.Repr()
_short_repr.maxstring = 60
_short_repr.maxother = 60
_short_repr.maxlist = _short_repr.maxtuple = _short_repr.maxdict = 6
_short_repr.maxlevel = 3
_EXCERPT = 60  # characters of a long str or bytes a message shows


def short(value: Any, at: int | None = None) -> str:
    """A repr bounded in size: messages name the value, never echo a huge one.

    A long str or bytes is cut, but never before the part that broke the rule: around offset `at`
    when the check knows it, else its start and its end.
    """
    if isinstance(value, (str, bytes)) and len(value) > _EXCERPT:
        # Sliced before repr: reprlib would repr a whole bytes object before cutting it.
        size = len(value)
        if at is None:
            half = _EXCERPT // 2
            return f"{value[:half]!r}...{value[-half:]!r} ({size} long)"
        start = max(0, min(at - _EXCERPT // 3, size - _EXCERPT))
        end = start + _EXCERPT
        return (f"{'...' if start else ''}{value[start:end]!r}{'...' if end < size else ''} "
                f"({size} long, offending part at offset {at})")
    try:
        return _short_repr.repr(value)
    # An int past sys.get_int_max_str_digits(), a __repr__ that raises: a value is still shown.
    except Exception:  # noqa: BLE001 - whatever repr raises
        return f"<{type_name(value)} value>"


def type_name(value: Any) -> str:
    return type(value).__name__


# ----------------------------------------------------------------------------------------------
# Markers


class Marker:
    """Base of the constraint markers used in ``Annotated[T, marker]``."""

    __slots__ = ()
    #: True when the marker hands on a rewritten value (PathUnder's normalised path).
    transforms = False

    def _compile(self, kind: type | None, base: Rule) -> Check:
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

    def _compile(self, kind: type | None, base: Rule) -> Check:
        if kind not in (int, float):
            raise self._refuse_kind(kind)
        lo, hi = self.lo, self.hi
        rule = f"must be between {lo!r} and {hi!r}"
        # -0.0 == 0, yet it prints as "-0.0": handed on as a command argument it reads as an
        # option. A range that starts at zero or above means "not negative", and refuses it.
        no_negative_zero = lo >= 0

        def check_range(value: Any) -> Any:
            # Written as a positive test so that NaN, which compares false to everything, fails.
            if lo <= value <= hi and not (
                    value == 0 and no_negative_zero and math.copysign(1.0, value) < 0):
                return value
            raise Refused(f"{short(value)} {rule}")

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

    def _compile(self, kind: type | None, base: Rule) -> Check:
        if kind not in (str, bytes, list, tuple, dict):
            raise self._refuse_kind(kind)
        limit = self.n

        def check_length(value: Any) -> Any:
            if len(value) <= limit:
                return value
            raise Refused(f"length {len(value)} exceeds the maximum {limit}")

        return check_length


class OneOf(Marker):
    """One of the listed values, type included: ``OneOf(1.0, 2.5)`` refuses the int 1."""

    __slots__ = ("values",)

    def __init__(self, *values: Any) -> None:
        if not values:
            raise PolicyError("OneOf needs at least one value")
        try:
            frozenset(values)
        except TypeError:
            raise PolicyError(f"OneOf values must be hashable, got {short(values)}") from None
        self.values = values

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.values))})"

    def _compile(self, kind: type | None, base: Rule) -> Check:
        if kind in (list, tuple, dict):
            raise self._refuse_kind(kind)
        for value in self.values:
            try:
                base.to_wire(value)
            except Refused as refusal:
                raise PolicyError(f"{self!r}: {value!r} is not a valid value of the type "
                                  f"it narrows ({refusal.describe()})") from None
        # Keyed by type as well: set membership alone lets 1 match 1.0 and True match 1, which
        # the base check does not rule out where it takes several types (float takes an int).
        allowed = frozenset(map(_one_of_key, self.values))
        rule = f"must be one of {short(self.values)}"

        def check_one_of(value: Any) -> Any:
            if _one_of_key(value) in allowed:
                return value
            raise Refused(f"{short(value)} {rule}")

        return check_one_of


def _one_of_key(value: Any) -> tuple[type, Any, float]:
    """What `OneOf` compares: the type, the value, and the sign of a float (-0.0 == 0.0)."""
    # A path PathUnder checked (it runs first) is compared as the str it is.
    kind = str if type(value) is paths.CheckedPath else type(value)
    return kind, value, math.copysign(1.0, value) if kind is float else 1.0


# Line boundaries as str.splitlines() knows them, and NUL: the characters that let one value
# smuggle a second line into a config file, a log line or a command. A character class such as
# [^/]+ matches them, so Match refuses them whatever the pattern says unless told otherwise.
_STR_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00]")
_STR_NUL = re.compile("\x00")
_BYTES_BREAKS = re.compile(b"[\n\r\x00]")
_BYTES_NUL = re.compile(b"\x00")


class Match(Marker):
    """A str (or bytes, with a bytes pattern) that `regex` matches in full (`re.fullmatch`).

    A str pattern is compiled ASCII-only (`re.ASCII`): ``\\d`` is ``[0-9]`` and ``\\w`` is
    ``[a-zA-Z0-9_]``, not the Unicode digits and letters that ``int()`` and the file system would
    read otherwise; pass ``unicode=True`` to match Unicode classes. Line breaks and NUL are
    refused even where the pattern would match them; pass ``allow_newlines=True`` for a value
    that is multi-line by design (NUL stays refused).
    """

    __slots__ = ("allow_newlines", "pattern")

    def __init__(self, regex: str | bytes | re.Pattern[str] | re.Pattern[bytes], *,
                 allow_newlines: bool = False, unicode: bool = False) -> None:
        try:
            source, flags = (regex.pattern, regex.flags) if isinstance(regex, re.Pattern) \
                else (regex, 0)
            if isinstance(source, str) and not unicode:
                flags = (flags & ~re.UNICODE) | re.ASCII
            self.pattern = re.compile(source, flags)
        except (re.error, TypeError, ValueError) as exc:
            raise PolicyError(f"Match: {short(regex)} is not a valid regular expression: {exc}") \
                from None
        self.allow_newlines = allow_newlines

    def __repr__(self) -> str:
        return f"Match({self.pattern.pattern!r})"

    def _compile(self, kind: type | None, base: Rule) -> Check:
        is_bytes = isinstance(self.pattern.pattern, bytes)
        if kind is not (bytes if is_bytes else str):
            raise self._refuse_kind(kind)
        forbidden: re.Pattern[str] | re.Pattern[bytes]
        if is_bytes:
            forbidden = _BYTES_NUL if self.allow_newlines else _BYTES_BREAKS
        else:
            forbidden = _STR_NUL if self.allow_newlines else _STR_BREAKS
        fullmatch, prefix = self.pattern.fullmatch, self.pattern.match
        rule = f"must match {self.pattern.pattern!r} in full"

        def check_match(value: Any) -> Any:
            broken = forbidden.search(value)
            if broken is not None:
                raise Refused(f"{short(value, broken.start())}: line breaks and NUL are not "
                              "allowed")
            if fullmatch(value) is None:
                # Where a prefix match stops is where the value most likely went wrong.
                start = prefix(value)
                raise Refused(f"{short(value, start and start.end())} {rule}")
            return value

        return check_match


class PathUnder(Marker):
    """An absolute path strictly inside one of `roots`, reached without any symlink.

    The value is normalised lexically first (``//``, ``.`` and ``..`` resolved as the string
    reads) and must lie strictly inside a root as written (a root is not inside itself). Then the
    file system is asked, beneath the root's pinned descriptor (`leastpriv.paths`): no component
    that exists may be a symlink, and what the path names, if it exists, must be a regular file or
    a directory unless ``allow_special=True`` (FIFOs, sockets, devices). The path need not exist.

    The function receives a `leastpriv.paths.CheckedPath`: the normalised path as a `str`, which
    `leastpriv.fs` resolves beneath the root again at every use, so that no swap of a name after
    the check can redirect the use.
    """

    __slots__ = ("allow_special", "roots")
    transforms = True

    def __init__(self, *roots: str | os.PathLike[str], allow_special: bool = False) -> None:
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
        self.allow_special = bool(allow_special)

    def __repr__(self) -> str:
        special = ", allow_special=True" if self.allow_special else ""
        return f"PathUnder({', '.join(map(repr, self.roots))}{special})"

    def _compile(self, kind: type | None, base: Rule) -> Check:
        if kind is not str:
            raise self._refuse_kind(kind)
        roots, allow_special = self.roots, self.allow_special
        where = " or ".join(roots)

        def check_path(value: Any) -> Any:
            if "\x00" in value:
                raise Refused(f"{short(value, value.index(chr(0)))}: a path must not contain NUL")
            if not value.startswith("/"):
                raise Refused(f"{short(value)} is not an absolute path")
            path = _normalise(value)
            for root in roots:
                if _inside(path, root):
                    try:
                        return paths.resolve(path, root, allow_special)
                    except paths.PathRefused as refusal:
                        raise Refused(f"{short(path)}: {refusal}") from None
            raise Refused(f"{short(value)} is not inside {where}")

        return check_path


class AllowNonFinite(Marker):
    """Lets a ``float`` take NaN, ``inf`` and ``-inf``, which it refuses without this marker."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "AllowNonFinite()"

    def _compile(self, kind: type | None, base: Rule) -> Check:
        # Read by the compiler, which picks the float check that takes them; nothing to add here.
        if kind is not float:
            raise self._refuse_kind(kind)
        return _unchanged


def _unchanged(value: Any) -> Any:
    return value


def _normalise(path: str) -> str:
    path = os.path.normpath(path)
    # POSIX lets "//x" mean something else than "/x", so normpath keeps it; leastpriv does not.
    return "/" + path.lstrip("/")


def _inside(path: str, root: str) -> bool:
    if root == "/":
        return path != "/"
    return path.startswith(root) and path[len(root):len(root) + 1] == "/"
