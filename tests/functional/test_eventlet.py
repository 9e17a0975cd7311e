"""The client under eventlet's monkey patching, and without it: many green threads on one
channel, a timeout, the daemon's death, and a forked daemon that left the hub.

Each scenario runs in a fresh interpreter (green_scenarios.py): patching cannot be undone in this
one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support import functional_pythonpath
from tests.conftest import requires_root

pytestmark = requires_root
pytest.importorskip("eventlet", reason="eventlet is in the test extra: pip install -e '.[test]'")

SCRIPT = Path(__file__).parent / "green_scenarios.py"
MODES = ["eventlet", "threads"]
METHODS = ["fork", "exec"]


def scenario(mode: str, method: str, name: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(SCRIPT), mode, method, name,
         *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": functional_pythonpath()})
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_sixteen_threads_times_two_hundred_calls_all_get_their_own_reply(mode: str,
                                                                         method: str) -> None:
    assert scenario(mode, method, "many") == {"calls": 3200, "wrong": 0, "errors": []}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_a_call_past_its_timeout_raises_call_timeout_while_other_threads_run(
        mode: str, method: str) -> None:
    result = scenario(mode, method, "timeout")
    assert result["raised"] == "CallTimeout"
    assert result["ticks while waiting"] > 0  # the wait let the other (green) threads run
    assert result["next call"] == 5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_a_killed_daemon_fails_the_call_with_daemon_died_and_a_fresh_one_serves(
        mode: str, method: str) -> None:
    result = scenario(mode, method, "death")
    assert result == {"raised": ["DaemonDied"], "next call": 9, "new daemon": True}


def test_a_forked_daemon_leaves_the_hub_and_never_runs_an_application_green_thread() -> None:
    # Where the daemon's user could write, had an application thread run in it.
    directory = Path(tempfile.mkdtemp(prefix="leastpriv-green-"))
    try:
        directory.chmod(0o755)
        marker = directory / "ran-in"
        marker.touch(mode=0o666)
        marker.chmod(0o666)
        state = scenario("eventlet", "fork", "child", str(marker))
    finally:
        shutil.rmtree(directory)
    assert state["application ran in"] == []
    assert state["select.poll"] is True
    assert state["lock"] == "_thread"
    assert state["socket"] == "socket"


def test_the_exec_helper_never_loads_eventlet() -> None:
    state = scenario("eventlet", "exec", "child", os.devnull)
    assert state["eventlet loaded"] is False


@pytest.mark.parametrize("mode", MODES)
def test_a_helper_that_fails_to_start_is_reported_with_its_stderr_while_other_threads_run(
        mode: str) -> None:
    result = scenario(mode, "exec", "failing_helper")
    assert result["raised"] == "DaemonStartError"
    assert result["stderr relayed"] is True
    assert result["ticks while starting"] > 1  # the launch never held up the other threads
