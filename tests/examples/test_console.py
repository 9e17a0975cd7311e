"""The example service's files context, run in the test's process beneath a temporary root."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import leastpriv
from conftest import requires_root
from leastpriv.examples.console_and_network import console
from leastpriv.testing import in_process

ROOT = console.INSTANCES_ROOT  # as declared: the calls name paths under it
INSTANCE_UID = 4242


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Path]:
    """The instances root for one test: the context runs here and its root is `tmp_path`."""
    (tmp_path / "vm1").mkdir()
    with in_process(console.console_ctx, roots={ROOT: tmp_path}):
        yield tmp_path


@requires_root
def test_console_output_is_appended_and_handed_to_the_instance(instances: Path) -> None:
    path = console.record_console_output(f"{ROOT}/vm1", b"boot\n", INSTANCE_UID)
    console.record_console_output(f"{ROOT}/vm1", b"login:", INSTANCE_UID)
    log = instances / "vm1" / console.CONSOLE_LOG_NAME
    assert path == f"{ROOT}/vm1/{console.CONSOLE_LOG_NAME}"
    assert log.read_bytes() == b"boot\nlogin:"
    info = log.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (INSTANCE_UID, 0o600)


@requires_root
def test_output_larger_than_one_chunk_arrives_whole(instances: Path) -> None:
    output = os.urandom(2 * console.MAX_CHUNK + 1)
    console.record_console_output(f"{ROOT}/vm1", output, INSTANCE_UID)
    assert (instances / "vm1" / console.CONSOLE_LOG_NAME).read_bytes() == output


@pytest.mark.parametrize("instance_dir", [f"{ROOT}/vm1/../../..", "/etc", f"{ROOT}/.."])
def test_a_directory_outside_the_instances_root_is_refused(
        instances: Path, instance_dir: str) -> None:
    with pytest.raises(leastpriv.ContractViolation):
        console.record_console_output(instance_dir, b"x", INSTANCE_UID)


def test_a_symlink_planted_in_the_instances_root_is_refused(
        instances: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (instances / "planted").symlink_to(outside)
    with pytest.raises(leastpriv.ContractViolation):
        console.record_console_output(f"{ROOT}/planted", b"x", INSTANCE_UID)
    assert list(outside.iterdir()) == []


def test_only_a_file_named_console_log_may_be_written(instances: Path) -> None:
    with pytest.raises(leastpriv.ContractViolation):
        console.append_console_log_privileged(f"{ROOT}/vm1/disk.img", b"x")
    assert list((instances / "vm1").iterdir()) == []


@pytest.mark.parametrize("uid", [0, 999, 65534])
def test_root_system_and_nobody_uids_are_refused(instances: Path, uid: int) -> None:
    with pytest.raises(leastpriv.ContractViolation):
        console.chown_console_log_privileged(f"{ROOT}/vm1/{console.CONSOLE_LOG_NAME}", uid)
