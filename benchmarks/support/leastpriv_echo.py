"""leastpriv side of the round-trip benchmark: a no-op echo on a one-capability context."""

from __future__ import annotations

import os
import sys

import leastpriv
from leastpriv import caps


def _helper_command() -> tuple[str, ...] | None:
    """In a worker measuring another source tree (roundtrip.py --compare, which sets
    LEASTPRIV_BENCH_SRC, common.SOURCE_ENV): the exec helper as root runs it, but with that tree
    first on its path, since ``python -I`` ignores PYTHONPATH. None otherwise: the default command.
    """
    src = os.environ.get("LEASTPRIV_BENCH_SRC")
    if not src:
        return None
    bench = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    boot = (f"import runpy, sys; sys.path[:0] = {[src, bench]!r}; "
            "runpy.run_module('leastpriv.privileged.helper', run_name='__main__', alter_sys=True)")
    return (sys.executable, "-I", "-c", boot)


# One harmless capability: a context must declare at least what its functions need, and an echo
# needs nothing; CAP_CHOWN is what oslo.privsep's side declares too, so both daemons drop alike.
echo_ctx = leastpriv.PrivContext("leastpriv.bench.echo", capabilities=[caps.CAP_CHOWN],
                                  user="nobody", helper_command=_helper_command())


@echo_ctx.entrypoint
def echo_privileged(payload: bytes) -> bytes:
    return payload
