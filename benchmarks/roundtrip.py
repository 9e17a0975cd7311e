"""Round trip of a no-op echo, side by side: a raw Unix-socket echo (the floor), leastpriv, and
oslo.privsep. One run, one table (issue 2, item 8; docs/performance.md).

    .venv/bin/python benchmarks/roundtrip.py [--update-docs]
    .venv/bin/python benchmarks/roundtrip.py --compare ace914f=/tmp/old/src --compare new=src

The second form measures only leastpriv, once from each source tree (a `git worktree` of another
revision), alternating, and prints them side by side with the change from the first to the last
(with --update-docs, into docs/performance.md's "Before and after" table).

Needs root (fork mode: the caller must hold the capability the daemons keep). oslo.privsep is
installed on first use into benchmarks/.cache/site, for the benchmark only. Each library is
measured in a worker process of its own that imports nothing else, so that one library's imports
never weigh on the other's daemon (a forked daemon's RSS includes what its parent had loaded).

What each row measures:
- p50/p99 sequential: one caller, one call at a time, each timed alone (32-byte bytes argument;
  then 1 MiB of bytes, echoed back);
- CPU per small call: the CPU time caller and daemon used over those sequential small calls,
  all threads, divided by the calls: what a call costs the machine, where p50 is what it costs
  the caller in time (a side that polls before blocking trades the first for the second); and
  the same with caller and a fresh forked daemon bound to one CPU, where nothing polls: the work
  of a call alone, less sensitive to the machine's load;
- calls/s with N threads: N callers sharing the library's one channel (the floor: one connection
  per thread, as a raw echo has no request ids), for a fixed time;
- first call: stop the daemon, then time starting it and making one small call (median of several);
- daemon RSS: VmRSS of the daemon from /proc/<pid>/status, after the whole workload (fork), and
  after its first call (exec); and its private memory (USS, from /proc/<pid>/smaps_rollup), since
  a forked daemon's RSS also counts the pages it still shares with its parent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from support.common import anchor_version, prepare, publish, rounds_arguments, run_workers

SMALL = b"x" * 32
LARGE = os.urandom(1 << 20)
SEQUENTIAL_CALLS = 4000
LARGE_CALLS = 80
WARMUP_CALLS = 200
THREAD_SECONDS = 1.5
THREAD_COUNTS = (8, 64)
FORK_STARTS = 7
EXEC_STARTS = 7  # a start is noisy: the median of three moved by 30% between two runs

SYSTEMS = ("floor", "leastpriv", "oslo.privsep")


# -- What is measured, the same way for every system ---------------------------------------------

class Adapter:
    """One system under test: start/stop its daemon, call the echo, name the daemon's pid."""

    methods: tuple[str, ...] = ("fork",)

    def start(self, method: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def call(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def daemon_pid(self, method: str) -> int | None:
        raise NotImplementedError


def rss_bytes(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def private_bytes(pid: int | None) -> int | None:
    """Memory only this process uses (USS: private clean + dirty pages, from smaps_rollup).

    VmRSS also counts the pages a forked daemon still shares with its parent, which cost nothing
    extra; this is what the daemon adds to the machine.
    """
    if pid is None:
        return None
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return None
    return total


def process_cpu_seconds(pid: int | None) -> float | None:
    """CPU time `pid` has used so far, all its threads, to the nanosecond (its CPU-time clock)."""
    if pid is None:
        return None
    try:
        return time.clock_gettime(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return None


_CPUCLOCK_SCHED = 2  # the process-wide scheduler clock of a pid, as clock_getcpuclockid() gives


def timed_calls(call: Callable[[bytes], bytes], payload: bytes, count: int) -> list[float]:
    """Seconds per call, `count` sequential calls (after a short warm-up)."""
    for _ in range(min(WARMUP_CALLS, count)):
        call(payload)
    times = []
    clock = time.perf_counter
    for _ in range(count):
        started = clock()
        reply = call(payload)
        times.append(clock() - started)
        if len(reply) != len(payload):
            raise RuntimeError(f"echo returned {len(reply)} bytes for {len(payload)}")
    return times


def throughput(call: Callable[[bytes], bytes], threads: int, seconds: float) -> float:
    """Calls per second completed by `threads` callers over about `seconds`."""
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors: list[BaseException] = []
    deadline = [0.0]

    def caller(index: int) -> None:
        barrier.wait()
        done, end, clock = 0, deadline[0], time.perf_counter
        try:
            while clock() < end:
                call(SMALL)
                done += 1
        except BaseException as exc:  # reported below: a failed call must not look like speed
            errors.append(exc)
        counts[index] = done

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {threads} callers failed: {errors[0]!r}")
    return sum(counts) / elapsed


def measure(adapter: Adapter) -> dict[str, Any]:
    result: dict[str, Any] = {}
    # Start times first (exec before fork), leaving the last fork daemon up for the rest.
    for method in sorted(adapter.methods, key=lambda m: m != "exec"):
        starts = []
        for _ in range(EXEC_STARTS if method == "exec" else FORK_STARTS):
            adapter.stop()
            started = time.perf_counter()
            adapter.start(method)
            adapter.call(SMALL)
            starts.append(time.perf_counter() - started)
        result[f"start_{method}"] = statistics.median(starts)
        if method == "exec":
            result["rss_exec"] = rss_bytes(adapter.daemon_pid(method))
            result["uss_exec"] = private_bytes(adapter.daemon_pid(method))
    daemon = adapter.daemon_pid("fork")
    caller_before, daemon_before = time.process_time(), process_cpu_seconds(daemon)
    small = timed_calls(adapter.call, SMALL, SEQUENTIAL_CALLS)
    caller_cpu = time.process_time() - caller_before
    daemon_after = process_cpu_seconds(daemon)
    if daemon_before is not None and daemon_after is not None:
        # Warm-up calls included: timed_calls makes them first.
        calls = SEQUENTIAL_CALLS + min(WARMUP_CALLS, SEQUENTIAL_CALLS)
        result["cpu_small"] = (caller_cpu + daemon_after - daemon_before) / calls
    large = timed_calls(adapter.call, LARGE, LARGE_CALLS)
    for name, times in (("small", small), ("large", large)):
        result[f"p50_{name}"] = statistics.median(times)
        result[f"p99_{name}"] = statistics.quantiles(times, n=100)[98]
    for threads in THREAD_COUNTS:
        result[f"tput_{threads}"] = throughput(adapter.call, threads, THREAD_SECONDS)
    result["rss_fork"] = rss_bytes(adapter.daemon_pid("fork"))
    result["uss_fork"] = private_bytes(adapter.daemon_pid("fork"))
    result["cpu_small_1cpu"] = one_cpu_cost(adapter)
    adapter.stop()
    return result


def one_cpu_cost(adapter: Adapter) -> float | None:
    """CPU per small call with the caller and a fresh forked daemon bound to one CPU.

    There neither side polls (leastpriv's `SpinWait` never does on one CPU), so this is the work
    a call takes, system calls and the switches between the two included, without the polling
    that the two-CPU figure also counts (which grows with the other side's latency).
    """
    allowed = os.sched_getaffinity(0)
    adapter.stop()
    os.sched_setaffinity(0, {min(allowed)})  # this thread; the daemon forked next inherits it
    try:
        adapter.start("fork")
        daemon = adapter.daemon_pid("fork")
        caller_before, daemon_before = time.process_time(), process_cpu_seconds(daemon)
        timed_calls(adapter.call, SMALL, SEQUENTIAL_CALLS)
        caller_cpu = time.process_time() - caller_before
        daemon_after = process_cpu_seconds(daemon)
    finally:
        os.sched_setaffinity(0, allowed)
    if daemon_before is None or daemon_after is None:
        return None
    return (caller_cpu + daemon_after - daemon_before) / (
        SEQUENTIAL_CALLS + min(WARMUP_CALLS, SEQUENTIAL_CALLS))


# -- The floor: a forked server echoing length-prefixed frames ------------------------------------

def recv_exact(sock: socket.socket, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return buffer


def echo_connection(conn: socket.socket) -> None:
    with conn:
        while (header := recv_exact(conn, 4)) is not None:
            body = recv_exact(conn, int.from_bytes(header, "big"))
            if body is None:
                return
            conn.sendall(header + body)


class Floor(Adapter):
    """What any privilege-separation channel costs at least: framing over a Unix socket."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.path = ""
        self.local = threading.local()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self, method: str) -> None:
        directory = tempfile.mkdtemp(prefix="leastpriv-bench-")
        self.path = os.path.join(directory, "echo.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(128)
        pid = os.fork()
        if pid == 0:  # the server: serve until killed, never return into the benchmark
            try:
                while True:
                    conn, _ = listener.accept()
                    threading.Thread(target=echo_connection, args=(conn,), daemon=True).start()
            finally:
                os._exit(0)
        listener.close()
        self.pid = pid

    def connection(self) -> socket.socket:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(self.path)
            self.local.conn = conn
            with self.lock:
                self.connections.append(conn)
        return conn

    def call(self, payload: bytes) -> bytes:
        conn = self.connection()
        conn.sendall(len(payload).to_bytes(4, "big") + payload)
        header = recv_exact(conn, 4)
        body = recv_exact(conn, int.from_bytes(header or b"", "big")) if header else None
        if body is None:
            raise ConnectionError("echo server went away")
        return bytes(body)

    def stop(self) -> None:
        with self.lock:
            for conn in self.connections:
                conn.close()
            self.connections.clear()
        self.local = threading.local()
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
            os.unlink(self.path)
            os.rmdir(os.path.dirname(self.path))

    def daemon_pid(self, method: str) -> int | None:
        return self.pid


# -- leastpriv and oslo.privsep -------------------------------------------------------------------

class Leastpriv(Adapter):
    methods = ("fork", "exec")

    def __init__(self) -> None:
        from support import leastpriv_echo

        self.ctx = leastpriv_echo.echo_ctx
        self.call = leastpriv_echo.echo_privileged  # type: ignore[method-assign]

    def start(self, method: str) -> None:
        self.ctx.start(method=method)

    def stop(self) -> None:
        self.ctx.stop()

    def daemon_pid(self, method: str) -> int | None:
        return self.ctx.daemon_pid


def children(parent: int) -> list[int]:
    """Pids whose parent is `parent`, newest (highest start time) last."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append((int(fields[19]), int(entry)))
    return [pid for _, pid in sorted(found)]


def processes_running(needle: str) -> list[int]:
    """Pids whose command line contains `needle`, newest last."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    text = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    started = int(stat.read().rsplit(")", 1)[1].split()[19])
            except OSError:
                continue
            if needle in text:
                found.append((started, int(entry)))
    return [pid for _, pid in sorted(found)]


class OsloPrivsep(Adapter):
    methods = ("fork", "exec")

    def __init__(self) -> None:
        from oslo_config import cfg
        from oslo_privsep import priv_context
        from support import oslo_echo

        cfg.CONF([], project="leastpriv-bench", default_config_files=[], default_config_dirs=[])
        # Exec mode as a root service would configure it: the helper run directly, no sudo.
        cfg.CONF.set_override("helper_command", f"{sys.executable} -m oslo_privsep.daemon",
                              group=oslo_echo.echo_ctx.cfg_section)
        self.methods_enum = priv_context.Method
        self.ctx = oslo_echo.echo_ctx
        self.pypath = oslo_echo.echo_ctx.pypath or ""
        self.call = oslo_echo.echo  # type: ignore[method-assign]

    def start(self, method: str) -> None:
        self.ctx.start(self.methods_enum.FORK if method == "fork"
                       else self.methods_enum.ROOTWRAP)

    def stop(self) -> None:
        self.ctx.stop()

    def daemon_pid(self, method: str) -> int | None:
        # oslo.privsep keeps no pid: a forked daemon is our newest child; an exec'd one is the
        # helper's child, reparented, found by its command line.
        pids = children(os.getpid()) if method == "fork" else processes_running(self.pypath)
        return pids[-1] if pids else None


def worker(system: str) -> dict[str, Any]:
    adapter: Adapter = {"floor": Floor, "leastpriv": Leastpriv, "oslo.privsep": OsloPrivsep}[
        system
    ]()
    return measure(adapter)


# -- The table -------------------------------------------------------------------------------------

def fmt(value: float | None, scale: float, digits: int) -> str:
    return "—" if value is None else f"{value * scale:,.{digits}f}"


def ratio_target(results: dict[str, dict[str, Any] | None], key: str, base: str, limit: float,
                 at_most: bool) -> str:
    mine = (results.get("leastpriv") or {}).get(key)
    other = (results.get(base) or {}).get(key)
    if not mine or not other:
        return "not measured"
    ratio = mine / other
    met = ratio <= limit if at_most else ratio >= limit
    return f"{'met' if met else 'MISSED'} ({ratio:.2f}x)"


def absolute_target(results: dict[str, dict[str, Any] | None], key: str, limit: float,
                    scale: float, unit: str) -> str:
    mine = (results.get("leastpriv") or {}).get(key)
    if mine is None:
        return "not measured"
    return f"{'met' if mine <= limit else 'MISSED'} ({mine * scale:.1f} {unit})"


US, MS, MB = 1e6, 1e3, 1e-6
# label, key, scale, digits: every row of both tables, in order.
ROWS: tuple[tuple[str, str, float, int], ...] = (
    ("p50 small call (µs)", "p50_small", US, 1),
    ("p99 small call (µs)", "p99_small", US, 1),
    ("CPU per small call, caller + daemon (µs)", "cpu_small", US, 1),
    ("CPU per small call, both on one CPU (µs)", "cpu_small_1cpu", US, 1),
    ("p50 1 MiB echo (ms)", "p50_large", MS, 2),
    ("p99 1 MiB echo (ms)", "p99_large", MS, 2),
    ("calls/s, 8 threads", "tput_8", 1, 0),
    ("calls/s, 64 threads", "tput_64", 1, 0),
    ("first call, fork start (ms)", "start_fork", MS, 1),
    ("first call, exec start (ms)", "start_exec", MS, 1),
    ("daemon RSS, fork (MB)", "rss_fork", MB, 1),
    ("daemon RSS, exec (MB)", "rss_exec", MB, 1),
    ("daemon private memory (USS), fork (MB)", "uss_fork", MB, 1),
    ("daemon private memory (USS), exec (MB)", "uss_exec", MB, 1),
)


def comparison(results: dict[str, dict[str, Any] | None], labels: list[str]) -> str:
    """leastpriv from each source tree side by side, and the change from the first to the last
    (for calls/s, more is better; for every other row, less)."""
    head = ["measure", *labels, f"change, {labels[0]} to {labels[-1]}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, key, scale, digits in ROWS:
        values = [(results.get(system) or {}).get(key) for system in labels]
        first, last = values[0], values[-1]
        change = ""
        if first and last is not None:
            worse = (last < first) if key.startswith("tput_") else (last > first)
            change = f"{(last - first) / first:+.0%}" + (" (worse)" if worse and
                                                         abs(last - first) > 0.1 * first else "")
        cells = [fmt(value, scale, digits) for value in values]
        lines.append("| " + " | ".join([label, *cells, change]) + " |")
    return "\n".join(lines)


def table(results: dict[str, dict[str, Any] | None], oslo_version: str) -> str:
    targets = {  # key: (target, verdict)
        "p50_small": ("≤ 1.3x floor", ratio_target(results, "p50_small", "floor", 1.3,
                                                   at_most=True)),
        "p50_large": ("≤ 0.5x oslo.privsep", ratio_target(results, "p50_large", "oslo.privsep",
                                                          0.5, at_most=True)),
        "tput_8": ("≥ 2x oslo.privsep", ratio_target(results, "tput_8", "oslo.privsep", 2.0,
                                                     at_most=False)),
        "start_fork": ("≤ 15 ms", absolute_target(results, "start_fork", 0.015, MS, "ms")),
        "start_exec": ("≤ 120 ms", absolute_target(results, "start_exec", 0.120, MS, "ms")),
        "rss_fork": ("≤ 15 MB", absolute_target(results, "rss_fork", 15e6, MB, "MB")),
        "rss_exec": ("≤ 15 MB", absolute_target(results, "rss_exec", 15e6, MB, "MB")),
    }
    head = ["measure", "raw socket (floor)", "leastpriv", f"oslo.privsep {oslo_version}",
            "target", "leastpriv vs target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, key, scale, digits in ROWS:
        cells = [fmt((results.get(system) or {}).get(key), scale, digits) for system in SYSTEMS]
        lines.append("| " + " | ".join([label, *cells, *targets.get(key, ("", ""))]) + " |")
    return "\n".join(lines)


def combine(best: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The best of two rounds: least time and CPU, most calls/s, but the *largest* RSS (not
    noise: what the daemon may hold)."""
    if best is None:
        return new
    merged = {}
    for key in best.keys() | new.keys():
        values = [v for v in (best.get(key), new.get(key)) if v is not None]
        if not values:
            merged[key] = None
        elif key.startswith(("tput_", "rss_", "uss_")):
            merged[key] = max(values)
        else:
            merged[key] = min(values)
    return merged


def main() -> int:
    args = rounds_arguments(__doc__, SYSTEMS, comparable=True)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    before = prepare("benchmarks/roundtrip.py", "fork mode forks daemons that keep a capability")
    if before is None:
        return 1
    if args.compare:
        labels = [label for label, _ in args.compare]
        results, failures = run_workers(
            __file__, labels, anchored="", rounds=args.rounds, combine=combine,
            sources={label: ("leastpriv", src) for label, src in args.compare})
        sources = ", ".join(f"{label} from {src}" for label, src in args.compare)
        return publish(before, comparison(results, labels), failures,
                       measured=f"leastpriv only: {sources}",
                       notes=(f"Best of {args.rounds} alternating rounds per source.",),
                       section="roundtrip-compare", update_docs=args.update_docs)
    results, failures = run_workers(__file__, SYSTEMS, anchored="oslo.privsep", rounds=args.rounds,
                                    combine=combine)
    return publish(before, table(results, anchor_version("oslo.privsep")), failures,
                   notes=(f"Best of {args.rounds} alternating rounds per system.",),
                   section="roundtrip", update_docs=args.update_docs)


if __name__ == "__main__":
    sys.exit(main())
