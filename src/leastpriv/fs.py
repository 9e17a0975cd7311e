"""File operations beneath a `PathUnder` root, for the paths its check handed to the function.

A privileged function receives each ``PathUnder`` argument as a `CheckedPath` (a `str`, so it reads
and compares as the path it is), and does its work through this module::

    @files.entrypoint
    def append_log_privileged(path: Annotated[str, PathUnder(ROOT)], data: bytes) -> int:
        return fs.append(path, data)

Every operation resolves the path again beneath the root's pinned descriptor, following no symlink
and never leaving the root (`leastpriv.paths.open_beneath`), and acts on what it opened: a name
swapped for a symlink after the check makes it fail (``ELOOP``), never act outside the root. On
what it opens it refuses a FIFO, socket or device unless the contract allowed them
(``PathUnder(..., allow_special=True)``), and a regular file with more than one name (a hard link
can make a file outside the root look like one inside it).

Passing anything but a `CheckedPath` is a `TypeError`: these functions never resolve a name from
``/``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat as stat_module
from collections.abc import Callable
from typing import TypeVar

from leastpriv.paths import CheckedPath, open_beneath, root_fd

__all__ = ["CheckedPath", "append", "chmod", "chown", "mkdir", "open", "read", "rename", "stat",
           "unlink", "write"]

T = TypeVar("T")
_AT_EMPTY_PATH = 0x1000  # act on the descriptor itself (linux/fcntl.h)
_fchownat = ctypes.CDLL(None, use_errno=True).fchownat
_fchownat.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int)
_fchownat.restype = ctypes.c_int
# What `read` returns at most unless told otherwise: a reply larger than a frame cannot travel.
DEFAULT_MAX_READ = 16 * 1024 * 1024


# Named after os.open, whose twin it is; it shadows the builtin open in this module only.
def open(path: str, flags: int, mode: int = 0o600) -> int:
    """`os.open` beneath the root: a descriptor of the file `path` names, created with `mode` if
    `flags` say ``O_CREAT``. The caller closes it."""
    checked = _checked(path)
    # O_NONBLOCK: a FIFO planted where a file was expected must not block the open, so that it
    # can be refused; O_NOCTTY: a terminal never becomes the daemon's controlling one. O_TRUNC is
    # left out of the open and done once the file is accepted: the open would empty a file with
    # another name (outside the root) before its link count could refuse it.
    fd = open_beneath(_root(checked), checked.relative,
                      (flags & ~os.O_TRUNC) | os.O_NONBLOCK | os.O_NOCTTY, mode)
    try:
        special = _refuse_unsafe(fd, checked)
        if flags & os.O_TRUNC and not special:
            os.ftruncate(fd, 0)  # a directory refuses it (EINVAL), as the open would have
        if special and not flags & os.O_NONBLOCK:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read(path: str, *, max_size: int = DEFAULT_MAX_READ) -> bytes:
    """The whole content of the file at `path`; ``EFBIG`` if it holds more than `max_size`."""
    fd = open(path, os.O_RDONLY)
    chunks, total = [], 0
    try:
        while data := os.read(fd, max_size + 1 - total):
            chunks.append(data)
            total += len(data)
            if total > max_size:
                raise OSError(errno.EFBIG, f"more than {max_size} bytes", str(path))
    finally:
        os.close(fd)
    return b"".join(chunks)


def write(path: str, data: bytes, *, mode: int = 0o600) -> None:
    """Replace the content of the file at `path` with `data`, creating it with `mode`."""
    fd = open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def append(path: str, data: bytes, *, mode: int = 0o600) -> int:
    """Append `data` to the file at `path`, creating it with `mode`; its size afterwards."""
    fd = open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    try:
        _write_all(fd, data)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def chown(path: str, uid: int, gid: int = -1) -> None:
    """Give the file at `path` to `uid` and `gid` (-1 leaves one as it is)."""
    for value in (uid, gid):
        if type(value) is not int or not -1 <= value < 0xFFFFFFFF:
            raise ValueError(f"not a uid or gid: {value!r}")
    checked = _checked(path)
    fd = open_beneath(_root(checked), checked.relative, os.O_PATH)
    try:
        _refuse_unsafe(fd, checked)
        # fchownat(fd, "", AT_EMPTY_PATH): the very inode opened, with no name looked up again
        # (os.chown cannot pass an empty name). -1 is (uid_t)-1, "unchanged", as for chown(2).
        if _fchownat(fd, b"", uid & 0xFFFFFFFF, gid & 0xFFFFFFFF, _AT_EMPTY_PATH) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)


def chmod(path: str, mode: int) -> None:
    """Set the permission bits of the file at `path`."""
    checked = _checked(path)
    fd = open_beneath(_root(checked), checked.relative, os.O_PATH)
    try:
        _refuse_unsafe(fd, checked)
        # fchmodat has no AT_EMPTY_PATH before Linux 6.6; the descriptor's /proc entry leads to
        # the very inode opened, whatever the names beneath the root do meanwhile.
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def stat(path: str) -> os.stat_result:
    """The status of what `path` names (never of where a symlink leads: there is none on it)."""
    checked = _checked(path)
    fd = open_beneath(_root(checked), checked.relative, os.O_PATH)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def mkdir(path: str, mode: int = 0o700) -> None:
    """Make the directory `path` (its parent must exist)."""
    _at_parent(path, lambda parent, name: os.mkdir(name, mode, dir_fd=parent))


def unlink(path: str) -> None:
    """Remove the file (or symlink) `path` names; a directory is refused as `os.unlink` does."""
    _at_parent(path, lambda parent, name: os.unlink(name, dir_fd=parent))


def rename(source: str, destination: str) -> None:
    """Rename `source` to `destination`, each beneath its own root (replacing what is there)."""
    _at_parent(source, lambda source_parent, source_name: _at_parent(
        destination, lambda parent, name: os.rename(source_name, name, src_dir_fd=source_parent,
                                                    dst_dir_fd=parent)))


# ----------------------------------------------------------------------------------------------


def _checked(path: str) -> CheckedPath:
    if type(path) is not CheckedPath:
        raise TypeError(f"leastpriv.fs needs a path that PathUnder checked, not "
                        f"{type(path).__name__}")
    return path


def _root(checked: CheckedPath) -> int:
    fd = root_fd(checked.root)
    if fd is None:
        raise FileNotFoundError(errno.ENOENT, "the PathUnder root does not exist", checked.root)
    return fd


def _refuse_unsafe(fd: int, checked: CheckedPath) -> bool:
    """Refuse what `fd` opened if its contract does not allow it; True for a special file."""
    info = os.fstat(fd)
    if stat_module.S_ISREG(info.st_mode):
        if info.st_nlink > 1:
            raise PermissionError(errno.EPERM, "a file with more than one name is refused",
                                  str(checked))
        return False
    if stat_module.S_ISDIR(info.st_mode):
        return False
    if not checked.allow_special:
        raise PermissionError(errno.EPERM, "a special file (FIFO, socket or device) is refused",
                              str(checked))
    return True


def _at_parent(path: str, act: Callable[[int, str], T]) -> T:
    """Run `act` with the descriptor of the directory holding `path`, and its last name."""
    checked = _checked(path)
    head, _, name = checked.relative.rpartition("/")
    root = _root(checked)
    if not head:
        return act(root, name)
    parent = open_beneath(root, head, os.O_PATH | os.O_DIRECTORY)
    try:
        return act(parent, name)
    finally:
        os.close(parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
