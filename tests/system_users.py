"""System users made for one test and removed after it, even while other tests make theirs.

useradd and userdel fail at once, rather than wait, while another of them holds the lock on
/etc/passwd (a test run beside another, or a daemon's user made in a forked test); a check=False
userdel then left the user behind for good. Both are retried here while the lock is taken, the
user's last processes are killed before it is removed, and a user that cannot be removed fails
the test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

# useradd's and userdel's exit statuses for "cannot lock or update /etc/passwd or /etc/group",
# and userdel's for "still used by a process" (one just killed may take a moment to go).
_RETRY = {1, 8, 10}
_NO_SUCH_USER = 6


@contextlib.contextmanager
def made_user(name: str, *, home: Path | None = None) -> Iterator[str]:
    """A system user `name` (no login, `home` as its home directory but not created) for the
    block; removed afterwards."""
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    if home is not None:
        command += ["--home-dir", str(home)]
    _run_while_locked([*command, name], done={0})
    try:
        yield name
    finally:
        remove_user(name)


def remove_user(name: str) -> None:
    """Kill what still runs as `name`, then remove the user (already gone is fine)."""
    subprocess.run(["pkill", "-KILL", "-u", name], check=False, capture_output=True)
    _run_while_locked(["userdel", name], done={0, _NO_SUCH_USER})


def _run_while_locked(command: list[str], *, done: set[int]) -> None:
    deadline = time.monotonic() + 30
    while True:
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode in done:
            return
        if result.returncode not in _RETRY or time.monotonic() > deadline:
            raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: "
                               f"{result.stderr.strip()}")
        time.sleep(0.1)


def readable_by_everyone(top: Path) -> None:
    """Make a tree copied for a test's user readable (and its directories searchable) by it."""
    for directory, _, files in os.walk(top):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
