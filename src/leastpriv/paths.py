"""Paths beneath pinned roots: the path resolution the privileged daemon trusts.

A `PathUnder` root is opened once per process as a directory descriptor (``O_PATH``), walked from
``/`` without following any symlink: a root that is, or passes through, a symlink is refused, and
so is one that a user other than root could have renamed into place (`_refuse_renamed_in`).
The daemon pins every root of its entrypoints when it starts (`pin_at_start`), before it drops
privileges; a root that does not exist yet is pinned the same way when a check first needs it.

A path is then resolved *beneath* its pinned root, never by name from ``/``: with
``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`` on Linux 5.6 and later,
else one ``openat(O_NOFOLLOW)`` per component from the root's descriptor. Either way no symlink is
followed and nothing resolves above the root, at the check and again at every use (`leastpriv.fs`),
so a name swapped for a symlink between the two cannot redirect the use.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import threading

__all__ = ["CheckedPath", "PathRefused", "UnsafeRoot", "open_beneath", "pin_at_start",
           "rebind_root_for_tests", "resolve", "root_fd"]

# openat2(2)'s number where leastpriv was checked; elsewhere the walk below stands in for it.
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(os.uname().machine, 0)
_RESOLVE_NO_MAGICLINKS, _RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH = 0x02, 0x04, 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
_DIRECTORY = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class PathRefused(ValueError):
    """A path its contract refuses: a symlink on the way, a special file, an unreadable name."""


class UnsafeRoot(PathRefused):
    """A `PathUnder` root that is or passes through a symlink, or is not a directory."""


class CheckedPath(str):
    """A path `PathUnder` checked: the normalised absolute path, and where it lies beneath its
    root. `leastpriv.fs` resolves `relative` beneath the pinned `root` at every use."""

    __slots__ = ("allow_special", "relative", "root")

    root: str
    relative: str
    allow_special: bool

    def __new__(cls, path: str, root: str, relative: str, allow_special: bool) -> CheckedPath:
        self = super().__new__(cls, path)
        self.root, self.relative, self.allow_special = root, relative, allow_special
        return self


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_syscall = ctypes.CDLL(None, use_errno=True).syscall
_syscall.restype = ctypes.c_long
# Typed once, so that each call converts its arguments without making ctypes objects for them.
_syscall.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_OpenHow),
                     ctypes.c_size_t)
_HOW_SIZE = ctypes.sizeof(_OpenHow)
# Cleared once openat2 says ENOSYS (a kernel before 5.6): the walk below takes over for good.
_have_openat2 = _SYS_OPENAT2 != 0


def _openat2(dir_fd: int, relative: str, flags: int, mode: int) -> int:
    # openat2, unlike openat, refuses a mode unless the open may create a file.
    creates = flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE
    how = _OpenHow(flags | os.O_CLOEXEC, mode if creates else 0, _RESOLVE)
    name = os.fsencode(relative)
    if b"\0" in name:  # the C string would end there: refused as os.open refuses it
        raise ValueError("embedded null byte")
    fd: int = _syscall(_SYS_OPENAT2, dir_fd, name, how, _HOW_SIZE)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), relative)
    return fd


def _walk(dir_fd: int, relative: str, flags: int, mode: int) -> int:
    """openat2's resolution done one component at a time: never "..", never a symlink."""
    *directories, name = relative.split("/")
    if any(part in ("", ".", "..") for part in (*directories, name)):
        raise OSError(errno.EXDEV, "not a plain relative path", relative)
    current = dir_fd
    try:
        for part in directories:
            try:
                step = os.open(part, _DIRECTORY | os.O_NOFOLLOW, dir_fd=current)
            except NotADirectoryError:  # O_NOFOLLOW|O_DIRECTORY says ENOTDIR for a symlink too
                _refuse_symlink(part, current)
                raise
            if current != dir_fd:
                os.close(current)
            current = step
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=current)
        except NotADirectoryError:
            _refuse_symlink(name, current)
            raise
        if flags & os.O_PATH and stat.S_ISLNK(os.fstat(fd).st_mode):  # O_PATH opens the link
            os.close(fd)
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), relative)
        return fd
    finally:
        if current != dir_fd:
            os.close(current)


def _refuse_symlink(name: str, dir_fd: int) -> None:
    if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name)


def open_beneath(dir_fd: int, relative: str, flags: int, mode: int = 0) -> int:
    """Open `relative` beneath the directory `dir_fd`, following no symlink; `OSError` else
    (``ELOOP`` for a symlink on the way)."""
    global _have_openat2
    if _have_openat2:
        try:
            return _openat2(dir_fd, relative, flags, mode)
        except OSError as exc:
            if exc.errno != errno.ENOSYS:
                raise
            _have_openat2 = False
    return _walk(dir_fd, relative, flags, mode)


# ----------------------------------------------------------------------------------------------
# Pinned roots

# Root as declared -> its directory descriptor, for the life of the process.
_pins: dict[str, int] = {}
_pin_lock = threading.Lock()
# Descriptors of roots removed and pinned again: open for good (see `_repinned`).
_retired: list[int] = []
# Declared root -> the directory used instead, for in-process test runs only (see below).
_rebound: dict[str, str] = {}


