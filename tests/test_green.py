"""leastpriv.unprivileged.green: the client under eventlet's monkey patching, against a scripted
daemon (no root), each scenario in a fresh interpreter that patches first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leastpriv.unprivileged import green

pytest.importorskip("eventlet", reason="eventlet is in the test extra: pip install -e '.[test]'")
SCRIPT = Path(__file__).parent / "green_unit_scenarios.py"


def scenario(name: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", str(SCRIPT), name],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_without_monkey_patching_the_hub_is_not_in_use() -> None:
    assert not green.hub_in_use()


def test_a_patched_channel_times_out_with_call_timeout_while_other_green_threads_run() -> None:
    result = scenario("waits")
    assert result["hub in use"] is True and result["select.poll"] is False
    assert result["raised"] == "CallTimeout"
    assert result["ticks"] > 1  # the waiting call switched to the hub: the ticker ran
    assert result["socket"] == "GreenSocket" and result["state lock"] == "eventlet.lock"


def test_sixteen_green_threads_times_two_hundred_calls_all_get_their_own_reply() -> None:
    assert scenario("many") == {"wrong": 0}


def test_closing_a_channel_a_green_thread_waits_on_fails_that_call_at_once() -> None:
    assert scenario("closed_while_waiting") == {"raised": ["DaemonDied"],
                                                "within the timeout": True}


def test_a_forked_child_that_left_the_hub_has_real_modules_and_a_real_blocking_socket() -> None:
    assert scenario("forked_child") == {
        "socket": "socket", "blocking": True, "select.poll": True, "lock": "_thread",
        "sleep": "time", "hub in use": False, "parent still green": True, "child sent": "x"}
