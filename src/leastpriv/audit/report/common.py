"""What several report formats compute the same way."""

from __future__ import annotations

from collections.abc import Iterable

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


def column(finding: Finding) -> int:
    """The 1-based column people and SARIF count in; the model keeps ast's 0-based offset."""
    return finding.col + 1
