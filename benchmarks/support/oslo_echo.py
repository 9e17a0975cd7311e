"""oslo.privsep side of the round-trip benchmark: the same no-op echo, the same capability."""

from __future__ import annotations

from oslo_privsep import capabilities, priv_context

echo_ctx = priv_context.PrivContext(
    "support.oslo_echo",  # oslo.privsep refuses entrypoints outside this module prefix
    cfg_section="leastpriv_bench_oslo_echo",
    pypath=__name__ + ".echo_ctx",  # what privsep-helper imports in exec ("rootwrap") mode
    capabilities=[capabilities.CAP_CHOWN],
)


@echo_ctx.entrypoint
def echo(payload: bytes) -> bytes:
    return payload
