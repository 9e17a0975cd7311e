"""`leastpriv audit` against `bandit -r` on the same real tree (nova from PyPI), in one run.

    python benchmarks/audit.py [TREE]

Without TREE, the nova wheel is fetched with ``pip download --no-deps`` into benchmarks/.cache and
unpacked there. bandit is taken from this interpreter's environment (``scripts/dev bench`` installs
it) or else installed into benchmarks/.cache/venv. A single-process ``ast.parse`` of every file is
printed as the floor: neither tool can read the tree faster than Python parses it.

Both tools read every ``.py`` file, tests included (bandit's default), so leastpriv runs with
``--include-tests``; its everyday run without tests is printed too.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import subprocess
import sys
import time
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
PROJECT = "nova"


@dataclass
class Timing:
    label: str
    seconds: float
    files: int
    findings: int | None


def fetch_tree(project: str = PROJECT) -> Path:
    """The unpacked wheel of `project` under the cache, downloading it the first time."""
    target = CACHE / f"{project}-src"
    if target.is_dir():
        return target
    downloads = CACHE / "downloads"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary",
                    ":all:", "-d", str(downloads), project], check=True)
    wheel = max(downloads.glob(f"{project}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def bandit_command() -> list[str]:
    """bandit from this environment, else from a venv of its own under the cache."""
    beside = Path(sys.executable).with_name("bandit")
    if beside.exists():
        return [str(beside)]
    private = CACHE / "venv"
    executable = private / "bin" / "bandit"
    if not executable.exists():
        venv.create(private, with_pip=True)
        subprocess.run([str(private / "bin" / "pip"), "install", "-q", "bandit"], check=True)
    return [str(executable)]


def python_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*.py") if p.is_file())


def time_ast_parse(tree: Path) -> Timing:
    files = python_files(tree)
    start = time.perf_counter()
    for path in files:
        # A file that does not parse is counted anyway: the tools must read it too.
        with contextlib.suppress(SyntaxError, ValueError):
            ast.parse(path.read_bytes(), filename=str(path))
    return Timing("ast.parse (1 process)", time.perf_counter() - start, len(files), None)


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1 means "found something" for both tools
        raise RuntimeError(f"{command[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def time_leastpriv(tree: Path, *, include_tests: bool) -> Timing:
    command = [sys.executable, "-m", "leastpriv", "audit", "--format", "json", "--no-progress",
               str(tree)]
    if include_tests:
        command.insert(-1, "--include-tests")
    seconds, out = _timed(command)
    doc = json.loads(out)
    label = "leastpriv audit" + (" --include-tests" if include_tests else "")
    # files_read is not in the JSON shape; a file with nothing to report shows in no list, so
    # count what the tool itself would have read with the same filter.
    from leastpriv.sourcetree import iter_files

    files = sum(1 for _ in iter_files(tree, include_tests=include_tests))
    return Timing(label, seconds, files, len(doc["findings"]))


def time_flake8_plugin(tree: Path) -> Timing:
    """What the flake8 plugin adds to a flake8 run: its `run` on every file, in one process, as
    flake8 calls it (flake8's own checks, which dominate a flake8 run, are not counted)."""
    from leastpriv.audit.flake8 import Plugin

    files = python_files(tree)
    sources = [(str(path), path.read_text(encoding="utf-8", errors="replace").splitlines(True))
               for path in files]
    start = time.perf_counter()
    findings = sum(len(list(Plugin(None, name, lines).run())) for name, lines in sources)
    return Timing("flake8 plugin (1 process, +tests)", time.perf_counter() - start, len(files),
                  findings)


def time_bandit(tree: Path) -> Timing:
    seconds, out = _timed([*bandit_command(), "-r", "-q", "-f", "json", str(tree)])
    doc = json.loads(out)
    files = sum(1 for name in doc.get("metrics", {}) if name != "_totals")
    return Timing("bandit -r", seconds, files, len(doc["results"]))


def report(timings: list[Timing], tree: Path) -> str:
    bandit = next(t for t in timings if t.label.startswith("bandit"))
    lines = [f"tree: {tree}  ({os.cpu_count()} cores, Python {sys.version.split()[0]})",
             f"{'':34} {'wall s':>8} {'/ bandit':>9} {'files':>7} {'findings':>9}"]
    for t in timings:
        findings = "-" if t.findings is None else str(t.findings)
        lines.append(f"{t.label:34} {t.seconds:8.2f} {t.seconds / bandit.seconds:9.3f} "
                     f"{t.files:7d} {findings:>9}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, help=f"default: {PROJECT} from PyPI")
    args = parser.parse_args()
    tree = args.tree or fetch_tree()
    timings = [
        time_ast_parse(tree),
        time_leastpriv(tree, include_tests=True),
        time_leastpriv(tree, include_tests=False),
        time_flake8_plugin(tree),
        time_bandit(tree),
    ]
    print(report(timings, tree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
