"""Instance console logs: the files context, its two privileged functions and their one caller.

The service (unprivileged) decides what to write; the daemon (CAP_CHOWN, CAP_DAC_OVERRIDE and
nothing else) only appends bytes to a file named ``console.log`` inside the instances root and hands
that file to the instance's uid. That is the narrow replacement of the seed thread's
``nova.privsep.path.writefile(path, mode, data)``, which wrote anything, anywhere, with any mode.
"""

from __future__ import annotations

import os
from typing import Annotated

import leastpriv
from leastpriv import caps, fs
from leastpriv.contract import Match, MaxLen, PathUnder, Range

# Where instances live. A real service takes this from its configuration when the module is loaded
# (nova's ``instances_path``); the contracts below are fixed at that moment, so a daemon forked
# from this process checks against the same root. An exec'd helper imports this module with its
# environment cleared (it takes nothing from its caller's), so it would read the default here: a
# real service reads a root-owned configuration file instead, which the helper reads alike. The
# demo points this at a temporary directory before importing this module, and forks.
INSTANCES_ROOT = os.environ.get(
    "LEASTPRIV_EXAMPLE_INSTANCES_ROOT", "/var/lib/leastpriv-example/instances"
)
CONSOLE_LOG_NAME = "console.log"
# One write is one chunk of console output; the cap keeps a caller from filling the disk in one go.
MAX_CHUNK = 64 * 1024

# Exactly what writing and handing over a file that belongs to another uid needs: DAC_OVERRIDE to
# create and append inside an instance directory owned by the instance's uid, CHOWN to give the log
# to that uid. No CAP_FOWNER (no chmod of foreign files), no CAP_SYS_ADMIN.
CAPABILITIES = [caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE]
# Never uid 0 (which would own every root file whatever the capabilities): the daemon runs as an
# unprivileged account. A real service names its own service user here or in its configuration.
console_ctx = leastpriv.PrivContext("leastpriv.examples.console", capabilities=CAPABILITIES,
                                    user="nobody")

# A console log path: inside the instances root (no ``..``, no symlink at all), named console.log,
# so the daemon cannot be pointed at /etc/shadow nor at another file of an instance.
ConsoleLogPath = Annotated[
    str, PathUnder(INSTANCES_ROOT), Match(r"/.+/" + CONSOLE_LOG_NAME.replace(".", r"\."))
]
# Instance uids as a hypervisor allocates them: never root, never a system account, never nobody.
InstanceUid = Annotated[int, Range(1000, 65533)]


@console_ctx.entrypoint
def append_console_log_privileged(
    path: ConsoleLogPath, data: Annotated[bytes, MaxLen(MAX_CHUNK)]
) -> int:
    """Append `data` to the console log at `path`, creating it 0600; return the new size."""
    # fs, not os: the path is opened again beneath the instances root's pinned descriptor with no
    # symlink followed, so a directory swapped for a symlink after the contract's check makes
    # this fail instead of writing outside the root. The mode is fixed here, not a parameter: a
    # caller never chooses permissions.
    return fs.append(path, data, mode=0o600)


@console_ctx.entrypoint
def chown_console_log_privileged(path: ConsoleLogPath, uid: InstanceUid) -> None:
    """Give the console log at `path` to `uid` (the group is left alone)."""
    # Beneath the root again, on the very file opened there: never where a symlink leads.
    fs.chown(path, uid, -1)


def record_console_output(instance_dir: str, output: bytes, instance_uid: int) -> str:
    """Append `output` to the instance's console log and make sure the instance's uid owns it.

    The one caller of both privileged functions above: everything that decides *what* to do stays
    here, on the unprivileged side. Returns the log's path.
    """
    path = os.path.join(instance_dir, CONSOLE_LOG_NAME)
    # At least one append, even of nothing, so the log exists before it is chowned.
    for start in range(0, max(len(output), 1), MAX_CHUNK):
        append_console_log_privileged(path, output[start:start + MAX_CHUNK])
    chown_console_log_privileged(path, instance_uid)
    return path
