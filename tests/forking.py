"""Work done in a forked child of the test process, its results brought back to the parent."""

from __future__ import annotations

import json
import os
from collections.abc import Callable


def in_forked_child(work: list[Callable[[], object]]) -> list[object]:
    """What `work`'s callables return in a forked child (or the name of what one raised)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            results: list[object] = [step() for step in work]
        except BaseException as exc:  # reported to the parent, whatever it was
            results = [type(exc).__name__]
        os.write(write_end, json.dumps(results).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        received = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(received)  # type: ignore[no-any-return]
