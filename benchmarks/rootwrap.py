"""One command through oslo.rootwrap vs the equivalent leastpriv entrypoint (docs/performance.md).

    .venv/bin/python benchmarks/rootwrap.py [--update-docs]

The command is ``chown UID FILE`` on a file in a temporary directory, allowed by a real
rootwrap.conf and filter file written to that directory. Measured: rootwrap one-shot (a new
``oslo-rootwrap`` process per command, as ``root_helper = sudo nova-rootwrap …`` does; once run
directly, once through sudo), rootwrap's daemon mode (``oslo_rootwrap.client.Client``), and a
leastpriv entrypoint on a CAP_CHOWN-only context, in fork mode, both as the syscall and running the
same ``/usr/bin/chown``. Needs root. oslo.rootwrap is installed on first use into
benchmarks/.cache/site, for the benchmark only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.common import anchor_version, prepare, publish, run_workers

UID = 4242  # any uid in the contract's range; no such user needs to exist
ONE_SHOT_RUNS = 12
DAEMON_CALLS = 200
ENTRYPOINT_CALLS = 1000
STARTS = 5
EXEC_STARTS = 5

ROOTWRAP_MAIN = "from oslo_rootwrap.cmd import main; main()"
ROOTWRAP_DAEMON = "from oslo_rootwrap.cmd import daemon; daemon()"


def write_rootwrap_config(directory: Path) -> Path:
    filters = directory / "rootwrap.d"
    filters.mkdir()
    (filters / "bench.filters").write_text(
        "# The filter a service ships to chown its files through rootwrap.\n"
        "[Filters]\nchown: CommandFilter, chown, root\n"
    )
    conf = directory / "rootwrap.conf"
    conf.write_text(
        "[DEFAULT]\n"
        f"filters_path={filters}\n"
        "exec_dirs=/usr/sbin,/usr/bin,/sbin,/bin\n"
        "use_syslog=False\n"
    )
    return conf


def per_call(run: Callable[[], None], count: int) -> float:
    """Median seconds of `count` sequential calls of `run`."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rootwrap_worker(directory: Path) -> dict[str, Any]:
    from oslo_rootwrap.client import Client

    conf = write_rootwrap_config(directory)
    target = directory / "file"
    target.touch()
    command = ["chown", str(UID), str(target)]
    one_shot = [sys.executable, "-c", ROOTWRAP_MAIN, str(conf), *command]

    def run_one_shot(prefix: list[str]) -> Callable[[], None]:
        def run() -> None:
            subprocess.run([*prefix, *one_shot], check=True, capture_output=True)
        return run

    result: dict[str, Any] = {
        "one_shot": per_call(run_one_shot([]), ONE_SHOT_RUNS),
        # sudo drops PYTHONPATH; `env` puts back where the anchors live (a distribution's
        # nova-rootwrap needs no such thing, and pays for `env` neither: a fraction of a ms).
        "one_shot_sudo": (
            per_call(run_one_shot(["sudo", "-n", "env", f"PYTHONPATH={os.environ['PYTHONPATH']}"]),
                     ONE_SHOT_RUNS)
            if shutil.which("sudo") else None
        ),
    }
    starts, steady = [], 0.0
    for attempt in range(STARTS):
        client = Client([sys.executable, "-c", ROOTWRAP_DAEMON, str(conf)])
        started = time.perf_counter()
        code, _, err = client.execute(command)
        starts.append(time.perf_counter() - started)
        if code != 0:
            raise RuntimeError(f"rootwrap daemon: chown exited {code}: {err}")
        if attempt == STARTS - 1:
            steady = per_call(lambda c=client: c.execute(command), DAEMON_CALLS)
        # The client has no public close: run its own finalizer (shutdown once, then disarmed).
        client._finalize()  # type: ignore[attr-defined]
    result["daemon_start"] = statistics.median(starts)
    result["daemon_call"] = steady
    if os.stat(target).st_uid != UID:
        raise RuntimeError("rootwrap did not chown the file")
    return result