def _pin(root: str) -> int | None:
    """Open `root` from ``/`` one directory at a time, following no symlink and refusing a step
    that someone other than root could have renamed into place; None while it does not exist."""
    actual = _rebound.get(root, root)
    current = os.open("/", _DIRECTORY)
    try:
        for name in filter(None, actual.split("/")):
            step = open_beneath(current, name, _DIRECTORY)
            try:
                _refuse_renamed_in(current, step, actual)
            except UnsafeRoot:
                os.close(step)
                raise
            os.close(current)
            current = step
    except FileNotFoundError:
        os.close(current)
        return None
    except OSError as exc:
        os.close(current)
        reason = "is or passes through a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise UnsafeRoot(f"PathUnder root {actual} {reason}: a root must be a directory "
                         "reached from / without any symlink") from None
    except BaseException:
        os.close(current)
        raise
    return current


def _refuse_renamed_in(parent_fd: int, child_fd: int, root: str) -> None:
    """Refuse a directory on the way to `root` that whoever may write its parent could have put
    there. Renaming within one directory needs no right on what is renamed: a service user who
    owns the root's parent (the usual layout) can rename any directory of that parent, one of
    root's too, to the root's name. So a directory owned by another user than root may hold only
    that user's directories on the way, and one that a group or everyone may write (without the
    sticky bit, which keeps each entry to its owner) none at all.
    """
    parent, child = os.fstat(parent_fd), os.fstat(child_fd)
    if parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not parent.st_mode & stat.S_ISVTX:
        raise UnsafeRoot(f"PathUnder root {root} passes through a directory that others than its "
                         "owner may write: any of them could rename a directory into the root's "
                         "path")
    if parent.st_uid not in (0, child.st_uid):
        raise UnsafeRoot(f"PathUnder root {root} passes through a directory of uid "
                         f"{child.st_uid} inside one of uid {parent.st_uid}, who could have "
                         "renamed it there: a root and the directories on its way belong to the "
                         "owner of the directory that holds them")


def root_fd(root: str) -> int | None:
    """The pinned descriptor of `root`, pinning it now if needed; None while it does not exist."""
    fd = _pins.get(root)
    if fd is not None:
        return fd
    with _pin_lock:
        fd = _pins.get(root)
        if fd is None:
            fd = _pin(root)
            if fd is not None:
                _pins[root] = fd
    return fd


def _repinned(root: str, fd: int) -> bool:
    """True when `root`, pinned as `fd`, was removed since and is pinned afresh now.

    The old descriptor is kept open, never closed: another thread may be resolving beneath it at
    this moment, and a closed number reused by an unrelated open would redirect that resolution.
    """
    if os.fstat(fd).st_nlink:
        return False
    with _pin_lock:
        if _pins.get(root) == fd:
            _retired.append(_pins.pop(root))
    return root_fd(root) is not None


def pin_at_start(roots: list[str]) -> None:
    """Pin `roots` afresh in a daemon that is starting; `UnsafeRoot` for one that is unsafe.

    The descriptors a forked daemon inherited in `_pins` were closed with every other inherited
    descriptor, and their numbers may be reused: forget them, never close them. Test rebinding is
    forgotten too: a daemon checks against the roots as declared. The lock is new as well: a
    thread that did not survive the fork may have held the inherited one.
    """
    global _pin_lock
    _pin_lock = threading.Lock()
    _pins.clear()
    _retired.clear()
    _rebound.clear()
    for root in roots:
        root_fd(root)


def rebind_root_for_tests(declared: str, actual: str | None) -> None:
    """Resolve paths under the `declared` root beneath `actual` instead, in this process only
    (None restores it). For in-process test runs (``set_client_mode(False)``) of code whose
    contracts name a production root: a daemon forgets every rebinding when it starts."""
    with _pin_lock:
        old = _pins.pop(declared, None)
        if old is not None:
            _retired.append(old)  # never closed: see `_repinned`
        if actual is None:
            _rebound.pop(declared, None)
        else:
            _rebound[declared] = os.path.normpath(actual)


# ----------------------------------------------------------------------------------------------
# The check


def resolve(path: str, root: str, allow_special: bool) -> CheckedPath:
    """Check `path` (normalised, lexically inside `root`) against the file system.

    Every existing component must be reachable beneath the pinned root without a symlink, and an
    existing path must be a regular file or a directory unless `allow_special`. A path whose rest
    does not exist yet is accepted (nothing there can be a symlink); its use resolves it again.
    """
    try:
        os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate outside surrogateescape's range
        raise PathRefused("holds a character that no file name can hold") from None
    relative = path[len(root):].lstrip("/")
    checked = CheckedPath(path, root, relative, allow_special)
    fd = root_fd(root)
    if fd is None:
        return checked
    try:
        opened = open_beneath(fd, relative, os.O_PATH)
    except (FileNotFoundError, NotADirectoryError):
        if _repinned(root, fd):
            return resolve(path, root, allow_special)
        return checked  # the resolution meets a symlink (ELOOP) before any missing name after it
    except OSError as exc:
        reason = "passes through a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise PathRefused(reason) from None
    try:
        mode = os.fstat(opened).st_mode
    finally:
        os.close(opened)
    if not allow_special and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise PathRefused("is a special file (FIFO, socket or device), which its contract "
                          "does not allow")
    return checked
