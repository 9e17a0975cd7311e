"""leastpriv's own example service, the one `leastpriv demo` runs, passes leastpriv's audit."""

from __future__ import annotations

from pathlib import Path

import leastpriv.examples
from leastpriv.audit import audit


def test_the_example_service_has_no_findings_and_two_narrow_contexts() -> None:
    result = audit(Path(leastpriv.examples.__file__).parent)
    assert result.findings == []
    assert sorted(c.capabilities for c in result.contexts) == [
        ("CAP_CHOWN", "CAP_DAC_OVERRIDE"),
        ("CAP_NET_ADMIN",),
    ]
    assert len(result.entrypoints) == 3
