"""leastpriv side of the round-trip benchmark: a no-op echo on a one-capability context."""

from __future__ import annotations

import leastpriv
from leastpriv import caps

# One harmless capability: a context must declare at least what its functions need, and an echo
# needs nothing; CAP_CHOWN is what oslo.privsep's side declares too, so both daemons drop alike.
echo_ctx = leastpriv.PrivContext("leastpriv.bench.echo", capabilities=[caps.CAP_CHOWN],
                                  user="nobody")


@echo_ctx.entrypoint
def echo_privileged(payload: bytes) -> bytes:
    return payload
