"""leastpriv.fs: each operation beneath the root, refusing what was swapped in after the check."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pytest

import leastpriv
from conftest import requires_root
from contract_helpers import resolution  # noqa: F401 - a fixture, used by name
from leastpriv import caps, fs, paths
from leastpriv.contract import PathUnder
from leastpriv.paths import CheckedPath

# Every operation and every attack below, with openat2 and with the walk that stands in for it on
# kernels before 5.6.
pytestmark = pytest.mark.usefixtures("resolution")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "instances"
    (path / "vm1").mkdir(parents=True)
    (path / "vm1" / "console.log").write_bytes(b"log\n")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_bytes(b"secret\n")
    return path


def checked(root: Path, relative: str, *, allow_special: bool = False) -> CheckedPath:
    """What PathUnder(root) hands the function for root/relative."""
    return paths.resolve(f"{root}/{relative}", str(root), allow_special)


def test_append_creates_the_file_with_its_mode_and_returns_the_size(root: Path) -> None:
    path = checked(root, "vm1/new.log")
    assert fs.append(path, b"abc", mode=0o600) == 3
    assert fs.append(path, b"de") == 5
    assert (root / "vm1" / "new.log").read_bytes() == b"abcde"
    assert stat.S_IMODE((root / "vm1" / "new.log").stat().st_mode) == 0o600


def test_write_replaces_and_read_returns_the_content(root: Path) -> None:
    path = checked(root, "vm1/console.log")
    fs.write(path, b"new content")
    assert fs.read(path) == b"new content"


def test_read_refuses_more_than_its_bound(root: Path) -> None:
    with pytest.raises(OSError) as caught:
        fs.read(checked(root, "vm1/console.log"), max_size=2)
    assert caught.value.errno == errno.EFBIG


def test_chown_and_chmod_change_the_file_itself(root: Path) -> None:
    path = checked(root, "vm1/console.log")
    fs.chown(path, 4242, 4343)
    fs.chmod(path, 0o640)
    info = (root / "vm1" / "console.log").stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o640)


def test_mkdir_rename_stat_and_unlink(root: Path) -> None:
    fs.mkdir(checked(root, "vm2"), 0o750)
    assert stat.S_ISDIR(fs.stat(checked(root, "vm2")).st_mode)
    fs.rename(checked(root, "vm1/console.log"), checked(root, "vm2/console.log"))
    assert (root / "vm2" / "console.log").read_bytes() == b"log\n"
    fs.unlink(checked(root, "vm2/console.log"))
    assert not (root / "vm2" / "console.log").exists()
    fs.mkdir(checked(root, "top"))  # directly under the root
    assert (root / "top").is_dir()


def test_a_plain_str_is_refused(root: Path) -> None:
    with pytest.raises(TypeError):
        fs.append(str(root / "vm1" / "console.log"), b"x")  # type: ignore[arg-type]


def test_a_missing_root_is_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fs.append(checked(tmp_path / "missing", "a"), b"x")


SWAPS: dict[str, Callable[[CheckedPath], object]] = {
    "append": lambda path: fs.append(path, b"pwned"),
    "write": lambda path: fs.write(path, b"pwned"),
    "read": fs.read,
    "chown": lambda path: fs.chown(path, 4242),
    "chmod": lambda path: fs.chmod(path, 0o777),
    "stat": fs.stat,
    "mkdir": fs.mkdir,
    "unlink": fs.unlink,
}


@pytest.mark.parametrize("operation", sorted(SWAPS))
def test_a_directory_swapped_for_a_symlink_after_the_check_is_not_followed(
        root: Path, outside: Path, operation: str) -> None:
    target = outside / "console.log"
    target.write_bytes(b"secret\n")
    before = target.stat()
    path = checked(root, "vm1/console.log")
    (root / "vm1").rename(root / "vm1.away")
    (root / "vm1").symlink_to(outside)
    with pytest.raises(OSError) as caught:
        SWAPS[operation](path)
    assert caught.value.errno == errno.ELOOP
    after = target.stat()
    assert target.read_bytes() == b"secret\n"
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid, before.st_gid, before.st_mode)


def test_a_final_symlink_planted_after_the_check_is_not_followed(root: Path,
                                                                 outside: Path) -> None:
    path = checked(root, "vm1/new.log")
    (root / "vm1" / "new.log").symlink_to(outside / "created")
    with pytest.raises(OSError) as caught:
        fs.append(path, b"x")
    assert caught.value.errno == errno.ELOOP
    assert not (outside / "created").exists()


def test_a_rename_onto_a_swapped_directory_is_not_followed(root: Path, outside: Path) -> None:
    destination = checked(root, "vm1/moved")
    (root / "vm1").rename(root / "vm1.away")
    (root / "vm1").symlink_to(outside)
    with pytest.raises(OSError):
        fs.rename(checked(root, "vm1.away/console.log"), destination)
    assert not (outside / "moved").exists()


def test_a_fifo_swapped_in_is_refused_without_blocking(root: Path) -> None:
    path = checked(root, "vm1/pipe")  # checked while nothing was there
    os.mkfifo(root / "vm1" / "pipe")
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(fs.read(path))
        except OSError as exc:
            outcome.append(exc.errno)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    assert outcome == [errno.EPERM]


def test_a_fifo_is_opened_as_asked_when_the_contract_allows_it(root: Path) -> None:
    os.mkfifo(root / "vm1" / "pipe")
    fd = fs.open(checked(root, "vm1/pipe", allow_special=True), os.O_RDWR)
    try:
        assert stat.S_ISFIFO(os.fstat(fd).st_mode)
        assert os.get_blocking(fd)  # the O_NONBLOCK of the open is not left behind
    finally:
        os.close(fd)


def test_a_file_with_another_name_is_refused(root: Path, outside: Path) -> None:
    # A hard link makes a file outside the root look like one inside it.
    os.link(outside / "secret", root / "vm1" / "linked")
    for operation in (fs.read, lambda path: fs.append(path, b"x"),
                      lambda path: fs.chown(path, 4242)):
        with pytest.raises(PermissionError):
            operation(checked(root, "vm1/linked"))
    assert (outside / "secret").read_bytes() == b"secret\n"


def test_an_in_process_run_writes_beneath_a_rebound_root(tmp_path: Path) -> None:
    # What leastpriv.testing builds on: the contract keeps its production root, the test points it
    # at tmp_path in this process, and the entrypoint runs here (client mode off).
    declared = "/var/lib/leastpriv-test-rebound/instances"
    context = leastpriv.PrivContext("test.fs.rebound", capabilities=[caps.CAP_CHOWN])

    def append_privileged(path, data):  # type: ignore[no-untyped-def]
        return fs.append(path, data)

    append_privileged.__annotations__ = {"path": Annotated[str, PathUnder(declared)],
                                         "data": bytes}
    call = context.entrypoint(append_privileged)
    context.set_client_mode(False)
    paths.rebind_root_for_tests(declared, str(tmp_path))
    try:
        assert call(f"{declared}/console.log", b"abc") == 3
    finally:
        paths.rebind_root_for_tests(declared, None)
    assert (tmp_path / "console.log").read_bytes() == b"abc"
    with pytest.raises(FileNotFoundError):  # the declared root, which does not exist
        call(f"{declared}/console.log", b"abc")


@pytest.mark.parametrize("truncate", [
    lambda path: fs.write(path, b"x"),
    lambda path: os.close(fs.open(path, os.O_WRONLY | os.O_TRUNC)),
], ids=["write", "open-O_TRUNC"])
def test_a_file_with_another_name_is_refused_before_it_is_truncated(
        root: Path, outside: Path, truncate: Callable[[CheckedPath], object]) -> None:
    # The refusal must come before any change: an open with O_TRUNC empties the file at the open,
    # before its link count can be seen.
    os.link(outside / "secret", root / "vm1" / "linked")
    with pytest.raises(PermissionError):
        truncate(checked(root, "vm1/linked"))
    assert (outside / "secret").read_bytes() == b"secret\n"


def test_a_truncating_open_still_truncates_a_file_with_one_name(root: Path) -> None:
    fd = fs.open(checked(root, "vm1/console.log"), os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert (root / "vm1" / "console.log").read_bytes() == b""


@requires_root
def test_chown_and_chmod_work_as_a_daemon_runs_them(root: Path) -> None:
    # A daemon is not uid 0 and not dumpable, which makes /proc/<pid>/fd root's: chmod goes
    # through /proc/self/fd, so it must still reach the descriptor from there, holding only the
    # declared capabilities (CAP_FOWNER to chmod a file that is not its own).
    from leastpriv.privileged.privileges import drop_privileges

    target = root / "vm1" / "console.log"
    os.chmod(target, 0o600)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status only
        try:
            paths.pin_at_start([str(root)])
            drop_privileges([caps.CAP_FOWNER, caps.CAP_CHOWN], user="nobody")
            path = checked(root, "vm1/console.log")
            fs.chmod(path, 0o640)
            fs.chown(path, 4242, 4343)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o640)


def test_unlink_of_a_directory_swapped_for_a_symlink_removes_the_symlink_only(
        root: Path, outside: Path) -> None:
    path = checked(root, "vm1")
    (root / "vm1").rename(root / "vm1.away")
    (root / "vm1").symlink_to(outside)
    fs.unlink(path)
    assert not (root / "vm1").exists() and not (root / "vm1").is_symlink()
    assert (outside / "secret").read_bytes() == b"secret\n"
