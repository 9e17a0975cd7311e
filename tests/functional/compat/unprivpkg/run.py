"""Run by a non-root user: a project's test of `unprivpkg` under `UnprivilegedPrivsepFixture`,
printing what it saw as one JSON object. argv[1]: a file that user owns; argv[2:]: programs the
daemon runs (setuid-root and file-capability copies of cat)."""

import json
import os
import sys

import unprivpkg
from leastpriv.compat.fixture import UnprivilegedPrivsepFixture


def main() -> None:
    with UnprivilegedPrivsepFixture(unprivpkg.net, {}):
        daemon = unprivpkg.identity()
        try:
            unprivpkg.give_to_root(sys.argv[1])
            chown = "done"
        except PermissionError:
            chown = "PermissionError"
        programs = {program: unprivpkg.status_of(program) for program in sys.argv[2:]}
    print(json.dumps({"caller": {"pid": os.getpid(), "uid": os.getuid()}, "daemon": daemon,
                      "chown": chown, "programs": programs,
                      "channel_after": repr(unprivpkg.net.channel),
                      "daemon_left": os.path.exists(f"/proc/{daemon['pid']}")}))


main()
