"""Fuzz the frame decoder and the daemon's dispatch: a million frames, 0 crashes, 0 hangs.

    .venv/bin/python benchmarks/fuzz_wire.py [--frames N] [--update-docs]

Hypothesis draws messages (tests/wire_frames.py: CALLs of the fuzz context's entrypoints with
random arguments, other kinds, random arrays) and a seed; for each, `PER_MESSAGE` frames: the
message itself and mutations of it drawn from the seed (bytes flipped, cut, inserted, slices
repeated, wrapped in up to 47 arrays or tuples, array/map headers claiming millions of values).
Every frame is decoded as the daemon decodes a request (`wire.parse_message`), checked to be
within `wire.MAX_DEPTH` and `wire.MAX_VALUES` when it decodes, dispatched (`Daemon.run`: registry
lookup, contract check, call) and its reply packed; and the frames of each message also go as one
byte stream through a `FrameReader` on a socketpair, with a mutation applied to the stream,
headers included.

A crash is any exception but the expected refusals, or the worker process dying (a signal, as
msgpack's SIGSEGV was); a hang is a frame that took over `HANG_SECONDS`. The fuzzing runs in a
worker process, so a crash is reported rather than taking the script with it. Figures go into
docs/fuzzing.md with `--update-docs`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from support.common import machine, revision, write_section

REPO = Path(__file__).resolve().parent.parent
PER_MESSAGE = 50
HANG_SECONDS = 1.0
DEFAULT_FRAMES = 1_000_000
CHUNK = 1000  # examples (messages) per hypothesis run
TRACE_EVERY = 10


def fuzz(frames: int) -> dict[str, Any]:
    """Run the fuzzing in this process; its figures."""
    sys.path.insert(0, str(REPO / "tests"))
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import wire_frames
    from leastpriv import wire
    from leastpriv.errors import ProtocolError

    run, packer = wire_frames.dispatcher(), wire.new_packer()
    counts: dict[str, int] = {}
    crashes: list[str] = []
    slowest: list[tuple[float, str, bytes]] = []  # the few slowest inputs: time, kind, bytes
    largest = [0, 0]  # the most memory one frame's decoding and dispatch took, and its size
    clock = time.perf_counter

    def note(elapsed: float, kind: str, data: bytes) -> None:
        if len(slowest) < 3 or elapsed > slowest[-1][0]:
            slowest[:] = sorted([*slowest, (elapsed, kind, data)], reverse=True)[:3]

    def check(body: bytes, traced: bool) -> None:
        if traced:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        started = clock()
        try:
            outcome = wire_frames.check_frame(body, run, packer)
        except Exception as exc:  # the defects this script is looking for
            outcome = "crash"
            crashes.append(f"{type(exc).__name__}: {exc} on {body[:64].hex()}")
        note(clock() - started, "frame", body)
        if traced and tracemalloc.get_traced_memory()[1] - base > largest[0]:
            largest[:] = [tracemalloc.get_traced_memory()[1] - base, len(body)]
        counts[outcome] = counts.get(outcome, 0) + 1

    def stream(bodies: list[bytes], mutations: list[tuple[int, int, int]]) -> None:
        data = wire_frames.mutated(b"".join(wire.HEADER.pack(len(b)) + b for b in bodies),
                                   mutations)
        started = clock()
        try:
            outcome = read_stream(wire, data)
        except (ProtocolError, OSError):
            outcome = "stream refused"
        except Exception as exc:
            outcome = "crash"
            crashes.append(f"stream: {type(exc).__name__}: {exc}")
        note(clock() - started, "stream", data)
        counts[outcome] = counts.get(outcome, 0) + 1

    # Hypothesis keeps what it learns of every example of a run: runs of CHUNK examples keep the
    # process's memory to the frames' own, not hypothesis's.
    @settings(max_examples=CHUNK, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(message=wire_frames.messages, rng=st.randoms(use_true_random=False))
    def one_message(message: list[Any], rng: random.Random) -> None:
        try:
            body = wire.packb(message)
        except (ProtocolError, ValueError):  # deeper than msgpack's own packer goes
            body = b"\x90"
        bodies = [body] + [wire_frames.mutated(body, wire_frames.random_mutations(rng))
                           for _ in range(PER_MESSAGE - 1)]
        messages[0] += 1
        traced = messages[0] % TRACE_EVERY == 0  # tracing every frame would triple the time
        if traced:
            tracemalloc.start()
        for each in bodies:
            check(each, traced)
        if traced:
            tracemalloc.stop()
        stream(bodies, wire_frames.random_mutations(rng))

    messages = [0]
    started = clock()
    while messages[0] * PER_MESSAGE < frames:
        one_message()
    elapsed = clock() - started
    # On a busy machine one input may wait for the CPU: a hang is one that, run again alone (best
    # of three), still takes over HANG_SECONDS.
    def alone(kind: str, data: bytes) -> float:
        times = []
        for _ in range(3):
            started = clock()
            with contextlib.suppress(ProtocolError, OSError):
                if kind == "frame":
                    wire_frames.check_frame(data, run, packer)
                else:
                    read_stream(wire, data)
            times.append(clock() - started)
        return min(times)

    rerun = max((alone(kind, data) for _, kind, data in slowest), default=0.0)
    frames_checked = sum(n for k, n in counts.items() if not k.startswith("stream"))
    return {
        "frames": frames_checked,
        "streams": counts.get("stream read", 0) + counts.get("stream refused", 0),
        "outcomes": counts,
        "crashes": crashes[:5],
        "crash_count": len(crashes),
        "slowest": slowest[0][0],
        "slowest_kind": slowest[0][1],
        "slowest_rerun": rerun,
        "seconds": elapsed,
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "largest": largest[0],
        "largest_size": largest[1],
        "largest_bound": wire.decoded_size_bound(largest[1]),
    }


def read_stream(wire: Any, data: bytes) -> str:
    """Send `data` down a socketpair and read messages off it until EOF or a protocol error."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        def write() -> None:
            try:
                theirs.sendall(data)
                theirs.shutdown(socket.SHUT_WR)
            except OSError:  # the reader gave up first
                pass

        writer = threading.Thread(target=write)
        writer.start()
        try:
            reader = wire.FrameReader(ours, 1 << 20)
            while reader.read_message() is not None:
                pass
        finally:
            ours.shutdown(socket.SHUT_RDWR)
            writer.join()
    return "stream read"


