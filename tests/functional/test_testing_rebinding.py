"""A root rebound for a test (leastpriv.testing) never reaches a daemon: the attack, refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest

from leastpriv import caps, fs
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder
from leastpriv.testing import in_process

DECLARED = "/tmp/leastpriv-functional-rebinding"

# One context runs in the test's process, the other in a real daemon; both declare the same root.
in_test = PrivContext("leastpriv_tests.rebinding.in_test", capabilities=[caps.CAP_DAC_OVERRIDE])
in_daemon = PrivContext("leastpriv_tests.rebinding.daemon", capabilities=[caps.CAP_DAC_OVERRIDE],
                       user="nobody")


@in_test.entrypoint
def write_here_privileged(path: Annotated[str, PathUnder(DECLARED)], data: bytes) -> int:
    fs.write(path, data)
    return os.getpid()


@in_daemon.entrypoint
def write_there_privileged(path: Annotated[str, PathUnder(DECLARED)], data: bytes) -> int:
    fs.write(path, data)
    return os.getpid()


@pytest.fixture
def declared_root() -> Iterator[Path]:
    root = Path(DECLARED)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    try:
        yield root
    finally:
        in_daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("started", ["before the rebinding", "during it"])
def test_a_daemon_checks_against_the_declared_root_while_a_test_rebinds_it(
        declared_root: Path, tmp_path: Path, started: str) -> None:
    if started == "before the rebinding":
        in_daemon.start("fork")
    with in_process(in_test, roots={DECLARED: tmp_path}):
        # The daemon forks here when it was not started before: it inherits the rebinding, and
        # must forget it (a test must never widen what a real daemon accepts).
        daemon_pid = write_there_privileged(f"{DECLARED}/note", b"daemon")
        assert write_here_privileged(f"{DECLARED}/note", b"test") == os.getpid()
    assert daemon_pid != os.getpid()
    assert (declared_root / "note").read_bytes() == b"daemon"
    assert (tmp_path / "note").read_bytes() == b"test"
