"""What both benchmark scripts share: the root check, the anchors' installation, running the
workers, the machine's description, the report around a result table, and writing it into
docs/performance.md.

Kept out of the package's ``__init__``: a daemon started by exec imports its target module from
this package, and must not pay for these imports (subprocess, platform, pathlib: about 12 ms).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
# The anchors are installed here, never into the project's environment or requirements.
CACHE_SITE = BENCH_DIR / ".cache" / "site"
ANCHORS = ("oslo.privsep", "oslo.rootwrap")
WORKER_TIMEOUT = 300  # seconds; a hung library is reported, not waited for forever
Measurements = dict[str, Any]  # what a worker prints: one JSON object


def rounds_arguments(doc: str, systems: Sequence[str], *,
                     comparable: bool = False) -> argparse.Namespace:
    """The options of a script that measures `systems` in alternating rounds of workers.

    `comparable`: also ``--compare LABEL=SRC`` (twice or more), which measures leastpriv from each
    source tree instead of the systems, side by side (`args.compare`: ``[(label, src), ...]``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--worker", choices=systems, help=argparse.SUPPRESS)
    parser.add_argument("--update-docs", action="store_true",
                        help="write the table into docs/performance.md")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measure every system this many times, alternating (default 2)")
    if comparable:
        parser.add_argument(
            "--compare", action="append", default=[], metavar="LABEL=SRC",
            help="measure leastpriv imported from the source directory SRC (a worktree's src/, "
                 "put first on the path of the worker and of its exec'd helper), as column LABEL; "
                 "give it at least twice, e.g. ace914f=/tmp/old/src head=src")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if comparable:
        args.compare = [_source(parser, given) for given in args.compare]
        if len(args.compare) == 1:
            parser.error("--compare needs two sources or more, to compare")
    return args


def _source(parser: argparse.ArgumentParser, given: str) -> tuple[str, str]:
    label, sep, src = given.partition("=")
    if not sep or not label or not os.path.isdir(os.path.join(src, "leastpriv")):
        parser.error(f"--compare {given!r}: expected LABEL=SRC, SRC a directory holding leastpriv/")
    return label, os.path.abspath(src)


def ensure_anchors() -> None:
    """Install the anchors into benchmarks/.cache/site unless they are importable from there."""
    probe = subprocess.run(
        [sys.executable, "-c", "import oslo_privsep, oslo_rootwrap"],
        env={**os.environ, "PYTHONPATH": str(CACHE_SITE)}, capture_output=True, check=False,
    )
    if probe.returncode != 0:
        print(f"installing {', '.join(ANCHORS)} into {CACHE_SITE.relative_to(REPO)} "
              "(for the benchmarks only)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(CACHE_SITE), *ANCHORS],
            check=True,
        )


def prepare(script: str, why_root: str) -> str | None:
    """Before a run: check for root, install the anchors, and describe the machine as it is now.

    None, after saying on stderr that `script` needs root and `why_root`, when not run as root.
    """
    if os.geteuid() != 0:
        print(f"{script} needs root: {why_root}", file=sys.stderr)
        return None
    ensure_anchors()
    return machine()


#: Set in a worker measuring leastpriv from another source tree (`--compare`): that tree's src/
#: (read by `leastpriv_echo`, which must not import this module).
SOURCE_ENV = "LEASTPRIV_BENCH_SRC"


def worker_env(*, anchors: bool, src: str | None = None) -> dict[str, str]:
    """The environment of a worker: `support` importable, and the anchors only when asked for;
    with `src`, leastpriv imported from there (first on the path, and named in SOURCE_ENV).

    A leastpriv worker never sees the cache: it brings its own msgpack, which must not shadow the
    one leastpriv was installed with.
    """
    paths = ([src] if src else []) + [str(BENCH_DIR)] + ([str(CACHE_SITE)] if anchors else [])
    env = {key: value for key, value in os.environ.items() if key != SOURCE_ENV}
    return {**env, "PYTHONPATH": os.pathsep.join(paths), **({SOURCE_ENV: src} if src else {})}


def run_worker(script: str, system: str, *, anchors: bool,
               src: str | None = None) -> tuple[Measurements | None, str | None]:
    """Run `script --worker system` in a process of its own (leastpriv from `src`, if given): its
    measurements (the JSON object on the last line of its output), or why there are none."""
    try:
        proc = subprocess.run(
            [sys.executable, script, "--worker", system], capture_output=True, text=True,
            env=worker_env(anchors=anchors, src=src), timeout=WORKER_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"{system}: no result within {WORKER_TIMEOUT} s"
    if proc.returncode != 0:
        return None, f"{system}: worker exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def anchor_version(distribution: str) -> str:
    for info in CACHE_SITE.glob(distribution.replace(".", "_") + "-*.dist-info"):
        return info.name.removesuffix(".dist-info").split("-", 1)[1]
    from importlib.metadata import version

    return version(distribution)


def machine() -> str:
    """One line: CPU count and model, kernel, Python, date, and the load average now."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
            f"Python {platform.python_version()}, {datetime.date.today().isoformat()}, "
            f"load average {load}")


def revision() -> str:
    """Which leastpriv was measured: the commit, and whether src/ had changes on top of it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return f"leastpriv at {commit}" + (" with uncommitted changes in src/" if dirty else "")


def run_workers(script: str, systems: Sequence[str], anchored: str, *, rounds: int | None = None,
                combine: Callable[[Measurements | None, Measurements], Measurements] | None = None,
                sources: Mapping[str, tuple[str, str]] | None = None,
                ) -> tuple[dict[str, Measurements | None], list[str]]:
    """Run `script`'s worker for each of `systems` (only `anchored` sees the anchors): each
    system's measurements, None for a system whose worker failed, and why each failed.

    With `rounds`, the systems alternate round by round, so a burst of load from elsewhere on the
    machine falls on all of them rather than on one; each figure is then what `combine` makes of
    the rounds. A system that failed once is reported, not retried. `sources` maps a system that
    is a source tree (`--compare`) to the worker it runs and that tree's src/.
    """
    results: dict[str, Measurements | None] = {}
    failures = []
    for round_number in range(1, (rounds or 1) + 1):
        for system in systems:
            if system in results and results[system] is None:
                continue
            label = f"round {round_number}/{rounds}: " if rounds else ""
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"{label}measuring {system} … (load average {load})", file=sys.stderr,
                  flush=True)
            worker, src = (sources or {}).get(system, (system, None))
            measured, failure = run_worker(script, worker, anchors=system == anchored, src=src)
            if failure:
                results[system] = None
                failures.append(failure)
            elif measured is not None:
                results[system] = combine(results.get(system), measured) if combine else measured
    return results, failures


def publish(before: str, table: str, failures: list[str], *, section: str, update_docs: bool,
            notes: tuple[str, ...] = (), measured: str | None = None) -> int:
    """Print the report around a result table; with `update_docs`, also write it as `section` of
    docs/performance.md. The report: the machine as it was `before` the run, which leastpriv
    (`measured`, else this tree's revision), any `notes`, the load average now, the table, and
    what could not be measured. Returns the exit status: 1 when anything could not be measured.
    """
    report = "\n".join([
        f"Machine: {before}; {measured or revision()}.",
        *notes,
        f"Load average after the run: {', '.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "",
        table,
        *([""] + [f"Not measured — {failure}" for failure in failures] if failures else []),
    ])
    print(report)
    if update_docs:
        write_section(REPO / "docs" / "performance.md", section, report)
    return 1 if failures else 0


def write_section(doc: Path, name: str, text: str) -> None:
    """Replace the block between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in `doc`."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = doc.read_text() if doc.exists() else ""
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    doc.write_text(updated)
