"""The text report: findings grouped by file, each with its path and its fix, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from itertools import groupby

from leastpriv.audit.docgen import RuleInfo, fix_text
from leastpriv.audit.model import AuditResult, Finding, Severity
from leastpriv.audit.report.common import column, shown_from, sorted_contexts, sorted_findings

_SEVERITY_COLOURS = {Severity.HIGH: "31", Severity.MEDIUM: "33", Severity.LOW: "36"}


class _Style:
    """ANSI styling, or none at all (a pipe, a file, ``NO_COLOR``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def severity(self, severity: Severity, text: str) -> str:
        return self._sgr(_SEVERITY_COLOURS[severity], text)


def _finding_lines(finding: Finding, rules: Mapping[str, RuleInfo], style: _Style) -> Iterator[str]:
    rule = rules.get(finding.rule)
    name = f" {rule.name}" if rule else ""
    position = f"{finding.line}:{column(finding)}"
    label = style.severity(finding.severity, f"[{finding.severity}]")
    yield f"  {position:>8}  {style.bold(finding.rule)}{name} {label}  {style.dim(finding.symbol)}"
    yield f"            {finding.message}"
    if rule:
        yield f"            fix: {fix_text(rule)}"


def _findings_section(
    result: AuditResult, rules: Mapping[str, RuleInfo], style: _Style, prefix: str
) -> Iterator[str]:
    for path, findings in groupby(sorted_findings(result), key=lambda f: f.path):
        yield style.bold(prefix + path)
        for finding in findings:
            yield from _finding_lines(finding, rules, style)
        yield ""


def _contexts_section(result: AuditResult, prefix: str) -> Iterator[str]:
    per_context = Counter(e.context for e in result.entrypoints)
    if not result.contexts and not per_context:
        return
    yield "Contexts:"
    for context in sorted_contexts(result):
        section = f" [{context.cfg_section}]" if context.cfg_section else ""
        count = len(context.capabilities)
        noun = "capability" if count == 1 else "capabilities"
        yield (f"  {context.id}{section}  {prefix}{context.path}:{context.line}  "
               f"{count} {noun}, {per_context[context.id]} entrypoints")
        if context.capabilities:
            yield f"    {' '.join(context.capabilities)}"
    if per_context[None]:
        yield f"  (context not resolved)  {per_context[None]} entrypoints"
    yield ""


def _rules_section(result: AuditResult, rules: Mapping[str, RuleInfo]) -> Iterator[str]:
    by_rule = Counter(f.rule for f in result.findings)
    if not by_rule:
        return
    yield "Findings by rule:"
    for rule_id in sorted(by_rule):
        name = rules[rule_id].name if rule_id in rules else ""
        yield f"  {rule_id} {name:<32} {by_rule[rule_id]:>5}"
    yield ""


def _skipped_section(result: AuditResult, prefix: str) -> Iterator[str]:
    if not result.skipped:
        return
    yield "Skipped files (could not be read or parsed):"
    for skipped in sorted(result.skipped, key=lambda s: (s.path, s.line)):
        yield f"  {prefix}{skipped.path}:{skipped.line}  {skipped.message}"
    yield ""


def _totals(result: AuditResult, style: _Style) -> str:
    by_severity = Counter(f.severity for f in result.findings)
    parts = [style.severity(s, f"{by_severity[s]} {s}") for s in sorted(Severity, reverse=True)]
    files = len({f.path for f in result.findings})
    return (f"{len(result.findings)} findings ({', '.join(parts)}) in {files} files; "
            f"{result.files_read} files read, {len(result.not_parsed)} not parsed (no marker; "
            f"-v lists them), {len(result.skipped)} skipped.")


def render(result: AuditResult, rules: Mapping[str, RuleInfo], *, color: bool = False) -> str:
    style = _Style(color)
    _, prefix = shown_from(result.root)
    lines = [
        *_findings_section(result, rules, style, prefix),
        *_contexts_section(result, prefix),
        *_rules_section(result, rules),
        *_skipped_section(result, prefix),
        _totals(result, style),
    ]
    return "\n".join(lines) + "\n"