def table(result: dict[str, Any]) -> str:
    outcomes = result["outcomes"]
    rows = [
        ("frames decoded and dispatched", f"{result['frames']:,}"),
        ("… refused by the decoder (ProtocolError)", f"{outcomes.get('refused', 0):,}"),
        ("… decoded, then a protocol failure in dispatch",
         f"{outcomes.get('protocol failure', 0):,}"),
        ("… served (reply packed)", f"{outcomes.get('served', 0):,}"),
        ("… served, reply replaced by an error",
         f"{outcomes.get('reply replaced by an error', 0):,}"),
        ("byte streams through a FrameReader", f"{result['streams']:,}"),
        ("crashes (exceptions, or the process killed)", f"{result['crash_count']:,}"),
        (f"hangs (an input over {HANG_SECONDS:g} s when run again alone)",
         "0" if result["slowest_rerun"] <= HANG_SECONDS else "1 or more"),
        (f"slowest input in the run, a {result['slowest_kind']} (ms)",
         f"{result['slowest'] * 1e3:.1f}"),
        ("the three slowest run again alone, slowest (ms)",
         f"{result['slowest_rerun'] * 1e3:.1f}"),
        ("wall time (s)", f"{result['seconds']:.0f}"),
        (f"most memory one frame took, 1 message in {TRACE_EVERY} traced (KB)",
         f"{result['largest'] / 1e3:,.0f} (a {result['largest_size']}-byte body; its bound "
         f"decoded_size_bound: {result['largest_bound'] / 1e3:,.0f})"),
        ("peak RSS of the fuzzing process, hypothesis included (MB)",
         f"{result['max_rss'] / 1e6:.1f}"),
    ]
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--update-docs", action="store_true",
                        help="write the figures into docs/fuzzing.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(fuzz(args.frames)))
        return 0
    before = machine()
    done = subprocess.run([sys.executable, __file__, "--worker", "--frames", str(args.frames)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a signal (negative) is the crash this script exists to find
        print(f"the fuzzing worker failed with status {done.returncode}:\n{done.stderr[-3000:]}",
              file=sys.stderr)
        return 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report = "\n".join([f"Machine: {before}; {revision()}.", "", table(result)])
    print(report)
    for crash in result["crashes"]:
        print(f"crash: {crash}", file=sys.stderr)
    if args.update_docs:
        write_section(REPO / "docs" / "fuzzing.md", "fuzz", report)
    return 1 if result["crash_count"] or result["slowest_rerun"] > HANG_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
