"""The context the eventlet scenarios call (green_scenarios.py), with and without eventlet.

Importable by the exec helper (``--context green_calls:green``) with tests/functional on its
PYTHONPATH.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from typing import Annotated

from leastpriv import caps
from leastpriv.context import PrivContext
from leastpriv.contract import Range

green = PrivContext("leastpriv_tests.green", capabilities=[caps.CAP_CHOWN], user="nobody")
# A helper that says why on its standard error, takes its time, and exits without connecting.
failing = PrivContext("leastpriv_tests.green_failing", capabilities=[caps.CAP_CHOWN],
                      helper_command=[sys.executable, "-c", "import sys, time; "
                                      "print('helper cannot start', file=sys.stderr, flush=True); "
                                      "time.sleep(0.5); sys.exit(3)"])


@green.entrypoint
def add_privileged(a: int, b: int) -> int:
    return a + b


@green.entrypoint
def sleep_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> float:
    time.sleep(seconds)
    return seconds


@green.entrypoint_with_timeout(0.5)
def slow_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> None:
    time.sleep(seconds)


@green.entrypoint
def state_privileged() -> dict[str, object]:
    """Waits every way a privileged function may (sleep, a thread, a socket, a command), then
    says which modules it found: a daemon that still had eventlet's hub would have switched to
    the application's green threads during any of those waits."""
    time.sleep(0.05)
    worker = threading.Thread(target=time.sleep, args=(0.02,))
    worker.start()
    worker.join()
    one, two = socket.socketpair()
    one.sendall(b"x")
    two.recv(1)
    subprocess.run(["true"], check=True)
    return {
        "eventlet loaded": "eventlet" in sys.modules,
        "select.poll": hasattr(select, "poll"),
        "lock": type(threading.Lock()).__module__,
        "socket": type(two).__module__,
        "sleep": time.sleep.__module__ if hasattr(time.sleep, "__module__") else None,
        "pid": os.getpid(),
    }
