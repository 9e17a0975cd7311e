"""leastpriv side of the rootwrap comparison: what a rootwrap ``chown`` filter becomes.

A ``chown: CommandFilter, chown, root`` line lets the service run ``chown`` with *any* arguments as
root. The leastpriv equivalent is a narrow entrypoint: one file tree, instance uids only, on a
context holding CAP_CHOWN alone. Two forms are measured: the syscall (what one would write), and
running the same ``/usr/bin/chown`` binary rootwrap runs (the same work, to isolate the channel).
"""

from __future__ import annotations

import os
import subprocess
from typing import Annotated

import leastpriv
from leastpriv import caps
from leastpriv.contract import PathUnder, Range

# Fixed when the module is loaded, as a service's configured state directory would be; the
# benchmark points it at its temporary directory before the import (and a helper inherits it).
ROOT = os.environ.get("LEASTPRIV_BENCH_CHOWN_ROOT", "/var/lib/leastpriv-bench")

chown_ctx = leastpriv.PrivContext("leastpriv.bench.chown", capabilities=[caps.CAP_CHOWN])


@chown_ctx.entrypoint
def chown_file_privileged(
    path: Annotated[str, PathUnder(ROOT)], uid: Annotated[int, Range(1000, 65533)]
) -> None:
    os.chown(path, uid, -1, follow_symlinks=False)


@chown_ctx.entrypoint
def run_chown_privileged(
    path: Annotated[str, PathUnder(ROOT)], uid: Annotated[int, Range(1000, 65533)]
) -> None:
    # The daemon's bounding set is CAP_CHOWN only, so this chown runs with CAP_CHOWN and nothing
    # else, where rootwrap's runs with all of root. "--" ends options: the path cannot be one.
    subprocess.run(["/usr/bin/chown", "-h", str(uid), "--", path], check=True)
