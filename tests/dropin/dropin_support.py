"""Shared by the drop-in tests: they run in the drop-in's own virtualenv (``.cache/dropin-venv``,
which ``scripts/dev test`` builds: leastpriv, the drop-in instead of oslo.privsep, and os-vif,
os-brick, nova and oslo.privsep's own tests from PyPI, unmodified) and skip anywhere else."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest


def require_dropin() -> None:
    """Skip unless ``oslo_privsep`` here is the drop-in, and we are root."""
    if os.geteuid() != 0:
        pytest.skip("needs root: starts real daemons and makes network namespaces")
    try:
        import oslo_privsep.daemon
    except ImportError:
        pytest.skip("oslo_privsep is not installed here: these tests run in .cache/dropin-venv "
                    "(scripts/dev test builds it)")
    from leastpriv.compat import daemon

    if oslo_privsep.daemon is not daemon:
        pytest.skip("the oslo_privsep installed here is oslo.privsep itself, not the drop-in")


@contextlib.contextmanager
def network_namespace() -> Iterator[str]:
    """A fresh network namespace, removed afterwards with everything in it."""
    name = f"lpdropin-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
