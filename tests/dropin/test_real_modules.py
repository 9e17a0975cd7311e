"""os-vif's vif_plug_ovs.linux_net, os-brick's execute_root and nova.privsep.path, as released,
driven through both ways in (the drop-in, the one-import change) and both start methods, with
the daemon's capability sets read from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dropin_support import network_namespace, require_dropin

HERE = Path(__file__).parent
pytestmark = pytest.mark.functional
WAYS = pytest.mark.parametrize("way", ["dropin", "compat"])
METHODS = pytest.mark.parametrize("method", ["fork", "rootwrap"])


def _drive(way: str, method: str, scenario: str, *extra: str, netns: str | None = None
           ) -> dict[str, Any]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, sys.executable, str(HERE / "drive_real.py"), way, method,
                           scenario, *extra], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, VIRTUAL_ENV=sys.prefix), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _exactly(daemon: dict[str, Any], held: list[str]) -> None:
    assert daemon["pid"] != daemon["caller_pid"]
    for name in ("effective", "permitted", "inheritable", "bounding"):
        assert daemon[name] == held, name
    assert daemon["ambient"] == []
    assert daemon["no_new_privs"] is True


@WAYS
@METHODS
def test_os_vif_linux_net(way: str, method: str) -> None:
    require_dropin()
    pytest.importorskip("vif_plug_ovs.linux_net", reason="os-vif 5.3.0 is installed by scripts/dev")
    with network_namespace() as netns:
        seen = _drive(way, method, "linux_net", netns=netns)
    assert seen["veth_mtu"] == ["1400", "1400"]  # create_veth_pair's nested set_device_mtu
    assert seen["master"] == "lpbr0"
    assert seen["set_mtu"] == "1450"
    assert seen["tap"] == ["1300", "fa:16:3e:00:00:01"]
    assert int(seen["state_down"], 16) & 1 == 0  # IFF_UP cleared
    assert seen["left"] == ["lo"]  # delete_bridge and delete_net_dev removed the rest
    _exactly(seen["daemon"], ["CAP_NET_ADMIN"])


@WAYS
@METHODS
def test_os_brick_execute_root(way: str, method: str) -> None:
    require_dropin()
    pytest.importorskip("os_brick.privileged.rootwrap",
                        reason="os-brick 7.1.1 is installed by scripts/dev")
    seen = _drive(way, method, "execute_root")
    shell_parent, uid = seen["out"][0].split()
    assert int(shell_parent) == seen["daemon"]["pid"]  # the command ran from the daemon
    assert uid == "0"
    assert seen["raised"] == {"class": "oslo_concurrency.processutils.ProcessExecutionError",
                              "exit_code": 3, "stderr": "failing\n"}
    _exactly(seen["daemon"], ["CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN"])


@WAYS
@METHODS
def test_nova_privsep_path(way: str, method: str, tmp_path: Path) -> None:
    require_dropin()
    pytest.importorskip("nova.privsep.path", reason="nova 34.0.0 is installed by scripts/dev")
    seen = _drive(way, method, "nova_path", str(tmp_path))
    assert seen["stat"] == [4242, 4243, "0o640"]
    assert seen["last_bytes"] == "(b'console', 6)"
    assert seen["raised"]["class"] == "nova.exception.FileNotFound"
    _exactly(seen["daemon"], ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
                              "CAP_FOWNER", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