def leastpriv_worker(directory: Path) -> dict[str, Any]:
    os.environ["LEASTPRIV_BENCH_CHOWN_ROOT"] = str(directory)
    from support import leastpriv_chown

    target = str(directory / "file")
    Path(target).touch()
    ctx = leastpriv_chown.chown_ctx
    starts = []
    for _ in range(STARTS):
        ctx.stop()
        started = time.perf_counter()
        leastpriv_chown.chown_file_privileged(target, UID)
        starts.append(time.perf_counter() - started)
    exec_starts = []
    for _ in range(EXEC_STARTS):
        ctx.stop()
        started = time.perf_counter()
        ctx.start(method="exec")  # the helper, run directly by root (no sudo), as rootwrap is
        leastpriv_chown.chown_file_privileged(target, UID)
        exec_starts.append(time.perf_counter() - started)
    ctx.stop()
    sudo_starts = []
    if shutil.which("sudo"):
        # As a service would: the helper through sudo, which drops PYTHONPATH and our root's
        # variable, so `env` hands them back (the same `env` as rootwrap's sudo row pays).
        config = directory / "leastpriv.toml"
        helper = ["sudo", "-n", "env", f"PYTHONPATH={os.environ['PYTHONPATH']}",
                  f"LEASTPRIV_BENCH_CHOWN_ROOT={directory}",
                  sys.executable, "-m", "leastpriv.privileged.helper"]
        config.write_text(f"[{ctx.cfg_section}]\nhelper_command = {json.dumps(helper)}\n")
        os.environ["LEASTPRIV_CONFIG"] = str(config)
        for _ in range(EXEC_STARTS):
            ctx.stop()
            started = time.perf_counter()
            ctx.start(method="exec")
            leastpriv_chown.chown_file_privileged(target, UID)
            sudo_starts.append(time.perf_counter() - started)
        ctx.stop()
        del os.environ["LEASTPRIV_CONFIG"]
    result = {
        "start": statistics.median(starts),
        "start_exec": statistics.median(exec_starts),
        "start_sudo": statistics.median(sudo_starts) if sudo_starts else None,
        "syscall": per_call(lambda: leastpriv_chown.chown_file_privileged(target, UID),
                            ENTRYPOINT_CALLS),
        "binary": per_call(lambda: leastpriv_chown.run_chown_privileged(target, UID),
                           DAEMON_CALLS),
    }
    ctx.stop()
    if os.stat(target).st_uid != UID:
        raise RuntimeError("leastpriv did not chown the file")
    return result


def table(rootwrap: dict[str, Any] | None, leastpriv: dict[str, Any] | None,
          version: str) -> str:
    def ms(values: dict[str, Any] | None, key: str) -> str:
        value = (values or {}).get(key)
        return "—" if value is None else f"{value * 1e3:.2f}"

    rows = [
        (f"oslo.rootwrap {version}, one-shot (`oslo-rootwrap conf chown …`)", "—",
         ms(rootwrap, "one_shot")),
        (f"oslo.rootwrap {version}, one-shot through `sudo`", "—", ms(rootwrap, "one_shot_sudo")),
        (f"oslo.rootwrap {version}, daemon mode", ms(rootwrap, "daemon_start"),
         ms(rootwrap, "daemon_call")),
        ("leastpriv entrypoint, `os.chown` (fork)", ms(leastpriv, "start"),
         ms(leastpriv, "syscall")),
        ("leastpriv entrypoint running `/usr/bin/chown` (fork)", "(same daemon)",
         ms(leastpriv, "binary")),
        ("leastpriv entrypoint, `os.chown` (exec: the helper run by root)",
         ms(leastpriv, "start_exec"), "(as fork)"),
        ("leastpriv entrypoint, `os.chown` (exec: the helper through `sudo`)",
         ms(leastpriv, "start_sudo"), "(as fork)"),
    ]
    lines = ["| how | first command, start included (ms) | per command, p50 (ms) |",
             "|---|---|---|"]
    lines += [f"| {how} | {first} | {each} |" for how, first, each in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("rootwrap", "leastpriv"), help=argparse.SUPPRESS)
    parser.add_argument("--update-docs", action="store_true",
                        help="write the table into docs/performance.md")
    args = parser.parse_args()
    if args.worker:
        directory = Path(tempfile.mkdtemp(prefix="leastpriv-bench-rootwrap-"))
        try:
            work = rootwrap_worker if args.worker == "rootwrap" else leastpriv_worker
            print(json.dumps(work(directory)))
        finally:
            shutil.rmtree(directory)
        return 0
    before = prepare("benchmarks/rootwrap.py", "both sides chown a file to another uid")
    if before is None:
        return 1
    results, failures = run_workers(__file__, ("rootwrap", "leastpriv"), anchored="rootwrap")
    return publish(before, table(results.get("rootwrap"), results.get("leastpriv"),
                                 anchor_version("oslo.rootwrap")), failures,
                   section="rootwrap", update_docs=args.update_docs)


if __name__ == "__main__":
    sys.exit(main())
