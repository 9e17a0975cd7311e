"""What both benchmark scripts share: the anchors' installation, the machine's description, and
writing a result table into docs/performance.md.

Kept out of the package's ``__init__``: a daemon started by exec imports its target module from
this package, and must not pay for these imports (subprocess, platform, pathlib: about 12 ms).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
# The anchors are installed here, never into the project's environment or requirements.
CACHE_SITE = BENCH_DIR / ".cache" / "site"
ANCHORS = ("oslo.privsep", "oslo.rootwrap")


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


def worker_env(*, anchors: bool) -> dict[str, str]:
    """The environment of a worker: `support` importable, and the anchors only when asked for.

    A leastpriv worker never sees the cache: it brings its own msgpack, which must not shadow the
    one leastpriv was installed with.
    """
    paths = [str(BENCH_DIR)] + ([str(CACHE_SITE)] if anchors else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


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
