"""The red-team variant fixtures (``fixtures/LPS20*_variants*``) and what the audit says of them.

Each variant is an entrypoint with a one-line comment above its decorator:
``# bad C LPS203: what it does`` (a data-flow rule should report it, with that rule) or
``# good C: what it does`` (no data-flow rule should report it). `cases` reads them; `verdicts`
runs the audit on each fixture and returns the data-flow rules it reported per entrypoint. Used by
tests/audit/test_dataflow.py (per function) and benchmarks/audit_variants.py (the catch rate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from leastpriv.audit import AuditOptions, audit, audit_source

FIXTURES = Path(__file__).parent / "fixtures"
DATAFLOW_RULES = frozenset({"LPS203", "LPS204", "LPS208"})
_VERDICT = re.compile(r"^# (bad|good) ([A-Z])(?: (LPS\d{3}))?: (.+)$")
_DEF = re.compile(r"^def (\w+)\(")


@dataclass(frozen=True)
class Case:
    """One variant: where it is, whether it is dangerous, its shape, the rule that should say so."""

    fixture: str  # the fixture's name (a file or a tree)
    module: str  # the dotted module of the entrypoint
    function: str
    bad: bool
    shape: str
    rule: str | None
    what: str

    @property
    def entrypoint(self) -> str:
        return f"{self.module}.{self.function}"


def fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("LPS2*_variants*"))


def _module(fixture: Path, path: Path) -> str:
    if fixture.is_file():
        return f"svc_fixture.{fixture.stem.lower()}"
    return ".".join(path.relative_to(fixture).with_suffix("").parts)


def cases() -> list[Case]:
    found = []
    for fixture in fixtures():
        files = [fixture] if fixture.is_file() else sorted(fixture.rglob("*.py"))
        for path in files:
            pending = None
            for line in path.read_text().splitlines():
                verdict, definition = _VERDICT.match(line), _DEF.match(line)
                if verdict:
                    pending = verdict
                elif definition and pending:
                    bad, shape, rule, what = pending.groups()
                    found.append(
                        Case(fixture.name, _module(fixture, path), definition.group(1),
                             bad == "bad", shape, rule, what)
                    )
                    pending = None
    return found


def verdicts() -> dict[str, frozenset[str]]:
    """Entrypoint id → the data-flow rules the audit reported about it, over every fixture."""
    options = AuditOptions(select=DATAFLOW_RULES)
    reported: dict[str, set[str]] = {}
    for fixture in fixtures():
        if fixture.is_file():
            findings = audit_source(
                fixture.read_text(), path=fixture.name, module=_module(fixture, fixture),
                options=options,
            )
        else:
            findings = audit(fixture, options).findings
        for finding in findings:
            reported.setdefault(finding.symbol, set()).add(finding.rule)
    return {symbol: frozenset(rules) for symbol, rules in reported.items()}
