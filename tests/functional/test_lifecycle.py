"""A context's daemon as the caller sees it (`leastpriv.unprivileged.lifecycle`), across a fork of
the caller itself: services fork workers after their first privileged call."""

from __future__ import annotations

import contexts
from support import stop_test_contexts  # noqa: F401 - a fixture, used by name
from tests.conftest import requires_root

from forking import in_forked_child

pytestmark = requires_root


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
