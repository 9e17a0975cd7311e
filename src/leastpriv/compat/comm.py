"""oslo.privsep's `comm` names that callers catch."""

from __future__ import annotations

from leastpriv.errors import CallTimeout

__all__ = ["PrivsepTimeout"]


class PrivsepTimeout(CallTimeout):
    """Raised when a call's reply did not arrive within its timeout (a `leastpriv.CallTimeout`)."""
