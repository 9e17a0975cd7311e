"""How a caller's value travels to a sink the audit knows: the flow variants, judged per entrypoint.

tests/audit/fixtures/flow_variants_tree is a small tree (entrypoints in ``flowsvc.privileged``,
helpers in ``flowsvc.common``) where each entrypoint's path to a known sink (``os.chmod``,
``open(..., "w")``, ``rm PATH``, pyroute2's ``netns.create``) is indirect: helpers one to three
modules away, methods of classes (a base class, a classmethod, a property), partials, lambdas,
callbacks, dict dispatch, containers, string building, generators, ``match``, and narrowing done
in helpers. The comment above each entrypoint's decorator gives its verdict: ``# bad LPS203: ...``
(that rule should report it) or ``# good: ...`` (no data-flow rule should).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from tests.audit import variants
from tests.audit.variants import Case

TREE = Path(__file__).parent / "fixtures" / "flow_variants_tree"


def cases() -> list[Case]:
    return variants.cases([TREE])


@functools.cache
def verdicts() -> dict[str, frozenset[str]]:
    """Entrypoint id -> the data-flow rules the audit reported about it."""
    return variants.verdicts([TREE])


def catch_rate() -> tuple[int, int, int, int]:
    """(bad reported by the rule named, bad, good reported by any data-flow rule, good)."""
    all_cases = cases()
    bad = [c for c in all_cases if c.rule]
    good = [c for c in all_cases if not c.rule]
    hit = sum(c.rule in verdicts().get(c.entrypoint, ()) for c in bad)
    false = sum(bool(verdicts().get(c.entrypoint)) for c in good)
    return hit, len(bad), false, len(good)


# Variants the audit still judges wrongly: strict xfails, so a fix fails here until it leaves.
_STILL_WRONG: frozenset[str] = frozenset(
    {
        "flowsvc.privileged.cross.chmod_confined_in_other_module",
        "flowsvc.privileged.cross.truncate_console_log",
        "flowsvc.privileged.narrow.remove_basename",
        "flowsvc.privileged.narrow.remove_validated",
        "flowsvc.privileged.round2.remove_through_imported_base",
        "flowsvc.privileged.round3.remove_made",
    }
)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="known miss"))
        if c.entrypoint in _STILL_WRONG
        else c
        for c in cases()
    ],
    ids=lambda c: c.entrypoint.rsplit(".", 1)[-1],
)
def test_flow_variant_is_reported_by_its_rule_when_bad_and_by_none_when_good(case: Case) -> None:
    reported = verdicts().get(case.entrypoint, frozenset())
    if case.rule:
        assert case.rule in reported
    else:
        assert reported == frozenset()


def test_every_entrypoint_of_the_tree_has_a_verdict() -> None:
    defined = {
        f"{'.'.join(p.relative_to(TREE).with_suffix('').parts)}.{m.group(1)}"
        for p in TREE.rglob("privileged/*.py")
        for m in re.finditer(r"^@privileged\.default\.entrypoint\n(?:async )?def (\w+)\(",
                             p.read_text(), re.M)
    }
    assert defined == {c.entrypoint for c in cases()}


if __name__ == "__main__":
    hit, bad, false, good = catch_rate()
    print(f"bad reported by the rule named: {hit}/{bad}; good wrongly reported: {false}/{good}")
    for c in cases():
        said = sorted(verdicts().get(c.entrypoint, ()))
        if (c.rule and c.rule not in said) or (not c.rule and said):
            print(f"{'miss' if c.rule else 'false'} {c.entrypoint} (want {c.rule}, said {said})")
