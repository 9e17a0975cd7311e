"""Attacks on the example service's console log, run in a process of their own.

The example fixes its instances root when its module is imported (from
LEASTPRIV_EXAMPLE_INSTANCES_ROOT), so each attack runs in a fresh interpreter that sets it first:

    python example_attacks.py root-swap ROOT ELSEWHERE
    python example_attacks.py root-rename ROOT SIBLING USER
    python example_attacks.py race ROOT OUTSIDE SECONDS

Each prints one JSON object with what happened; the tests in test_path_attacks.py judge it.

root-swap: the service user owns the root's parent, so it can rename the root away and put a
symlink to another directory in its place while the service is down; the restarted service starts
a daemon and asks for an append to ROOT/vm1/console.log, which the symlink makes
ELSEWHERE/vm1/console.log.

root-rename: the same without any symlink. USER owns the root's parent, which also holds SIBLING,
a directory of root's (0700, a root-only console log in it). A child running as USER renames the
root away and SIBLING into its place (a rename within one directory needs only the right to write
that directory); the restarted service then asks for an append to ROOT/vm1/console.log.

race: a child process swaps ROOT/vm (a directory) with ROOT/swap (a symlink to OUTSIDE) with
renameat2(RENAME_EXCHANGE) in a loop, while this process appends to ROOT/vm/console.log for
SECONDS; every append that landed in OUTSIDE/console.log is a write outside the root.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time

RENAME_EXCHANGE = 2


def _import_console(root: str):  # type: ignore[no-untyped-def]  # the module, imported late
    os.environ["LEASTPRIV_EXAMPLE_INSTANCES_ROOT"] = root
    from leastpriv.examples.console_and_network import console

    return console


def root_swap(root: str, elsewhere: str) -> dict[str, object]:
    # The swap happens while the service is down; the restarted service (this fresh process)
    # starts a new daemon on what is now a symlink.
    os.rename(root, root + ".old")
    os.symlink(elsewhere, root)
    return _append_after_restart(root)


def root_rename(root: str, sibling: str, user: str) -> dict[str, object]:
    import pwd

    account = pwd.getpwnam(user)
    parent, name = os.path.split(root)
    assert os.path.dirname(sibling) == parent
    renamer = os.fork()
    if renamer == 0:  # the service user, with no privilege at all, in its own directory
        code = 1
        try:
            # Opened first: the temporary tree above it is root's, where /var/lib is open to all.
            at = os.open(parent, os.O_PATH | os.O_DIRECTORY)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.rename(name, name + ".old", src_dir_fd=at, dst_dir_fd=at)
            os.rename(os.path.basename(sibling), name, src_dir_fd=at, dst_dir_fd=at)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(renamer, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return {"outcome": "rename failed"}
    return _append_after_restart(root)


def _append_after_restart(root: str) -> dict[str, object]:
    console = _import_console(root)
    path = os.path.join(root, "vm1", "console.log")
    try:
        # Started on its own first: the daemon must refuse the root, whatever the caller checks.
        console.console_ctx.start()
        size = console.append_console_log_privileged(path, b"written through the swap\n")
    except Exception as exc:
        return {"outcome": "refused", "error": type(exc).__name__}
    finally:
        console.console_ctx.stop()
    return {"outcome": "appended", "size": size}


def _swap_forever(first: str, second: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    a, b = os.fsencode(first), os.fsencode(second)
    at_fdcwd = -100
    while True:
        libc.renameat2(at_fdcwd, a, at_fdcwd, b, RENAME_EXCHANGE)


def race(root: str, outside: str, seconds: float) -> dict[str, object]:
    console = _import_console(root)
    target = os.path.join(root, "vm", "console.log")
    escaped = os.path.join(outside, "console.log")
    os.mkdir(os.path.join(root, "vm"))
    os.symlink(outside, os.path.join(root, "swap"))
    console.append_console_log_privileged(target, b"")  # start the daemon before the race
    swapper = os.fork()
    if swapper == 0:
        try:
            _swap_forever(os.path.join(root, "vm"), os.path.join(root, "swap"))
        finally:
            os._exit(1)
    calls = refused = failed = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            calls += 1
            try:
                console.append_console_log_privileged(target, b"x")
            except ValueError:  # ContractViolation: the check saw the symlink
                refused += 1
            except OSError:  # the function's own use met the symlink (or a missing name)
                failed += 1
    finally:
        os.kill(swapper, signal.SIGKILL)
        os.waitpid(swapper, 0)
        console.console_ctx.stop()
    outside_bytes = os.path.getsize(escaped) if os.path.lexists(escaped) else 0
    return {"calls": calls, "refused": refused, "failed": failed,
            "outside_bytes": outside_bytes}


def main(argv: list[str]) -> int:
    if argv[0] == "root-swap":
        result = root_swap(argv[1], argv[2])
    elif argv[0] == "root-rename":
        result = root_rename(argv[1], argv[2], argv[3])
    elif argv[0] == "race":
        result = race(argv[1], argv[2], float(argv[3]))
    else:
        raise SystemExit(f"unknown attack {argv[0]!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
