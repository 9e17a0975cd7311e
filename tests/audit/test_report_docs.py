"""Rule pages: generated from the docstrings, in ruff's sections, and committed up to date."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from leastpriv.audit import docgen
from leastpriv.audit.model import Severity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
REQUIRED = ("What it does", "Why is this bad?", "Example", "Use instead")


def rule(id: str, name: str, severity: Severity, summary: str, doc: str) -> SimpleNamespace:
    """What the reports read of a `leastpriv.audit.rules.Rule`."""
    return SimpleNamespace(id=id, name=name, severity=severity, summary=summary, doc=doc)


def test_sections_accept_markdown_colon_and_underlined_headings() -> None:
    doc = """Intro line.

    ## What it does
    Finds A.

    Why is this bad?:
    Because B.

    Use instead
    -----------
    Do C.
    """
    assert docgen.sections(doc) == {"": "Intro line.", "What it does": "Finds A.",
                                    "Why is this bad?": "Because B.", "Use instead": "Do C."}


def test_fix_is_the_prose_of_use_instead_not_its_code() -> None:
    doc = "## Use instead\n```python\nx = 1\n```\nConfine the path.\n"
    prose = rule("LPS999", "x", Severity.LOW, "finds x", doc)
    assert docgen.fix_text(prose) == "Confine the path."
    code_only = rule("LPS999", "x", Severity.LOW, "finds x", "## Use instead\n```\nx\n```\n")
    assert "LPS999.md" in docgen.fix_text(code_only)


def test_fix_never_ends_in_a_colon_that_introduces_a_missing_example() -> None:
    one_line = "## Use instead\nRename it:\n```python\nx_privileged(a)\n```\n"
    assert docgen.fix_text(rule("LPS999", "x", Severity.LOW, "s", one_line)) == (
        "Rename it: `x_privileged(a)`"
    )
    longer = "## Use instead\nSplit it:\n```python\na = 1\nb = 2\n```\n"
    fixed = docgen.fix_text(rule("LPS999", "x", Severity.LOW, "s", longer))
    assert not fixed.endswith(":") and "LPS999.md" in fixed


def test_fix_names_the_published_page_which_an_installed_package_has_not() -> None:
    # pip install leastpriv ships no docs/ directory: "see docs/rules/LPS999.md" leads nowhere.
    longer = "## Use instead\nSplit it:\n```python\na = 1\nb = 2\n```\n"
    for doc in (longer, "## Use instead\n```\nx\n```\n"):
        pages = re.findall(r"\S+LPS999\.md", docgen.fix_text(rule("LPS999", "x", Severity.LOW,
                                                                   "s", doc)))
        assert pages == [docgen.page_url("LPS999")]
        assert pages[0].startswith("https://")


def test_stale_pages_are_detected(tmp_path: Path) -> None:
    rules = {"LPS999": rule("LPS999", "x", Severity.LOW, "finds x", "## What it does\nFinds x.\n")}
    docgen.write_pages(tmp_path, rules)
    assert docgen.stale_pages(tmp_path, rules) == []
    (tmp_path / "LPS999.md").write_text("edited by hand\n")
    assert docgen.stale_pages(tmp_path, rules) == ["LPS999.md"]


def _real_rules() -> dict:
    return pytest.importorskip("leastpriv.audit.rules").RULES


def test_committed_rule_pages_match_the_docstrings() -> None:
    stale = docgen.stale_pages(DOCS, _real_rules())
    assert stale == [], "run: python -m leastpriv.audit.docgen docs/rules"


def test_no_page_is_left_for_a_rule_that_is_gone() -> None:
    expected = set(docgen.expected_pages(_real_rules()))
    assert {p.name for p in DOCS.glob("*.md")} == expected


@pytest.mark.parametrize("rule_id", sorted(_real_rules()))
def test_every_rule_doc_has_ruff_sections(rule_id: str) -> None:
    parts = docgen.sections(_real_rules()[rule_id].doc)
    assert [title for title in REQUIRED if not parts.get(title)] == []
