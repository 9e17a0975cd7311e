"""Round trip of a no-op echo under eventlet's monkey patching: leastpriv and oslo.privsep side by
side, as cinder, manila, zun and nova run them. One run, one table.

    .venv/bin/python benchmarks/roundtrip_eventlet.py [--update-docs] [--rounds N]

Needs root (fork mode, as benchmarks/roundtrip.py). Each library is measured in a worker process
of its own that calls `eventlet.monkey_patch()` before importing anything else, then starts its
daemon by fork and measures with roundtrip.py's own adapters and timers (so both tables measure
alike): p50/p99 of sequential 32-byte echoes, and calls/s with 16 green threads on the one
channel. `measure_under_eventlet(system)` gives another script the same figures.
"""

import sys

if __name__ == "__main__" and "--worker" in sys.argv:
    import eventlet

    eventlet.monkey_patch()  # first, as a service under eventlet does

# After the patching: the adapters' threads and sockets must be eventlet's.
import json
import statistics
from typing import Any

from support.common import (
    Measurements,
    anchor_version,
    prepare,
    publish,
    rounds_arguments,
    run_worker,
    run_workers,
)

SYSTEMS = ("leastpriv", "oslo.privsep")
GREEN_THREADS = 16
CALLS = 4000


def worker(system: str) -> dict[str, Any]:
    import roundtrip

    adapter: roundtrip.Adapter = {"leastpriv": roundtrip.Leastpriv,
                                  "oslo.privsep": roundtrip.OsloPrivsep}[system]()
    adapter.stop()
    adapter.start("fork")
    times = roundtrip.timed_calls(adapter.call, roundtrip.SMALL, CALLS)
    result = {
        "p50_small": statistics.median(times),
        "p99_small": statistics.quantiles(times, n=100)[98],
        f"tput_{GREEN_THREADS}": roundtrip.throughput(adapter.call, GREEN_THREADS,
                                                      roundtrip.THREAD_SECONDS),
    }
    adapter.stop()
    return result


def measure_under_eventlet(system: str) -> tuple[Measurements | None, str | None]:
    """One worker's figures for `system` ("leastpriv" or "oslo.privsep") under eventlet: keys
    p50_small and p99_small (seconds) and tput_16 (calls/s); or None and why."""
    return run_worker(__file__, system, anchors=system == "oslo.privsep")


def table(results: dict[str, Measurements | None], oslo_version: str) -> str:
    rows = [("p50 small call (µs)", "p50_small", 1e6, 1),
            ("p99 small call (µs)", "p99_small", 1e6, 1),
            (f"calls/s, {GREEN_THREADS} green threads", f"tput_{GREEN_THREADS}", 1, 0)]
    mine, theirs = results.get("leastpriv") or {}, results.get("oslo.privsep") or {}
    lines = [f"| under eventlet | leastpriv | oslo.privsep {oslo_version} "
             "| leastpriv / oslo.privsep |", "|---|---|---|---|"]
    for label, key, scale, digits in rows:
        cells = ["—" if key not in side else f"{side[key] * scale:,.{digits}f}"
                 for side in (mine, theirs)]
        ratio = f"{mine[key] / theirs[key]:.2f}x" if mine.get(key) and theirs.get(key) else "—"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    target = ("Target (issue 9): small-call p50 ≤ 0.5x oslo.privsep's under eventlet: "
              + ("met" if mine.get("p50_small") and theirs.get("p50_small")
                 and mine["p50_small"] <= 0.5 * theirs["p50_small"] else "MISSED or not measured")
              + ".")
    return "\n".join([*lines, "", target])


def combine(best: Measurements | None, new: Measurements) -> Measurements:
    """The best of two rounds: least time, most calls/s."""
    if best is None:
        return new
    return {key: (max if key.startswith("tput_") else min)(best[key], new[key]) for key in new}


def main() -> int:
    args = rounds_arguments(__doc__, SYSTEMS)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    before = prepare("benchmarks/roundtrip_eventlet.py",
                     "fork mode forks daemons that keep a capability")
    if before is None:
        return 1
    results, failures = run_workers(__file__, SYSTEMS, anchored="oslo.privsep",
                                    rounds=args.rounds, combine=combine)
    return publish(before, table(results, anchor_version("oslo.privsep")), failures,
                   notes=(f"Under eventlet.monkey_patch(); best of {args.rounds} alternating "
                          "rounds per system.",),
                   section="roundtrip-eventlet", update_docs=args.update_docs)


if __name__ == "__main__":
    sys.exit(main())
