"""leastpriv.testing: entrypoints in the test's process for one block, roots rebound, all undone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pytest

from leastpriv import caps, fs, paths
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder
from leastpriv.errors import ContractViolation
from leastpriv.testing import in_process

# A root no test machine has: a call that reached it instead of the rebound directory would fail.
DECLARED = "/var/lib/leastpriv-testing-declared"

files = PrivContext("leastpriv_tests.testing.files", capabilities=[caps.CAP_DAC_OVERRIDE])
other = PrivContext("leastpriv_tests.testing.other", capabilities=[caps.CAP_CHOWN])


@files.entrypoint
def write_note_privileged(path: Annotated[str, PathUnder(DECLARED)], data: bytes) -> int:
    fs.write(path, data)
    return os.getpid()


@other.entrypoint
def pid_privileged() -> int:
    return os.getpid()


def test_entrypoints_run_in_this_process_inside_the_block_only() -> None:
    assert files.client_mode and other.client_mode
    with in_process(files, other):
        assert not files.client_mode and not other.client_mode
        assert pid_privileged() == os.getpid()
    assert files.client_mode and other.client_mode


def test_the_mode_is_restored_when_the_test_fails_inside() -> None:
    with pytest.raises(RuntimeError), in_process(files):
        raise RuntimeError("the test failed")
    assert files.client_mode


def test_a_nested_block_restores_the_mode_and_binding_of_the_outer_one(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    inner.mkdir()
    with in_process(files, roots={DECLARED: outer}):
        with in_process(files, roots={DECLARED: inner}):
            write_note_privileged(f"{DECLARED}/note", b"inner")
        assert not files.client_mode
        write_note_privileged(f"{DECLARED}/note", b"outer")
    assert (inner / "note").read_bytes() == b"inner"
    assert (outer / "note").read_bytes() == b"outer"


def test_a_rebound_root_sends_the_call_beneath_the_directory_given(tmp_path: Path) -> None:
    with in_process(files, roots={DECLARED: tmp_path}):
        assert write_note_privileged(f"{DECLARED}/vm1-note", b"data") == os.getpid()
    assert (tmp_path / "vm1-note").read_bytes() == b"data"
    # Afterwards the declared root is the one resolved again (here: it does not exist).
    assert paths.root_fd(DECLARED) is None


def test_the_contract_is_still_checked_against_the_declared_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    with in_process(files, roots={DECLARED: tmp_path / "root"}):
        (tmp_path / "root").mkdir()
        with pytest.raises(ContractViolation):
            write_note_privileged(f"{DECLARED}/../outside", b"escape")
        with pytest.raises(ContractViolation):
            write_note_privileged(str(outside), b"not under the declared root")
    assert not outside.exists()


def test_a_symlink_beneath_a_rebound_root_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(target)
    with in_process(files, roots={DECLARED: root}), pytest.raises(ContractViolation):
        write_note_privileged(f"{DECLARED}/link/note", b"through a symlink")
    assert list(target.iterdir()) == []


def test_a_root_no_entrypoint_declares_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    with pytest.raises(ValueError), in_process(files, roots={"/var/lib/misspelt": tmp_path}):
        pass
    with pytest.raises(ValueError), in_process(other, roots={DECLARED: tmp_path}):
        pass
    assert files.client_mode and other.client_mode
    assert paths.root_fd(DECLARED) is None


def test_a_root_bound_to_a_relative_directory_is_refused() -> None:
    with pytest.raises(ValueError), in_process(files, roots={DECLARED: "relative/dir"}):
        pass
    assert files.client_mode


def test_a_declared_root_is_matched_after_normalisation(tmp_path: Path) -> None:
    with in_process(files, roots={DECLARED + "//": tmp_path}):
        write_note_privileged(f"{DECLARED}/note", b"x")
    assert (tmp_path / "note").read_bytes() == b"x"
