"""Shared by the drop-in tests: they run in the drop-in's own virtualenv (``.cache/dropin-venv``,
which ``scripts/dev test`` builds: leastpriv, the drop-in instead of oslo.privsep, and os-vif,
os-brick, nova and oslo.privsep's own tests from PyPI, unmodified) and skip anywhere else."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from system_users import made_user


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


@contextlib.contextmanager
def daemon_user() -> Iterator[str]:
    """A system user made for the test, removed afterwards: whom the daemons run as."""
    with made_user(f"lpdi{secrets.token_hex(3)}") as name:
        yield name


def identity_config(directory: Path, users: dict[str, str]) -> Path:
    """A leastpriv configuration (``LEASTPRIV_CONFIG``) giving each section its daemon user.

    leastpriv never runs a daemon as uid 0 unless its section says ``user = "root"``; the released
    projects and their tests say nothing of users, so the operator's file does, as it would in a
    deployment. Root-owned in a root-only directory, as privsep-helper under sudo requires.
    """
    path = directory / "leastpriv.toml"
    path.write_text("".join(f'[{section}]\nuser = "{user}"\n\n'
                            for section, user in users.items()))
    return path


def code_readable_by_anyone() -> bool:
    """Whether an unprivileged daemon user can read this interpreter's code (its standard library,
    site-packages and leastpriv). An exec'd daemon imports an entrypoint's module after it
    dropped to its user; a distribution's Python is world-readable, one under /root (0700) is not.
    """
    places = [Path(sysconfig.get_paths()["stdlib"]) / "os.py",
              Path(sysconfig.get_paths()["purelib"]), Path(__file__).parents[2] / "src"]
    for place in places:
        for node in [place, *place.parents]:
            mode = node.stat().st_mode
            needed = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & needed:
                return False
    return bool(sys.prefix)


def exec_daemon_user(user: str) -> str:
    """`user`, or root where it could not read the code an exec'd daemon imports lazily."""
    return user if code_readable_by_anyone() else "root"
