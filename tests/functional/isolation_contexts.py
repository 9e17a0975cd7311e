"""A context the exec helper imports in its isolation tests: a write a limit could cut, and
what the daemon sees of its process."""

from __future__ import annotations

import os
from typing import Annotated

from leastpriv import caps
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder, Range

ROOT = "/tmp/leastpriv-functional"

writer = PrivContext("leastpriv_tests.writer", capabilities=[caps.CAP_CHOWN], user="nobody")


@writer.entrypoint
def write_privileged(path: Annotated[str, PathUnder(ROOT)],
                     size: Annotated[int, Range(0, 1 << 20)]) -> int:
    """Write `size` bytes to `path`; return the file's size afterwards."""
    with open(path, "wb") as target:
        target.write(b"x" * size)
    return os.path.getsize(path)


@writer.entrypoint
def surroundings_privileged() -> dict[str, object]:
    """The daemon's working directory, environment and file size limit."""
    return {"cwd": os.getcwd(), "environ": dict(os.environ)}
