"""Reports of an `AuditResult`: text for people, JSON for scripts, SARIF for code scanning, HTML.

Every renderer has the shape ``render(result, rules, *, color=False) -> str`` and only reads the
result; `rules` maps rule ids to their metadata (`leastpriv.audit.rules.RULES` in the command line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from leastpriv.audit.docgen import RuleInfo
from leastpriv.audit.model import AuditResult
from leastpriv.audit.report import htmlpage, jsondoc, sarif, text

Renderer = Callable[..., str]

FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": jsondoc.render,
    "sarif": sarif.render,
    "html": htmlpage.render,
}


def render(
    fmt: str, result: AuditResult, rules: Mapping[str, RuleInfo], *, color: bool = False
) -> str:
    """`result` in format `fmt` (a key of `FORMATS`)."""
    return FORMATS[fmt](result, rules, color=color)


__all__ = ["FORMATS", "render"]
