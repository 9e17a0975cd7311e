"""Real privileged work, side by side: os-vif's create_veth_pair + delete_net_dev, 200 times in a
network namespace, through oslo.privsep 3.12, through leastpriv's drop-in, and as the one-shot
``ip`` commands rootwrap ran for them; then a small echo round trip under eventlet for leastpriv
and oslo.privsep. One run, one table.

    .venv/bin/python benchmarks/real_work.py [--update-docs]

Needs root and the drop-in's virtualenv, .cache/dropin-venv (``scripts/dev test`` builds it: os-vif
5.3.0 and leastpriv's drop-in installed instead of oslo.privsep). oslo.privsep 3.12 itself and
oslo.rootwrap are the anchors in benchmarks/.cache/site, put ahead of the drop-in for their
worker only. Every worker runs in a network namespace of its own (`ip netns exec`), made and
removed here; both privsep daemons are forked (the worker is root).

What each row measures:
- wall: the whole loop, one caller, sequential; rootwrap's loop runs ROOTWRAP_ROUNDS times and its
  wall is scaled to ROUNDS (marked), each of its commands a fresh rootwrap process, as before
  os-vif moved to privsep;
- CPU caller + daemon: CPU time of the worker process and its daemon (rootwrap: of the worker and
  every process it ran), over the loop;
- p50/p99 per operation: create_veth_pair and delete_net_dev timed one by one;
- eventlet echo: after eventlet.monkey_patch(), one green thread making ECHO_CALLS small calls of
  a no-op entrypoint, each timed alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.common import BENCH_DIR, CACHE_SITE, REPO, anchor_version, prepare, publish

ROUNDS = 200
ROOTWRAP_ROUNDS = 20
ECHO_CALLS = 2000
MTU = 1400
DROPIN_PYTHON = REPO / ".cache" / "dropin-venv" / "bin" / "python"
SYSTEMS = ("oslo.privsep", "drop-in", "rootwrap one-shot")
ROOTWRAP_MAIN = "import sys; from oslo_rootwrap import cmd; sys.exit(cmd.main())"


# -- workers (each in its own process, in its own network namespace) ------------------------------

def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_and_children_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _loop(create: Callable[[], None], delete: Callable[[], None], rounds: int,
          daemon_pid: Callable[[], int | None]) -> dict[str, Any]:
    create_times, delete_times = [], []
    pid = daemon_pid()
    daemon_before = _cpu_seconds(pid) if pid else 0.0
    cpu_before = _self_and_children_cpu()
    started = time.perf_counter()
    for _ in range(rounds):
        begin = time.perf_counter()
        create()
        middle = time.perf_counter()
        delete()
        create_times.append(middle - begin)
        delete_times.append(time.perf_counter() - middle)
    wall = time.perf_counter() - started
    cpu = _self_and_children_cpu() - cpu_before + (_cpu_seconds(pid) - daemon_before if pid else 0)
    return {"rounds": rounds, "wall": wall, "cpu": cpu,
            "create": _percentiles(create_times), "delete": _percentiles(delete_times)}


def _percentiles(samples: list[float]) -> list[float]:
    ordered = sorted(samples)
    return [statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]]


def _os_vif_worker() -> dict[str, Any]:
    from oslo_config import cfg
    from oslo_privsep import priv_context
    from vif_plug_ovs import linux_net, privsep

    cfg.CONF([], project="leastpriv-bench")
    context = privsep.vif_plug
    context.start(priv_context.Method.FORK)
    linux_net.create_veth_pair("lpbench0", "lpbench1", MTU)  # warm up: imports, first calls
    linux_net.delete_net_dev("lpbench0")

    def daemon_pid() -> int | None:
        # oslo.privsep keeps no pid: its forked daemon is this process's only child.
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        return int(children[-1]) if children else None

    result = _loop(lambda: linux_net.create_veth_pair("lpbench0", "lpbench1", MTU),
                   lambda: linux_net.delete_net_dev("lpbench0"), ROUNDS, daemon_pid)
    context.stop()
    result["echo"] = _eventlet_echo()
    return result


def _eventlet_echo() -> list[float]:
    """p50/p99 of a no-op call under eventlet, made from a fresh interpreter (patching is for
    life)."""
    code = ("import eventlet; eventlet.monkey_patch(); import sys, json; "
            "sys.path.insert(0, sys.argv[1]); from support import real_work_echo as e; "
            "print(json.dumps(e.measure(int(sys.argv[2]))))")
    done = subprocess.run([sys.executable, "-c", code, str(BENCH_DIR), str(ECHO_CALLS)],
                          capture_output=True, text=True, check=True, timeout=300)
    samples: list[float] = json.loads(done.stdout.splitlines()[-1])
    return samples


def _rootwrap_worker(directory: Path) -> dict[str, Any]:
    filters = directory / "rootwrap.d"
    filters.mkdir()
    (filters / "os-vif.filters").write_text("[Filters]\nip: CommandFilter, ip, root\n")
    conf = directory / "rootwrap.conf"
    conf.write_text(f"[DEFAULT]\nfilters_path={filters}\nexec_dirs=/usr/sbin,/usr/bin,/sbin,/bin\n"
                    "use_syslog=False\n")

    def ip(*args: str, check: bool = True) -> bool:
        done = subprocess.run([sys.executable, "-c", ROOTWRAP_MAIN, str(conf), "ip", *args],
                              capture_output=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.decode()}")
        return done.returncode == 0

    def delete(dev: str) -> None:  # os-vif's delete_net_dev, as commands: exists? then delete
        if ip("link", "show", dev, check=False):
            ip("link", "delete", dev)

    def create() -> None:  # os-vif's create_veth_pair, as commands
        for dev in ("lpbench0", "lpbench1"):
            delete(dev)
        ip("link", "add", "lpbench0", "type", "veth", "peer", "name", "lpbench1")
        for dev in ("lpbench0", "lpbench1"):
            ip("link", "set", dev, "up")
            ip("link", "set", dev, "promisc", "on")
            ip("link", "set", dev, "mtu", str(MTU))

    return _loop(create, lambda: delete("lpbench0"), ROOTWRAP_ROUNDS, lambda: None)


def worker(system: str) -> dict[str, Any]:
    if system == "rootwrap one-shot":
        with tempfile.TemporaryDirectory() as directory:
            return _rootwrap_worker(Path(directory))
    return _os_vif_worker()


def run(system: str) -> tuple[dict[str, Any] | None, str | None]:
    """`system`'s worker in a fresh network namespace and the interpreter it needs."""
    netns = f"lpbench-{secrets.token_hex(3)}"
    paths = [str(BENCH_DIR)] + ([str(CACHE_SITE)] if system != "drop-in" else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    # leastpriv runs no daemon as uid 0 unless its section says so; oslo.privsep's run as root,
    # and so do these, declared, so that both do the same work as the same user.
    config = tempfile.NamedTemporaryFile("w", suffix=".toml")  # noqa: SIM115 - closed below
    config.write('[vif_plug_ovs_privileged]\nuser = "root"\n\n'
                 '[leastpriv_bench_real_work_echo]\nuser = "root"\n')
    config.flush()
    env["LEASTPRIV_CONFIG"] = config.name
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        print(f"measuring {system} …", file=sys.stderr, flush=True)
        done = subprocess.run(["ip", "netns", "exec", netns, str(DROPIN_PYTHON), __file__,
                               "--worker", system], env=env, capture_output=True, text=True,
                              timeout=900, check=False)
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
        config.close()
    if done.returncode != 0:
        return None, f"{system}: worker exited {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), None


# -- the table ----------------------------------------------------------------------------------

def _ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def table(results: dict[str, dict[str, Any] | None]) -> str:
    oslo, dropin, rootwrap = (results.get(s) for s in SYSTEMS)

    def wall(r: dict[str, Any]) -> float:
        return float(r["wall"]) * ROUNDS / r["rounds"]

    def cpu(r: dict[str, Any]) -> float:
        return float(r["cpu"]) * ROUNDS / r["rounds"]

    def cell(r: dict[str, Any] | None, pick: Callable[[dict[str, Any]], str]) -> str:
        return pick(r) if r else "—"

    def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, limit: float,
              pick: Callable[[dict[str, Any]], float]) -> str:
        if not a or not b:
            return "not measured"
        value = pick(a) / pick(b)
        return f"{value:.2f}x ({'met' if value <= limit else 'MISSED'}, target ≤ {limit}x)"

    head = ["measure", f"oslo.privsep {anchor_version('oslo.privsep')}", "leastpriv drop-in",
            "rootwrap one-shot `ip`", "drop-in vs oslo.privsep", "drop-in vs rootwrap"]
    rows = [
        [f"wall, {ROUNDS} x (create + delete) (s)", cell(oslo, lambda r: f"{wall(r):.2f}"),
         cell(dropin, lambda r: f"{wall(r):.2f}"),
         cell(rootwrap, lambda r: f"{wall(r):.1f} (from {r['rounds']})"),
         ratio(dropin, oslo, 0.7, wall), ratio(dropin, rootwrap, 0.05, wall)],
        [f"CPU caller + daemon, {ROUNDS} rounds (s)", cell(oslo, lambda r: f"{cpu(r):.2f}"),
         cell(dropin, lambda r: f"{cpu(r):.2f}"),
         cell(rootwrap, lambda r: f"{cpu(r):.1f} (from {r['rounds']})"), "", ""],
    ]
    for op in ("create", "delete"):
        name = {"create": "create_veth_pair", "delete": "delete_net_dev"}[op]
        rows.append([f"{name} p50 / p99 (ms)"] + [
            cell(r, lambda r, op=op: f"{_ms(r[op][0])} / {_ms(r[op][1])}")
            for r in (oslo, dropin, rootwrap)] + ["", ""])
    rows.append(["eventlet echo p50 / p99 (ms)",
                 cell(oslo, lambda r: f"{_ms(r['echo'][0])} / {_ms(r['echo'][1])}"),
                 cell(dropin, lambda r: f"{_ms(r['echo'][0])} / {_ms(r['echo'][1])}"), "—",
                 ratio(dropin, oslo, 0.5, lambda r: float(r["echo"][0])), ""])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--update-docs", action="store_true",
                        help="write the table into docs/performance.md")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    before = prepare(__file__, "it makes network namespaces and forks privileged daemons")
    if before is None:
        return 1
    if not DROPIN_PYTHON.exists():
        print(f"{DROPIN_PYTHON} is missing: run `scripts/dev test` once to build it",
              file=sys.stderr)
        return 1
    results: dict[str, dict[str, Any] | None] = {}
    failures = []
    for system in SYSTEMS:
        results[system], failure = run(system)
        if failure:
            failures.append(failure)
    return publish(before, table(results), failures, section="real-work",
                   update_docs=args.update_docs)


if __name__ == "__main__":
    sys.exit(main())
