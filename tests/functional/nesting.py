"""Contexts whose privileged functions call entrypoints themselves: of their own context, of
another one, and of another one they are allowed to start.

Importable by the exec helper (``--context nesting:outer``) with tests/functional on its PYTHONPATH.
"""

from __future__ import annotations

import os
from typing import Annotated

from leastpriv import caps
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder

ROOT = "/tmp/leastpriv-functional"

outer = PrivContext("leastpriv_tests.nest_outer", capabilities=[caps.CAP_CHOWN], user="nobody")
inner = PrivContext("leastpriv_tests.nest_inner", capabilities=[caps.CAP_CHOWN], user="nobody")
# May start `inner`'s daemon from inside its own: it must hold what a fork of `inner` needs
# (inner's capabilities, SETPCAP to shrink the bounding set, SETUID/SETGID for inner's user).
starter = PrivContext("leastpriv_tests.nest_starter",
                      capabilities=[caps.CAP_CHOWN, caps.CAP_SETPCAP, caps.CAP_SETUID,
                                    caps.CAP_SETGID],
                      may_start=["leastpriv_tests.nest_inner"], user="nobody")


@outer.entrypoint
def getpid_privileged() -> int:
    return os.getpid()


@outer.entrypoint
def outer_privileged() -> tuple[int, int]:
    """This daemon's pid, and the pid that a nested call of its own context reports."""
    return os.getpid(), getpid_privileged()


@outer.entrypoint
def nested_contract_privileged(path: str) -> str:
    """Passes a path it did not check on to an entrypoint whose contract refuses it."""
    return chown_nothing_privileged(path)


@outer.entrypoint
def chown_nothing_privileged(path: Annotated[str, PathUnder(ROOT)]) -> str:
    return path


@inner.entrypoint
def inner_getpid_privileged() -> int:
    return os.getpid()


@outer.entrypoint
def cross_privileged() -> int:
    """Calls another context's entrypoint, which `outer` may not start."""
    return inner_getpid_privileged()


@starter.entrypoint
def started_inner_privileged() -> tuple[int, int]:
    """This daemon's pid and that of the `inner` daemon it started and called."""
    return os.getpid(), inner_getpid_privileged()
