"""``leastpriv audit``: find oslo.privsep, oslo.rootwrap and leastpriv anti-patterns in a code base.

    >>> from leastpriv.audit import audit, AuditOptions
    >>> result = audit(Path("nova"), AuditOptions(select=frozenset({"LPS2"})))

`audit` reads a tree once (in parallel), models its privsep contexts, entrypoints, their callers and
its rootwrap use, and returns an `AuditResult` (see `leastpriv.audit.model`) whose findings come
from the rules in `RULES` (ids LPS101 to LPS304; each rule's docstring is its documentation).
`audit_source` runs the rules one file can decide on its own, for the flake8 plugin.
"""

from leastpriv.audit.analyzer import AuditOptions, audit, audit_source
from leastpriv.audit.rules import RULES

__all__ = ["RULES", "AuditOptions", "audit", "audit_source"]
