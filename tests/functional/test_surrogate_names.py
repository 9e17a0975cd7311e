"""File names that are not UTF-8 cross the channel both ways as the same str, through a real
daemon, and name the same files on disk."""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import filenames
import pytest
from support import functional_pythonpath, root_dir  # noqa: F401 - root_dir: a fixture
from tests.conftest import requires_root

pytestmark = requires_root
# Bytes no UTF-8 decoder accepts, and a pair that is valid UTF-8 only when joined ("é").
RAW_NAMES = [b"latin1-caf\xe9", b"\xff\xfe", b"split-\xc3", b"plain"]


@pytest.fixture(params=["fork", "exec"])
def names_daemon(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())  # the helper imports `filenames`
    filenames.names.start(method=request.param)
    yield
    filenames.names.stop()


def test_names_listed_in_the_daemon_arrive_as_os_listdir_gives_them_here(
        names_daemon: None, root_dir: Path) -> None:
    for raw in RAW_NAMES:
        os.close(os.open(os.path.join(os.fsencode(root_dir), raw), os.O_CREAT | os.O_WRONLY))
    listed = filenames.list_names_privileged(str(root_dir))
    assert listed == sorted(os.listdir(root_dir))
    assert sorted(os.fsencode(name) for name in listed) == sorted(RAW_NAMES)


def test_a_name_sent_to_the_daemon_creates_the_file_with_those_bytes(
        names_daemon: None, root_dir: Path) -> None:
    for raw in RAW_NAMES:
        name = os.fsdecode(raw)
        assert filenames.create_named_privileged(os.path.join(root_dir, name)) == name
    assert sorted(os.listdir(os.fsencode(root_dir))) == sorted(RAW_NAMES)


def test_surrogates_that_would_re_encode_as_valid_utf8_come_back_unchanged(
        names_daemon: None, root_dir: Path) -> None:
    name = os.fsdecode(b"split-\xc3") + os.fsdecode(b"\xa9")  # "split-\udcc3\udca9", not "é"
    assert filenames.create_named_privileged(os.path.join(root_dir, name)) == name
    assert os.listdir(os.fsencode(root_dir)) == [b"split-\xc3\xa9"]
