"""Helpers shared by the functional tests."""

from __future__ import annotations

import os
from pathlib import Path

from leastpriv import caps


def status_sets(pid: int) -> caps.ProcessCapabilities:
    return caps.read_process_capabilities(pid)


def functional_pythonpath() -> str:
    """PYTHONPATH that lets a child process import leastpriv and the test contexts."""
    here = Path(__file__).parent
    src = Path(__file__).parents[2] / "src"
    return os.pathsep.join([str(here), str(src)])
