"""A pytest plugin for running os-vif's functional tests unmodified on a kernel that lacks some
link types: a test whose source creates a ``dummy`` or ``vlan`` link is skipped, with that reason,
when the kernel in this network namespace cannot make one. Load it with ``-p linktypes``."""

from __future__ import annotations

import functools
import inspect
import subprocess

import pytest


@functools.cache
def kernel_lacks(link_type: str) -> bool:
    """Whether ``ip link add`` of `link_type` fails here (tried in the current namespace)."""
    if link_type == "vlan":
        subprocess.run(["ip", "link", "add", "lpprobe0", "type", "veth", "peer", "name",
                        "lpprobe1"], capture_output=True, check=True)
        command = ["ip", "link", "add", "link", "lpprobe0", "name", "lpprobe0.7", "type",
                   "vlan", "id", "7"]
    else:
        command = ["ip", "link", "add", "lpprobe2", "type", link_type]
    made = subprocess.run(command, capture_output=True).returncode == 0
    for dev in ("lpprobe0", "lpprobe2"):
        subprocess.run(["ip", "link", "delete", dev], capture_output=True)
    return not made


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        source = inspect.getsource(function)
        for link_type in ("dummy", "vlan"):
            if f"'{link_type}'" in source and kernel_lacks(link_type):
                item.add_marker(pytest.mark.skip(
                    reason=f"this kernel has no {link_type} link type"))
                break
