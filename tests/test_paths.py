"""The path resolution the daemon trusts: pinned roots, resolution beneath them, the check."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import requires_root
from contract_helpers import resolution  # noqa: F401 - a fixture, used by its name
from leastpriv import paths
from leastpriv.paths import CheckedPath, PathRefused, UnsafeRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "instances"
    (path / "vm1").mkdir(parents=True)
    (path / "vm1" / "console.log").write_text("log")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("secret")
    return path


@pytest.fixture
def root_fd(root: Path) -> Iterator[int]:
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def errno_of(dir_fd: int, relative: str, flags: int = os.O_PATH) -> int:
    with pytest.raises(OSError) as caught:
        os.close(paths.open_beneath(dir_fd, relative, flags, 0o600))
    return caught.value.errno


# ---------------------------------------------------------------------------------------------
# open_beneath


@pytest.mark.usefixtures("resolution")
def test_opens_what_lies_beneath_the_directory(root_fd: int) -> None:
    fd = paths.open_beneath(root_fd, "vm1/console.log", os.O_RDONLY)
    try:
        assert os.read(fd, 10) == b"log"
    finally:
        os.close(fd)


@pytest.mark.usefixtures("resolution")
def test_creates_a_file_with_the_mode_given(root: Path, root_fd: int) -> None:
    os.close(paths.open_beneath(root_fd, "vm1/new", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
    assert (root / "vm1" / "new").stat().st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.usefixtures("resolution")
def test_a_symlinked_directory_is_never_followed(root: Path, outside: Path,
                                                 root_fd: int) -> None:
    (root / "vm2").symlink_to(outside)
    (root / "vm3").symlink_to(root / "vm1")  # even one that stays inside
    assert errno_of(root_fd, "vm2/secret") == errno.ELOOP
    assert errno_of(root_fd, "vm3/console.log") == errno.ELOOP
    assert errno_of(root_fd, "vm2/new", os.O_WRONLY | os.O_CREAT) == errno.ELOOP


@pytest.mark.usefixtures("resolution")
def test_a_final_symlink_is_never_followed(root: Path, outside: Path,
                                           root_fd: int) -> None:
    (root / "vm1" / "disk").symlink_to(outside / "secret")
    (root / "vm1" / "dangling").symlink_to(outside / "created-by-root")
    for flags in (os.O_PATH, os.O_RDONLY, os.O_WRONLY | os.O_APPEND):
        assert errno_of(root_fd, "vm1/disk", flags) == errno.ELOOP
    assert errno_of(root_fd, "vm1/dangling", os.O_WRONLY | os.O_CREAT) == errno.ELOOP
    assert not (outside / "created-by-root").exists()


@pytest.mark.parametrize("relative", ["../outside/secret", "vm1/../../outside/secret",
                                      "/etc/passwd"])
@pytest.mark.usefixtures("resolution")
def test_nothing_resolves_above_the_directory(outside: Path, root_fd: int,
                                              relative: str) -> None:
    assert errno_of(root_fd, relative) == errno.EXDEV


# ---------------------------------------------------------------------------------------------
# Pinned roots


@pytest.fixture(autouse=True)
def forget_pins() -> Iterator[None]:
    """Each test pins its own temporary roots; nothing is left pinned afterwards."""
    yield
    for root in list(paths._pins):
        paths.rebind_root_for_tests(root, None)


def test_a_root_is_pinned_once_and_keeps_its_directory(root: Path, outside: Path) -> None:
    fd = paths.root_fd(str(root))
    assert fd is not None and paths.root_fd(str(root)) == fd
    # Renamed away and replaced by a symlink: the pinned descriptor still names the directory.
    root.rename(root.with_name("moved"))
    root.symlink_to(outside)
    assert os.path.samestat(os.fstat(fd), os.stat(root.with_name("moved")))
    # So a path through the symlink is resolved in the directory, where no "secret" exists.
    assert paths.resolve(f"{root}/secret", str(root), False).relative == "secret"
    assert errno_of(fd, "secret") == errno.ENOENT


@pytest.mark.parametrize("layout", ["root is a symlink", "parent is a symlink"])
@pytest.mark.usefixtures("resolution")
def test_a_root_reached_through_a_symlink_is_refused(root: Path,
                                                    tmp_path: Path, layout: str) -> None:
    if layout == "root is a symlink":
        declared = tmp_path / "alias"
        declared.symlink_to(root)
    else:
        (tmp_path / "via").symlink_to(tmp_path)
        declared = tmp_path / "via" / "instances"
    with pytest.raises(UnsafeRoot):
        paths.root_fd(str(declared))
    with pytest.raises(UnsafeRoot):
        paths.pin_at_start([str(declared)])


def test_a_root_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UnsafeRoot):
        paths.root_fd(str(tmp_path / "file"))


def test_a_missing_root_is_pinned_once_it_exists(tmp_path: Path, outside: Path) -> None:
    late = tmp_path / "late"
    assert paths.root_fd(str(late)) is None
    assert paths.resolve(f"{late}/a", str(late), False) == f"{late}/a"
    late.symlink_to(outside)  # made at last, but as a symlink
    with pytest.raises(UnsafeRoot):
        paths.resolve(f"{late}/secret", str(late), False)


def test_a_root_removed_and_made_again_is_pinned_again(tmp_path: Path, outside: Path) -> None:
    again = tmp_path / "again"
    again.mkdir()
    first = paths.root_fd(str(again))
    again.rmdir()
    again.mkdir()
    (again / "link").symlink_to(outside)
    with pytest.raises(PathRefused):
        paths.resolve(f"{again}/link/secret", str(again), False)
    assert paths.root_fd(str(again)) != first


def test_pin_at_start_forgets_inherited_pins_without_closing_them(root: Path,
                                                                   tmp_path: Path) -> None:
    # A forked daemon's inherited descriptors are closed already and their numbers reused: the
    # daemon must neither use nor close them.
    unrelated = os.open(tmp_path, os.O_PATH)
    try:
        paths._pins["/inherited"] = unrelated
        paths.pin_at_start([str(root)])
        assert "/inherited" not in paths._pins
        os.fstat(unrelated)  # still open
        assert paths._pins.keys() == {str(root)}
    finally:
        os.close(unrelated)


# ---------------------------------------------------------------------------------------------
# Rebinding for tests


def test_a_rebound_root_resolves_beneath_the_directory_given(root: Path, tmp_path: Path) -> None:
    declared = "/var/lib/leastpriv-test-declared"
    paths.rebind_root_for_tests(declared, str(root))
    checked = paths.resolve(f"{declared}/vm1/console.log", declared, False)
    fd = paths.open_beneath(paths.root_fd(declared) or -1, checked.relative, os.O_RDONLY)
    try:
        assert os.read(fd, 10) == b"log"
    finally:
        os.close(fd)
    paths.rebind_root_for_tests(declared, None)
    assert paths.root_fd(declared) is None


def test_a_daemon_start_forgets_every_rebinding(root: Path) -> None:
    declared = "/var/lib/leastpriv-test-declared"
    paths.rebind_root_for_tests(declared, str(root))
    paths.pin_at_start([declared])
    assert paths.root_fd(declared) is None  # the declared root, which does not exist


# ---------------------------------------------------------------------------------------------
# The check


@pytest.mark.usefixtures("resolution")
def test_resolve_locates_the_path_beneath_its_root(root: Path) -> None:
    checked = paths.resolve(f"{root}/vm1/console.log", str(root), False)
    assert type(checked) is CheckedPath
    assert checked == f"{root}/vm1/console.log"
    assert (checked.root, checked.relative, checked.allow_special) == (
        str(root), "vm1/console.log", False)


@pytest.mark.usefixtures("resolution")
def test_resolve_accepts_what_does_not_exist_yet(root: Path) -> None:
    for relative in ("vm1/new.log", "vm9/a/b", "vm1/console.log/below-a-file"):
        assert paths.resolve(f"{root}/{relative}", str(root), False).relative == relative


@pytest.mark.usefixtures("resolution")
def test_resolve_refuses_a_symlink_before_a_missing_name(root: Path,
                                                         outside: Path) -> None:
    (root / "vm2").symlink_to(outside)
    with pytest.raises(PathRefused):
        paths.resolve(f"{root}/vm2/missing/deeper", str(root), False)


@pytest.mark.usefixtures("resolution")
def test_resolve_refuses_special_files_unless_allowed(root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(PathRefused):
        paths.resolve(f"{root}/pipe", str(root), False)
    assert paths.resolve(f"{root}/pipe", str(root), True).allow_special


@pytest.mark.usefixtures("resolution")
def test_resolve_refuses_what_it_cannot_examine(root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    with pytest.raises(PathRefused):
        paths.resolve(f"{root}/loop/x", str(root), False)


@pytest.mark.usefixtures("resolution")
def test_resolve_refuses_a_name_the_file_system_cannot_hold(root: Path) -> None:
    # A lone surrogate that no file name encodes to: a refusal like any other, not an encoding
    # error escaping the check (the daemon would answer it as a failure of the function).
    with pytest.raises(PathRefused):
        paths.resolve(f"{root}/vm1/\ud800", str(root), False)


@pytest.mark.usefixtures("resolution")
def test_a_nul_in_the_name_is_refused_not_cut(root_fd: int) -> None:
    # openat2 is handed a C string: a NUL would end it early and open "vm1/console.log" for
    # "vm1/console.log\0.bak". os.open refuses such a name with ValueError; so does open_beneath.
    with pytest.raises(ValueError):
        paths.open_beneath(root_fd, "vm1/console.log\x00.bak", os.O_RDONLY)


@pytest.mark.usefixtures("resolution")
@pytest.mark.parametrize("path", ["/proc/self/root/etc/passwd", f"/proc/{os.getpid()}/root/etc",
                                  f"/proc/{os.getpid()}/fd/0"])
def test_a_magic_link_under_a_slash_root_is_refused(path: str) -> None:
    # PathUnder("/") is allowed; /proc's magic links must not lead a path anywhere from there.
    with pytest.raises(PathRefused):
        paths.resolve(path, "/", False)


# ---------------------------------------------------------------------------------------------
# Roots someone else could have renamed into place


@requires_root
def test_a_directory_of_another_user_inside_a_users_directory_is_refused(tmp_path: Path) -> None:
    # The service user (4242) owns the parent: it could rename any directory of that parent, one
    # of root's too, to the root's name. No symlink is needed for that.
    service = tmp_path / "service"
    (service / "instances").mkdir(parents=True)
    os.chown(service, 4242, 4242)
    with pytest.raises(UnsafeRoot):
        paths.root_fd(str(service / "instances"))
    os.chown(service / "instances", 4242, 4242)  # the usual layout: the service's own directory
    assert paths.root_fd(str(service / "instances")) is not None


@pytest.mark.parametrize(("mode", "safe"), [(0o775, False), (0o757, False), (0o1777, True)])
def test_a_parent_others_may_write_is_refused_unless_sticky(tmp_path: Path, mode: int,
                                                            safe: bool) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    (shared / "instances").mkdir()
    if safe:  # the sticky bit keeps each entry to its owner, as in /tmp
        assert paths.root_fd(str(shared / "instances")) is not None
    else:
        with pytest.raises(UnsafeRoot):
            paths.root_fd(str(shared / "instances"))
