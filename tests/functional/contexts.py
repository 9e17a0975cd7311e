"""Contexts and entrypoints the functional tests start real daemons for.

Importable by the exec helper (``--context contexts:files``) with the tests/functional directory on
its PYTHONPATH, and copied into a world-readable tree for the sudo test.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from typing import Annotated

from leastpriv import caps
from leastpriv.context import PrivContext
from leastpriv.contract import Match, OneOf, PathUnder, Range

# Every file the tests chown lives under this root (a fixture makes and removes it).
ROOT = "/tmp/leastpriv-functional"
NAMESPACE = Match(r"lp-test-[0-9a-f]{8}")
# A daemon is never uid 0 unless its context says so: these run as an account every Linux system
# has (tests that need a user of their own make one).
DAEMON_USER = "nobody"

files = PrivContext("leastpriv_tests.files", capabilities=[caps.CAP_CHOWN], user=DAEMON_USER)
# The same functions without CAP_CHOWN: the kernel must refuse what `files` may do.
plain = PrivContext("leastpriv_tests.plain", capabilities=[caps.CAP_NET_ADMIN], user=DAEMON_USER)
quick = PrivContext("leastpriv_tests.quick", capabilities=[caps.CAP_CHOWN], thread_pool_size=4,
                    user=DAEMON_USER)


class CustomFailure(Exception):
    """Loaded in the caller too (it imports this module): crosses back as itself."""


def _chown(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)


def _link_up(namespace: str) -> None:
    # `ip -n` enters /run/netns/<name> (setns, CAP_SYS_ADMIN), so the tests run the caller inside
    # the namespace instead and the daemon changes its own namespace's loopback.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)


@files.entrypoint
def chown_privileged(path: Annotated[str, PathUnder(ROOT)],
                     uid: Annotated[int, Range(0, 65535)],
                     gid: Annotated[int, Range(0, 65535)]) -> None:
    _chown(path, uid, gid)


@plain.entrypoint
def plain_chown_privileged(path: Annotated[str, PathUnder(ROOT)],
                           uid: Annotated[int, Range(0, 65535)],
                           gid: Annotated[int, Range(0, 65535)]) -> None:
    _chown(path, uid, gid)


@plain.entrypoint
def link_up_privileged(namespace: Annotated[str, NAMESPACE]) -> None:
    _link_up(namespace)


@files.entrypoint
def files_link_up_privileged(namespace: Annotated[str, NAMESPACE]) -> None:
    _link_up(namespace)


@files.entrypoint
def echo_privileged(value: bytes) -> bytes:
    return value


@files.entrypoint
def shapes_privileged(items: list[int]) -> dict[str, object]:
    return {"list": items, "tuple": tuple(items), "nested": [tuple(items), [items]]}


@files.entrypoint
def add_privileged(a: int, b: int) -> int:
    return a + b


@files.entrypoint
def unsendable_reply_privileged() -> object:
    return object()  # msgpack cannot carry it: a bug in a privileged function, not the caller's


@files.entrypoint
def oversize_reply_privileged(size: Annotated[int, Range(0, 64 * 1024 * 1024)]) -> bytes:
    return b"x" * size


@files.entrypoint
def fail_privileged(kind: Annotated[str, OneOf("missing", "custom", "unknown")],
                    path: Annotated[str, PathUnder(ROOT)]) -> None:
    if kind == "missing":
        open(path).close()  # FileNotFoundError with errno and filename
    if kind == "custom":
        raise CustomFailure([1, 2], "two")
    # A class that exists only inside the daemon: the caller cannot rebuild it.
    raise type("DaemonOnlyFailure", (Exception,), {"__module__": "leastpriv_tests_daemon_only"})(
        "only here")


@files.entrypoint
def log_privileged(message: str) -> None:
    logging.getLogger("leastpriv_tests.inside").warning("%s", message)


@quick.entrypoint
def sleep_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> float:
    time.sleep(seconds)
    return seconds


@quick.entrypoint
def quick_add_privileged(a: int, b: int) -> int:
    return a + b


@quick.entrypoint_with_timeout(0.5)
def slow_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> None:
    time.sleep(seconds)


@files.entrypoint
def own_status_privileged() -> str:
    with open("/proc/self/status") as status:
        return status.read()


@files.entrypoint
def command_status_privileged() -> str:
    """The capability sets a command the daemon runs ends up with."""
    return subprocess.run(["cat", "/proc/self/status"], check=True, capture_output=True,
                          text=True).stdout


# Started by the exec helper (root runs it directly, or an unprivileged caller through sudo). No
# user: through sudo the daemon runs as the caller; root names one in the configuration.
execd = PrivContext("leastpriv_tests.execd", capabilities=[caps.CAP_CHOWN])


@execd.entrypoint
def exec_add_privileged(a: int, b: int) -> int:
    return a + b


@execd.entrypoint
def exec_sleep_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> float:
    time.sleep(seconds)
    return seconds
