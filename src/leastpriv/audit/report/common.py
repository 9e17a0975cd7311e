"""What several report formats compute the same way."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from leastpriv.audit.model import AuditResult, ContextInfo, EntrypointInfo, Finding, Severity


def worst_by_symbol(findings: Iterable[Finding]) -> dict[str, Severity]:
    """The highest severity among the findings about each symbol."""
    worst: dict[str, Severity] = {}
    for finding in findings:
        worst[finding.symbol] = max(finding.severity, worst.get(finding.symbol, Severity.LOW))
    return worst


def sorted_contexts(result: AuditResult) -> list[ContextInfo]:
    return sorted(result.contexts, key=lambda c: (c.path, c.line, c.id))


def sorted_entrypoints(result: AuditResult) -> list[EntrypointInfo]:
    return sorted(result.entrypoints, key=lambda e: (e.path, e.line, e.id))


def sorted_findings(result: AuditResult) -> list[Finding]:
    return sorted(
        result.findings, key=lambda f: (f.path, f.line, f.col, f.rule, f.symbol, f.message)
    )


def shown_from(root: str) -> tuple[Path, str]:
    """The directory report paths are shown from, and the prefix from it to `root`'s paths:
    the working directory when `root` is in it (`src/pkg/mod.py` after ``leastpriv audit src``,
    a path an editor, a terminal and code scanning can open), else `root` itself."""
    audited, here = Path(root).resolve(), Path.cwd().resolve()
    if audited == here or here in audited.parents:
        return here, "".join(f"{part}/" for part in audited.relative_to(here).parts)
    return audited, ""


def column(finding: Finding) -> int:
    """The 1-based column people and SARIF count in; the model keeps ast's 0-based offset."""
    return finding.col + 1
