"""The red-team variant fixtures and what the audit says of them.

Each variant is an entrypoint with a one-line comment above its decorator:
``# bad C LPS203: what it does`` (a data-flow rule should report it, with that rule) or
``# good C: what it does`` (no data-flow rule should report it); the shape letter ``C`` is left
out where the fixture is about how a value travels rather than which sink it reaches
(``fixtures/flow_variants_tree``). `cases` reads them; `verdicts` runs the audit on each fixture
and returns the data-flow rules it reported per entrypoint. The sink variants
(``fixtures/LPS20*_variants*``) are judged per function by tests/audit/test_dataflow.py and
counted by benchmarks/audit_variants.py; the flow variants by tests/audit/test_flow_variants.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leastpriv.audit import AuditOptions, audit, audit_source

FIXTURES = Path(__file__).parent / "fixtures"
DATAFLOW_RULES = frozenset({"LPS203", "LPS204", "LPS208"})
_VERDICT = re.compile(r"^# (bad|good)(?: ([A-Z]))?(?: (LPS\d{3}))?: (.+)$")
_DEF = re.compile(r"^(?:async )?def (\w+)\(")


@dataclass(frozen=True)
class Case:
    """One variant: where it is, whether it is dangerous, its shape, the rule that should say so."""

    fixture: str  # the fixture's name (a file or a tree)
    module: str  # the dotted module of the entrypoint
    function: str
    bad: bool
    shape: str  # "" for a flow variant
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


def cases(roots: Iterable[Path] | None = None) -> list[Case]:
    """The variants of `roots` (files or trees), by default the sink variants."""
    found = []
    for fixture in fixtures() if roots is None else roots:
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
                             bad == "bad", shape or "", rule, what)
                    )
                    pending = None
    return found


def verdicts(roots: Iterable[Path] | None = None) -> dict[str, frozenset[str]]:
    """Entrypoint id → the data-flow rules the audit reported about it, over every fixture of
    `roots` (by default the sink variants)."""
    options = AuditOptions(select=DATAFLOW_RULES)
    reported: dict[str, set[str]] = {}
    for fixture in fixtures() if roots is None else roots:
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
