"""os-vif's vif_plug_ovs.linux_net, os-brick's execute_root and nova.privsep.path, as released,
driven through both ways in (the drop-in, the one-import change) and both start methods, with
the daemon's capability sets read from /proc."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dropin_support import (
    daemon_user,
    exec_daemon_user,
    identity_config,
    network_namespace,
    require_dropin,
)

HERE = Path(__file__).parent
pytestmark = pytest.mark.functional
WAYS = pytest.mark.parametrize("way", ["dropin", "compat"])
METHODS = pytest.mark.parametrize("method", ["fork", "rootwrap"])


@pytest.fixture(scope="module")
def user() -> Iterator[str]:
    with daemon_user() as name:
        yield name


@pytest.fixture
def daemon_as(method: str, user: str) -> str:
    """Whom the os-vif and nova daemons run as: the test's user (a forked daemon imported its
    code before the drop; an exec'd one imports it after, so only where it can read it)."""
    return user if method == "fork" else exec_daemon_user(user)


@pytest.fixture
def config(tmp_path: Path, daemon_as: str) -> Path:
    # os-brick's commands (iscsiadm, ...) check for uid 0: its section says so; the others run as
    # an unprivileged user holding their capabilities.
    return identity_config(tmp_path, {"vif_plug_ovs_privileged": _vif_plug_user(daemon_as),
                                      "nova_sys_admin": daemon_as, "privsep_osbrick": "root"})


def _vif_plug_user(daemon_as: str) -> str:
    # create_tap opens /dev/net/tun, which CAP_NET_ADMIN does not open where only root may.
    return daemon_as if os.stat("/dev/net/tun").st_mode & 0o006 == 0o006 else "root"


def _drive(way: str, method: str, scenario: str, config: Path, *extra: str,
           netns: str | None = None) -> dict[str, Any]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, sys.executable, str(HERE / "drive_real.py"), way, method,
                           scenario, *extra], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, VIRTUAL_ENV=sys.prefix,
                                   LEASTPRIV_CONFIG=str(config)), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _exactly(daemon: dict[str, Any], held: list[str], user: str) -> None:
    assert daemon["pid"] != daemon["caller_pid"]
    uid = pwd.getpwnam(user).pw_uid
    assert daemon["uid"] == uid
    for name in ("effective", "permitted", "inheritable", "bounding"):
        assert daemon[name] == held, name
    # A daemon that is not uid 0 hands its set to the commands it runs through ambient.
    assert daemon["ambient"] == (held if uid else [])
    assert daemon["no_new_privs"] is True


@WAYS
@METHODS
def test_os_vif_linux_net(way: str, method: str, config: Path, daemon_as: str) -> None:
    require_dropin()
    pytest.importorskip("vif_plug_ovs.linux_net", reason="os-vif 5.3.0 is installed by scripts/dev")
    with network_namespace() as netns:
        seen = _drive(way, method, "linux_net", config, netns=netns)
    assert seen["veth_mtu"] == ["1400", "1400"]  # create_veth_pair's nested set_device_mtu
    assert seen["master"] == "lpbr0"
    assert seen["set_mtu"] == "1450"
    assert seen["tap"] == ["1300", "fa:16:3e:00:00:01"]
    assert int(seen["state_down"], 16) & 1 == 0  # IFF_UP cleared
    assert seen["left"] == ["lo"]  # delete_bridge and delete_net_dev removed the rest
    _exactly(seen["daemon"], ["CAP_NET_ADMIN"], _vif_plug_user(daemon_as))


@WAYS
@METHODS
def test_os_brick_execute_root(way: str, method: str, config: Path) -> None:
    require_dropin()
    pytest.importorskip("os_brick.privileged.rootwrap",
                        reason="os-brick 7.1.1 is installed by scripts/dev")
    seen = _drive(way, method, "execute_root", config)
    shell_parent, uid = seen["out"][0].split()
    assert int(shell_parent) == seen["daemon"]["pid"]  # the command ran from the daemon
    assert uid == "0"
    assert seen["raised"] == {"class": "oslo_concurrency.processutils.ProcessExecutionError",
                              "exit_code": 3, "stderr": "failing\n"}
    _exactly(seen["daemon"], ["CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN"], "root")


@WAYS
@METHODS
def test_nova_privsep_path(way: str, method: str, tmp_path: Path, config: Path,
                           daemon_as: str) -> None:
    require_dropin()
    pytest.importorskip("nova.privsep.path", reason="nova 34.0.0 is installed by scripts/dev")
    root = tmp_path / "root"
    root.mkdir()
    seen = _drive(way, method, "nova_path", config, str(root))
    assert seen["stat"] == [4242, 4243, "0o640"]
    assert seen["last_bytes"] == "(b'console', 6)"
    assert seen["raised"]["class"] == "nova.exception.FileNotFound"
    _exactly(seen["daemon"], ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
                              "CAP_FOWNER", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"], daemon_as)
