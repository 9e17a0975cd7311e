"""A context that lists and creates files whose names are not UTF-8, for the surrogate tests.

Importable by the exec helper (``--context filenames:names``) with tests/functional on its
PYTHONPATH.
"""

from __future__ import annotations

import os
from typing import Annotated

from leastpriv import caps
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder

ROOT = "/tmp/leastpriv-functional"

# DAC_OVERRIDE: the test's directories belong to root, whichever uid the daemon runs as.
names = PrivContext("leastpriv_tests.names", capabilities=[caps.CAP_DAC_OVERRIDE], user="nobody")


@names.entrypoint
def list_names_privileged(directory: Annotated[str, PathUnder(ROOT)]) -> list[str]:
    return sorted(os.listdir(directory))


@names.entrypoint
def create_named_privileged(path: Annotated[str, PathUnder(ROOT)]) -> str:
    """Creates `path`; its name as the daemon holds it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return os.path.basename(path)
