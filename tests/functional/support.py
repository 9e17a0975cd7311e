"""Helpers and fixtures shared by the leastpriv runtime's functional tests.

Not a conftest.py: tests/conftest.py is imported as `conftest` by other test modules here, and a
second one in this folder would shadow it. Test modules import the fixtures they use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import contexts
import pytest

from leastpriv import caps
from system_users import made_user


def status_sets(pid: int) -> caps.ProcessCapabilities:
    return caps.read_process_capabilities(pid)


def functional_pythonpath() -> str:
    """PYTHONPATH that lets a child process import leastpriv and the test contexts."""
    here = Path(__file__).parent
    src = Path(__file__).parents[2] / "src"
    return os.pathsep.join([str(here), str(src)])


def raised_when_killed_mid_call(call: Callable[[], object], pid: int) -> list[type[BaseException]]:
    """Run `call` (a privileged call that sleeps) in a thread, SIGKILL the daemon `pid` while the
    call is in it, and return the types of what the call raised."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)  # let the call reach the daemon
    os.kill(pid, signal.SIGKILL)
    thread.join(15)
    assert not thread.is_alive()
    return [type(exc) for exc in outcome]


@pytest.fixture
def root_dir() -> Iterator[Path]:
    """A fresh directory under the root the test contexts' PathUnder allows."""
    base = Path(contexts.ROOT)
    base.mkdir(mode=0o755, exist_ok=True)
    path = base / secrets.token_hex(4)
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        base.rmdir()  # only when no other test still uses it


@pytest.fixture(scope="module", autouse=True)
def stop_test_contexts() -> Iterator[None]:
    yield
    for context in (contexts.files, contexts.plain, contexts.quick, contexts.execd):
        context.stop()


@pytest.fixture
def system_user() -> Iterator[str]:
    """A system user made for this test only (no home, no login), removed afterwards."""
    with made_user(f"lp-test-{secrets.token_hex(4)}") as name:
        yield name


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"lp-test-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


