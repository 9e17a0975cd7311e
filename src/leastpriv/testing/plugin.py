"""The pytest plugin leastpriv installs (entry point ``pytest11``): the `leastpriv_in_process`
fixture, `leastpriv.testing.in_process` for the duration of one test."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Protocol

import pytest

from leastpriv.context import PrivContext
from leastpriv.testing import in_process

__all__ = ["InProcess", "leastpriv_in_process"]


class InProcess(Protocol):
    """What the fixture gives a test: `in_process`'s arguments, undone when the test ends."""

    def __call__(self, *contexts: PrivContext,
                 roots: Mapping[str, str | os.PathLike[str]] | None = None) -> None: ...


@pytest.fixture
def leastpriv_in_process() -> Iterator[InProcess]:
    """Run contexts in the test's process and rebind their roots, until the test ends::

        def test_console(leastpriv_in_process, tmp_path):
            leastpriv_in_process(console_ctx, roots={INSTANCES_ROOT: tmp_path})
    """
    with contextlib.ExitStack() as stack:

        def enter(*contexts: PrivContext,
                  roots: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
            stack.enter_context(in_process(*contexts, roots=roots))

        yield enter
