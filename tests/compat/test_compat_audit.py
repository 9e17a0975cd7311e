"""`leastpriv audit` on the released modules the compat daemon serves (tests/dropin runs them):
what the compat layer let through is what the audit reports, so a reviewer sees what is left to
narrow before an entrypoint moves to the strict native API.

The compat daemon relaxes the decoration policy only: names without ``_privileged`` (LPS201),
parameters without a contract (LPS205, ``**kwargs`` included), and what such parameters reach
unchecked (LPS203 wide-file-contract, LPS204 command execution). Needs LEASTPRIV_REAL_CODE
(scripts/dev exports it), as tests/audit/test_real_code.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

MODULES = {
    "os_vif": ["vif_plug_ovs/linux_net.py", "vif_plug_ovs/privsep.py"],
    "os_brick": ["os_brick/privileged/rootwrap.py", "os_brick/privileged/__init__.py"],
    "nova": ["nova/privsep/path.py", "nova/privsep/__init__.py"],
}


# The id of a module given as a file inside its package is its full dotted name, the name
# oslo.privsep sends for its functions.
LINUX_NET_ID = "vif_plug_ovs.linux_net"
NOVA_PATH_ID = "nova.privsep.path"
ROOTWRAP_ID = "os_brick.privileged.rootwrap"


@pytest.fixture(scope="module")
def findings() -> dict[str, set[str]]:
    """{symbol: rule ids} of the audit of those modules, as released."""
    root = os.environ.get("LEASTPRIV_REAL_CODE")
    if not root:
        pytest.skip("LEASTPRIV_REAL_CODE is not set: no unpacked OpenStack releases to audit")
    files = [Path(root, project, module) for project, modules in MODULES.items()
             for module in modules]
    if missing := [str(f) for f in files if not f.exists()]:
        pytest.skip(f"not unpacked: {', '.join(missing)}")
    done = subprocess.run([sys.executable, "-m", "leastpriv", "audit", "--format", "json",
                           "--exit-zero", "--no-progress", *map(str, files)],
                          capture_output=True, text=True, check=True, timeout=300)
    by_symbol: dict[str, set[str]] = defaultdict(set)
    for finding in json.loads(done.stdout)["findings"]:
        by_symbol[finding["symbol"]].add(finding["rule"])
    return by_symbol


LINUX_NET = ["delete_net_dev", "create_veth_pair", "update_veth_pair", "create_tap",
             "ensure_bridge", "delete_bridge", "add_bridge_port", "set_device_mtu",
             "set_interface_state"]
NOVA_PATH = ["writefile", "chown", "makedirs", "chmod", "move_tree", "utime", "rmdir",
             "last_bytes"]


@pytest.mark.parametrize("symbol", [f"{LINUX_NET_ID}.{name}" for name in LINUX_NET]
                         + [f"{NOVA_PATH_ID}.{name}" for name in NOVA_PATH]
                         + [f"{ROOTWRAP_ID}.{name}"
                            for name in ("execute_root", "unlink_root", "link_root")])
def test_every_entrypoint_served_without_the_suffix_is_reported(
        findings: dict[str, set[str]], symbol: str) -> None:
    assert "LPS201" in findings[symbol]


@pytest.mark.parametrize("symbol", [f"{NOVA_PATH_ID}.{name}" for name in (
                                    "writefile", "makedirs", "chmod", "utime", "rmdir",
                                    "last_bytes")]
                         + [f"{ROOTWRAP_ID}.execute_root", f"{ROOTWRAP_ID}.link_root"])
def test_parameters_served_without_a_contract_are_reported(
        findings: dict[str, set[str]], symbol: str) -> None:
    assert "LPS205" in findings[symbol]


@pytest.mark.parametrize("symbol", [f"{NOVA_PATH_ID}.{name}" for name in NOVA_PATH]
                         + [f"{ROOTWRAP_ID}.unlink_root", f"{ROOTWRAP_ID}.link_root"])
def test_paths_the_daemon_takes_unconfined_are_wide_file_contracts(
        findings: dict[str, set[str]], symbol: str) -> None:
    assert "LPS203" in findings[symbol]


def test_execute_root_runs_whatever_command_it_is_given(findings: dict[str, set[str]]) -> None:
    assert "LPS204" in findings[f"{ROOTWRAP_ID}.execute_root"]


@pytest.mark.parametrize("symbol", [f"{LINUX_NET_ID}.{name}" for name in LINUX_NET])
def test_os_vif_annotated_parameters_are_contracts_the_daemon_checks(
        findings: dict[str, set[str]], symbol: str) -> None:
    # os-vif 5.3.0 annotates them (dev: str, mtu: int): compat checks those types in the daemon.
    assert "LPS205" not in findings[symbol]


def test_contexts_wider_than_their_work_are_reported(findings: dict[str, set[str]]) -> None:
    assert {"LPS101", "LPS102"} <= findings["nova.privsep.sys_admin_pctxt"]
    assert "LPS102" in findings["os_brick.privileged.default"]
