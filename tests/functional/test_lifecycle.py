"""A context's daemon as the caller sees it (`leastpriv.unprivileged.lifecycle`), across a fork of
the caller itself: services fork workers after their first privileged call."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import contexts
from support import stop_test_contexts  # noqa: F401 - a fixture, used by name
from tests.conftest import requires_root

pytestmark = requires_root


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


def test_a_child_of_the_caller_never_uses_its_parents_channel() -> None:
    # Two processes reading one socket take each other's replies (or halves of them): the child
    # must start a daemon of its own, and leave the parent's channel to the parent.
    assert contexts.add_privileged(1, 1) == 2
    parents = contexts.files.daemon_pid
    child = in_forked_child([lambda: contexts.add_privileged(2, 3),
                             lambda: contexts.files.daemon_pid, contexts.files.stop])
    assert child[0] == 5
    assert child[1] not in (None, parents)
    assert contexts.add_privileged(3, 4) == 7
    assert contexts.files.daemon_pid == parents
