"""The eventlet echo of benchmarks/real_work.py: one no-op entrypoint, written against
oslo.privsep's API, so the same module runs on oslo.privsep and on leastpriv's drop-in."""

from __future__ import annotations

import time

from oslo_config import cfg
from oslo_privsep import capabilities, priv_context

echo_ctx = priv_context.PrivContext(
    "support.real_work_echo",
    cfg_section="leastpriv_bench_real_work_echo",
    pypath=__name__ + ".echo_ctx",
    capabilities=[capabilities.CAP_CHOWN],
)


@echo_ctx.entrypoint
def echo(payload):  # type: ignore[no-untyped-def] - oslo.privsep style, as projects write it
    return payload


def measure(calls: int) -> list[float]:
    """p50 and p99 seconds of `calls` sequential small echoes (after a warm-up)."""
    cfg.CONF([], project="leastpriv-bench")
    echo_ctx.start(priv_context.Method.FORK)
    payload = b"x" * 32
    for _ in range(200):
        echo(payload)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        echo(payload)
        samples.append(time.perf_counter() - started)
    echo_ctx.stop()
    samples.sort()
    return [samples[len(samples) // 2], samples[int(len(samples) * 0.99)]]
