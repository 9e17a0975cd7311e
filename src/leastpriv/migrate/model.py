"""What a migration plan is made of: rootwrap filters, run-as-root call sites, command entries.

`leastpriv.migrate.filters` reads filters, `leastpriv.migrate.callsites` finds call sites,
`leastpriv.migrate.catalog` answers what a command needs, and `leastpriv.migrate.plan` joins them.
Paths are relative to the root that was read and use ``/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Filter:
    """One `name: Class, arg, ...` line of a rootwrap filter file, as oslo.rootwrap reads it."""

    path: str
    line: int
    name: str  # lower-cased, as rootwrap does
    cls: str  # "CommandFilter", "RegExpFilter", …
    # The program really run, as a basename: "chown"; "kill" for KillFilter, "cat" for
    # ReadFileFilter, the wrapped program for EnvFilter.
    command: str
    exec_path: str  # as written in the filter ("/bin/chown", "chown")
    run_as: str
    args: tuple[str, ...]  # the remaining fields, as written
    risk: tuple[str, ...] = ()  # what it really allows that gives root away; empty if narrow


@dataclass(frozen=True)
class FilterProblem:
    """A line or file rootwrap would reject or misread; reported, never fatal."""

    path: str
    line: int
    message: str


@dataclass(frozen=True)
class RootwrapConf:
    """The `[DEFAULT]` options of a rootwrap.conf that matter for a plan."""

    path: str
    filters_path: tuple[str, ...]
    exec_dirs: tuple[str, ...]


@dataclass(frozen=True)
class RootCallSite:
    """A call that runs a command as root (through rootwrap, a root helper or sudo)."""

    path: str
    line: int
    function: str  # dotted id of the enclosing function ("cinder.volume.drivers.lvm.LVM._create")
    command: str | None  # program when literal (first element of a literal argv), else None
    argv: tuple[str | None, ...]  # literal arguments; None where an argument is not a literal
    # "run_as_root", "root_helper", "sudo", or "kwargs" (run_as_root passed through a **kwargs dict)
    via: str
    filter: str | None = None  # name of the filter it would match, when one does


@dataclass(frozen=True)
class CommandEntry:
    """What one command needs to run as a non-root daemon, from the catalog data file."""

    command: str
    capabilities: tuple[str, ...]  # minimal "CAP_*" names; empty when none or when needs_uid0 alone
    reason: str
    confidence: str  # "high" | "medium" | "low"
    needs_uid0: bool = False  # capabilities do not help: the peer's uid or euid 0 is checked
    replacement: str | None = None  # a Python way to do it without running the command
    aliases: tuple[str, ...] = ()
    notes: str = ""
    # What `leastpriv probe --catalog` measured on a real kernel; empty until it has run.
    verified: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
