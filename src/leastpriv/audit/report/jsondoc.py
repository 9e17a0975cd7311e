"""The JSON report: a stable, documented shape for scripts (docs/audit.md, "JSON").

::

    {"version": 1, "root": str,
     "contexts": [{"id", "path", "line", "cfg_section", "capabilities": ["CAP_…"]}],
     "entrypoints": [{"id", "path", "line", "context", "params": [str]}],
     "findings": [{"rule", "severity", "path", "line", "col", "symbol", "message"}],
     "skipped": [{"path", "line", "message"}]}

Lists are sorted by path, line, then id (or rule), keys are sorted, `col` is 1-based and `severity`
is ``"low"``, ``"medium"`` or ``"high"``; the same result always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leastpriv.audit.docgen import RuleInfo
from leastpriv.audit.model import AuditResult
from leastpriv.audit.report.common import (
    column,
    sorted_contexts,
    sorted_entrypoints,
    sorted_findings,
)

VERSION = 1


def document(result: AuditResult) -> dict[str, Any]:
    """The report as plain data."""
    return {
        "version": VERSION,
        "root": result.root,
        "contexts": [
            {"id": c.id, "path": c.path, "line": c.line, "cfg_section": c.cfg_section,
             "capabilities": list(c.capabilities)}
            for c in sorted_contexts(result)
        ],
        "entrypoints": [
            {"id": e.id, "path": e.path, "line": e.line, "context": e.context,
             "params": list(e.params)}
            for e in sorted_entrypoints(result)
        ],
        "findings": [
            {"rule": f.rule, "severity": str(f.severity), "path": f.path, "line": f.line,
             "col": column(f), "symbol": f.symbol, "message": f.message}
            for f in sorted_findings(result)
        ],
        "skipped": [
            {"path": s.path, "line": s.line, "message": s.message}
            for s in sorted(result.skipped, key=lambda s: (s.path, s.line, s.message))
        ],
    }


def render(result: AuditResult, rules: Mapping[str, RuleInfo], *, color: bool = False) -> str:
    del rules, color  # the JSON shape carries neither rule docs nor colour
    return json.dumps(document(result), indent=2, sort_keys=True) + "\n"
