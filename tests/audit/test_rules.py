"""Each rule against its fixture: the findings are exactly the ``# LPS…`` comments written inline.

A fixture is a file (checked with `audit_source`, as the flake8 plugin does) or a small package tree
(checked with `audit`, for the rules that need several modules). Its name starts with the rule id
or family it exercises (``LPS203_narrowing.py``, ``LPS3_rootwrap_tree``); only that selection runs,
so a fixture lists only the findings of its own rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leastpriv.audit import RULES, AuditOptions, audit, audit_source
from leastpriv.audit.docgen import fix_text
from leastpriv.audit.model import Severity

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECTED = re.compile(r"#\s*((?:LPS\d{3}[\s,]*)+)$")


def _expected(root: Path) -> set[tuple[str, int, str]]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    found = set()
    for path in files:
        relative = path.name if root.is_file() else path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = _EXPECTED.search(line)
            if match:
                found.update(
                    (relative, number, rule) for rule in match.group(1).replace(",", " ").split()
                )
    return found


def _options(fixture: Path) -> AuditOptions:
    return AuditOptions(select=frozenset({fixture.name.split("_")[0].removesuffix(".py")}))


# The red-team variants (LPS20*_variants*) are judged per function by test_dataflow.py.
FIXTURE_PATHS = sorted(
    p for p in FIXTURES.iterdir() if p.name.startswith("LPS") and "_variants" not in p.name
)


@pytest.mark.parametrize("fixture", FIXTURE_PATHS, ids=lambda p: p.name)
def test_fixture_findings_match_inline_expectations(fixture: Path) -> None:
    options = _options(fixture)
    if fixture.is_file():
        findings = audit_source(
            fixture.read_text(),
            path=fixture.name,
            module=f"svc_fixture.{fixture.stem.lower()}",
            options=options,
        )
    else:
        findings = audit(fixture, options).findings
    assert {(f.path, f.line, f.rule) for f in findings} == _expected(fixture)


def test_every_rule_has_a_fixture() -> None:
    prefixes = {p.name.split("_")[0].removesuffix(".py") for p in FIXTURE_PATHS}
    for rule_id in RULES:
        assert any(rule_id.startswith(prefix) for prefix in prefixes), rule_id


@pytest.mark.parametrize("rule", RULES.values(), ids=lambda r: r.id)
def test_rule_docs_have_ruffs_sections(rule) -> None:
    headings = re.findall(r"^## (.+)$", rule.doc, re.M)
    assert headings == [
        "What it does",
        "Why is this bad?",
        "Example",
        "Use instead",
        "Options",
        "References",
    ]
    assert rule.summary.endswith(".") and "\n" not in rule.summary
    assert re.fullmatch(r"[a-z]+(-[a-z]+)+", rule.name)
    assert isinstance(rule.severity, Severity)


def test_rule_ids_come_in_families_of_a_hundred() -> None:
    assert {rule_id[:4] for rule_id in RULES} == {"LPS0", "LPS1", "LPS2", "LPS3"}
    assert len({rule.name for rule in RULES.values()}) == len(RULES)


def test_suppression_on_the_finding_line_silences_only_the_named_rule() -> None:
    source = (
        "import os\nfrom oslo_privsep import priv_context\n"
        "ctx = priv_context.PrivContext(__name__, capabilities=[0])\n"
        "@ctx.entrypoint\n"
        "def chmod_privileged(path: str) -> None:\n"
        "    os.chmod(path, 0o600)  # leastpriv: ignore[LPS203] -- caller passes a fixed path\n"
    )
    findings = audit_source(source, path="m.py", module="svc.m")
    assert [f.rule for f in findings] == []
    unsuppressed = audit_source(source.replace("LPS203", "LPS204"), path="m.py", module="svc.m")
    assert [f.rule for f in unsuppressed] == ["LPS203"]


def test_a_misspelt_suppression_silences_nothing_and_is_reported() -> None:
    source = (
        "import os\nfrom oslo_privsep import priv_context\n"
        "ctx = priv_context.PrivContext(__name__, capabilities=[0])\n"
        "@ctx.entrypoint\n"
        "def chmod_privileged(path: str) -> None:\n"
        "    os.chmod(path, 0o600)  # leastpriv: ignroe[LPS203] -- caller passes a fixed path\n"
    )
    findings = audit_source(source, path="m.py", module="svc.m")
    assert sorted((f.rule, f.line) for f in findings) == [("LPS001", 6), ("LPS203", 6)]
    spaced = audit_source(source.replace("ignroe[", "ignore ["), path="m.py", module="svc.m")
    assert spaced == []


def test_suppression_on_the_def_line_covers_findings_about_the_entrypoint() -> None:
    source = (
        "import os\nfrom oslo_privsep import priv_context\n"
        "ctx = priv_context.PrivContext(__name__, capabilities=[0])\n"
        "@ctx.entrypoint\n"
        "def chmod(path):  # leastpriv: ignore[LPS201,LPS203,LPS205] -- legacy, see bug 7\n"
        "    os.chmod(path, 0o600)\n"
    )
    assert audit_source(source, path="m.py", module="svc.m") == []


def test_ignore_and_select_filter_by_prefix() -> None:
    source = (FIXTURES / "LPS203.py").read_text()
    every = audit_source(source, path="m.py", module="svc.m")
    assert {f.rule for f in every} >= {"LPS201", "LPS203", "LPS205"}
    no_lps2 = audit_source(
        source, path="m.py", module="svc.m", options=AuditOptions(ignore=frozenset({"LPS2"}))
    )
    assert not any(f.rule.startswith("LPS2") for f in no_lps2)


def test_extra_sinks_from_the_options_are_followed() -> None:
    source = (
        "from oslo_privsep import priv_context\nfrom svc import fsutil\n"
        "ctx = priv_context.PrivContext(__name__, capabilities=[0])\n"
        "@ctx.entrypoint\n"
        "def put(path):\n"
        "    fsutil.write_as_root(path)\n"
    )
    plain = audit_source(
        source, path="m.py", module="svc.m", options=AuditOptions(select=frozenset({"LPS203"}))
    )
    assert plain == []
    options = AuditOptions(
        select=frozenset({"LPS203"}), extra_file_sinks=("svc.fsutil.write_as_root",)
    )
    assert [
        (f.rule, f.line) for f in audit_source(source, path="m.py", module="svc.m", options=options)
    ] == [("LPS203", 6)]


def test_max_capabilities_option_widens_what_counts_as_broad() -> None:
    source = (FIXTURES / "LPS101.py").read_text()
    strict = audit_source(
        source, path="m.py", module="svc.m", options=AuditOptions(select=frozenset({"LPS101"}))
    )
    relaxed = audit_source(
        source,
        path="m.py",
        module="svc.m",
        options=AuditOptions(select=frozenset({"LPS101"}), max_capabilities=3),
    )
    assert len(relaxed) == len(strict) - 1


@pytest.mark.parametrize("rule", RULES.values(), ids=lambda r: r.id)
def test_use_instead_opens_with_prose_so_the_fix_line_is_a_sentence(rule) -> None:
    # The text report's "fix:" line is this first paragraph; code there would be skipped.
    use_instead = rule.doc.split("## Use instead", 1)[1].strip()
    assert not use_instead.startswith("```")
    assert not fix_text(rule).endswith(":")
