"""Contracts: what each privileged function accepts, checked on both sides of the channel.

A privileged function declares its contract with ordinary type annotations, narrowed with markers::

    def chown_console_log_privileged(
        path: Annotated[str, PathUnder("/var/lib/myservice/instances")],
        uid: Annotated[int, Range(1000, 65533)],
    ) -> None: ...

This module is the public face of three smaller ones: `leastpriv.markers` (the markers),
`leastpriv.checks` (the annotation compiler) and `leastpriv.binding` (`Contract`: the call
binding). `leastpriv.paths` is the path resolution the daemon trusts, and `leastpriv.fs` the file
operations a function does on the paths it receives.

Only the types that travel over the channel are accepted: ``None, bool, int, float, str, bytes,
list[T], tuple[T, ...], tuple[A, B], dict[str, T], Optional/Union, Literal[...]``, `enum.Enum`
subclasses (sent by value) and ``Annotated[T, marker, ...]`` with the markers `PathUnder`, `Match`,
`OneOf`, `Range`, `MaxLen` and `AllowNonFinite`. Type checks are exact: a bool is not an int, str
and bytes never mix, nothing is converted implicitly (an int is accepted where a float is
declared, as in Python's own numeric tower).
"""

from __future__ import annotations

from leastpriv.binding import Contract
from leastpriv.checks import PolicyWarning
from leastpriv.markers import AllowNonFinite, Match, MaxLen, OneOf, PathUnder, Range

__all__ = ["AllowNonFinite", "Contract", "Match", "MaxLen", "OneOf", "PathUnder", "PolicyWarning",
           "Range"]
