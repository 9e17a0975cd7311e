"""Reading a source tree for the static tools (`audit`, `migrate`); the runtime never imports this.

One place decides which files of a tree are read, what their dotted module names are, and how the
per-file work is spread over the machine's cores, so both tools read a tree the same way.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Directories never worth reading: VCS data, caches, virtual environments, build output.
_SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "node_modules",
    "build", "dist", ".eggs", ".mypy_cache", ".ruff_cache", ".pytest_cache",
})
_TEST_DIRS = frozenset({"tests", "test", "unit_tests", "functional_tests"})


def is_test_path(relative: Path) -> bool:
    """True for files under a test directory and for ``test_*.py`` / ``*_test.py`` files."""
    name = relative.name
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return True
    return any(part in _TEST_DIRS for part in relative.parts[:-1])


def iter_files(
    root: Path,
    *,
    suffixes: Sequence[str] = (".py",),
    include_tests: bool = False,
    exclude: Iterable[str] = (),
    unreadable: list[tuple[Path, str]] | None = None,
) -> Iterator[Path]:
    """Files under `root` (or `root` itself) ending in one of `suffixes`, in a stable order.

    `exclude` holds glob patterns matched against the path relative to `root` (``*/legacy/*``).
    A directory that cannot be listed (permissions, a vanished entry) is skipped and, with the
    reason, appended to `unreadable`; symbolic links to directories are never followed, so a
    link loop is never entered.
    """
    root = Path(root)
    patterns = list(exclude)
    if is_file(root):
        yield root
        return

    def skip(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append((Path(error.filename or root), error.strerror or str(error)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=skip):
        dirnames[:] = sorted(d for d in dirnames if _wanted(Path(dirpath, d)))
        for filename in sorted(filenames):
            if suffixes and not filename.endswith(tuple(suffixes)):
                continue
            path = Path(dirpath, filename)
            relative = path.relative_to(root)
            if not include_tests and is_test_path(relative):
                continue
            if any(fnmatch.fnmatch(relative.as_posix(), pattern) for pattern in patterns):
                continue
            yield path


def _wanted(directory: Path) -> bool:
    """False for VCS data, caches, environments and build output; a package that has one of
    their names (``mypkg/build/__init__.py``) is code and is read."""
    name = directory.name
    if name.startswith("."):
        return False
    return name not in _SKIPPED_DIRS or is_file(directory / "__init__.py")


def is_file(path: Path) -> bool:
    """`Path.is_file` that says False, not raises, for a path it cannot reach (EACCES, ELOOP)."""
    try:
        return path.is_file()
    except OSError:
        return False


def module_name(root: Path, path: Path) -> str:
    """The dotted module name of `path` under `root`: nova/privsep/path.py is nova.privsep.path.

    When `root` is itself a package (``leastpriv audit nova`` on an unpacked wheel) or a file in
    one, the packages holding it come first, as Python imports them: nova.privsep.path still.
    """
    root = Path(os.path.abspath(root))
    top = _package_top(root.parent if is_file(root) else root)
    relative = Path(os.path.abspath(path)).relative_to(top)
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or relative.stem


def package_module_name(path: Path) -> str:
    """The dotted module name of `path` from its packages alone, whatever the working directory:
    the directories above it that hold an ``__init__.py`` are its packages."""
    return module_name(path, path)


def _package_top(directory: Path) -> Path:
    """The directory that holds the outermost package `directory` is in (itself if none)."""
    while directory.parent != directory and is_file(directory / "__init__.py"):
        directory = directory.parent
    return directory


def map_files(
    func: Callable[[Path], T],
    paths: Sequence[Path],
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[T]:
    """``[func(p) for p in paths]``, spread over `jobs` processes (default: one per core).

    Small inputs run in this process: starting workers costs more than it saves. `func` must be a
    module-level function (or a ``functools.partial`` of one) and its results picklable.
    `progress(done)` is called as results arrive, in order.
    """
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) < 64:
        return _collect((func(path) for path in paths), progress)
    chunk = max(1, len(paths) // (jobs * 8))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return _collect(pool.map(func, paths, chunksize=chunk), progress)


def _collect(results: Iterable[T], progress: Callable[[int], None] | None) -> list[T]:
    out: list[T] = []
    for result in results:
        out.append(result)
        if progress is not None:
            progress(len(out))
    return out
