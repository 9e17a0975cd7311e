"""A compat context under eventlet.monkey_patch(): sixteen green threads on one channel, and a
timeout that lets the other green threads run. Each case in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real daemons")
pytest.importorskip("eventlet", reason="eventlet is in the test extra")
pytest.importorskip("oslo_config", reason="leastpriv.compat needs oslo.config")

HERE = Path(__file__).parent
SRC = Path(__file__).parents[3] / "src"
METHODS = pytest.mark.parametrize("method", ["fork", "rootwrap"])


def scenario(method: str, name: str, tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "leastpriv.toml"
    config.write_text('[compat_netadmin]\nuser = "root"\n')  # declared: this is about eventlet
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(HERE / "green_compat.py"),
         method, name], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)]),
             "LEASTPRIV_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@METHODS
def test_sixteen_green_threads_each_get_their_own_replies(method: str, tmp_path: Path) -> None:
    assert scenario(method, "many", tmp_path) == {"calls": 1600, "wrong": 0, "errors": []}


@METHODS
def test_a_timeout_raises_privsep_timeout_while_other_green_threads_run(
        method: str, tmp_path: Path) -> None:
    result = scenario(method, "timeout", tmp_path)
    assert result["raised"] == "PrivsepTimeout"
    assert result["ticks while waiting"] > 0
    assert result["next call"] == 0.01
