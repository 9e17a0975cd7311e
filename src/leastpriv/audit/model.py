"""What an audit knows about a code base: contexts, entrypoints, call sites, findings.

The analyser (`leastpriv.audit.analyzer`) fills these; the reports (`leastpriv.audit.report`) and
the flake8 adapter only read them. Paths are relative to the audited root and use ``/``; ids are
dotted module paths from the root (``nova/privsep/path.py`` → ``nova.privsep.path.writefile``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """How much a finding weakens privilege separation; ordered, so ``--fail-on`` can compare."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Finding:
    """One rule matched at one place."""

    path: str
    line: int
    col: int
    rule: str  # "LPS203"
    severity: Severity
    symbol: str  # id of the context/entrypoint it is about, or of the enclosing function
    message: str  # says what reaches what, e.g. "parameter 'path' reaches os.chmod at line 41"


@dataclass(frozen=True)
class ContextInfo:
    """A privsep context: ``PrivContext(...)`` from oslo.privsep or leastpriv."""

    id: str  # "nova.privsep.sys_admin_pctxt"
    path: str
    line: int
    cfg_section: str | None
    capabilities: tuple[str, ...]  # "CAP_*" names in kernel order
    framework: str  # "oslo.privsep" | "leastpriv"


@dataclass(frozen=True)
class CallSite:
    """A place that calls an entrypoint."""

    path: str
    line: int
    caller: str  # id of the enclosing function (or module)
    name_used: str  # the name the call was written with, e.g. "fs.writefile"


@dataclass(frozen=True)
class EntrypointInfo:
    """A function decorated with a context's ``entrypoint``."""

    id: str  # "nova.privsep.path.writefile"
    path: str
    line: int
    context: str | None  # ContextInfo.id, None when the context could not be resolved
    params: tuple[str, ...]
    callers: tuple[CallSite, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be read or parsed; reported, never fatal."""

    path: str
    line: int
    message: str


@dataclass
class AuditResult:
    """Everything one run of the audit found, in a stable order."""

    root: str
    contexts: list[ContextInfo] = field(default_factory=list)
    entrypoints: list[EntrypointInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_read: int = 0
    # Files read whose text names no privsep or rootwrap marker, so they were never parsed.
    not_parsed: list[str] = field(default_factory=list)
