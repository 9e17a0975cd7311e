"""What the exec helper resets in its own process, and which files it trusts, while it is uid 0.

The helper starts as root with a working directory, environment and resource limits its caller
chose. Before it reads a configuration file, imports a context's module or connects anywhere,
`isolate_process` makes it not dumpable, moves it to ``/``, replaces the environment with a fixed
PATH and sets its own resource limits (a caller's RLIMIT_FSIZE of 4096 bytes once cut a root
write short, silently).

Under sudo the caller is the service user, whom the threat model does not trust. The helper then
trusts a file only when root alone can change it and every directory above it — OpenSSH's
StrictModes, applied to code: `check_code` for the interpreter, every directory on sys.path,
every module already loaded and leastpriv's whole package; `check_root_only` for the
configuration file; `check_socket_dir` for the directory of the socket it is sent to, which must
be the invoking user's alone.
"""

from __future__ import annotations

import os
import resource
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from leastpriv.errors import PolicyError
from leastpriv.privileged.privileges import set_not_dumpable

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

#: The only variable left in the helper's environment (sudo's usual secure_path).
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def isolate_process() -> None:
    """Not dumpable, cwd ``/``, environment PATH only, the helper's own resource limits."""
    set_not_dumpable()  # first: from here no process of the caller's uid may ptrace us
    os.chdir("/")
    os.environ.clear()  # unsetenv()s each variable, so commands the daemon runs see none either
    os.environ["PATH"] = SAFE_PATH
    reset_limits()


# The helper's own limits: none on what a root write or computation may take, no core file. A
# caller's RLIMIT_FSIZE of 4096 once cut a root daemon's write to 4096 bytes, silently. The other
# limits (open files, processes, locked memory) are inherited: exceeding one fails loudly.
_LIMITS = {
    "RLIMIT_FSIZE": resource.RLIM_INFINITY,
    "RLIMIT_CPU": resource.RLIM_INFINITY,
    "RLIMIT_DATA": resource.RLIM_INFINITY,
    "RLIMIT_AS": resource.RLIM_INFINITY,
    "RLIMIT_CORE": 0,
}


def reset_limits() -> None:
    """Set the helper's own resource limits (`_LIMITS`), soft and hard, whatever the caller's.

    Raising a hard limit the caller lowered needs CAP_SYS_RESOURCE: without it the helper refuses
    to start (`PolicyError`, naming the limit) rather than run root code that the limit cuts short.
    """
    for name, value in _LIMITS.items():
        which = getattr(resource, name)
        current = resource.getrlimit(which)
        if current != (value, value):
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError) as exc:
                raise PolicyError(f"cannot reset {name} from the caller's {current} to "
                                  f"{value}: {exc}") from None


def _alone(info: os.stat_result, *, sticky_ok: bool) -> bool:
    """Owned by root and writable by nobody else (a sticky directory, where allowed: nobody else
    can remove or rename root's entries in it, as in /tmp)."""
    if info.st_uid != 0:
        return False
    if not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return True
    return sticky_ok and stat.S_ISDIR(info.st_mode) and bool(info.st_mode & stat.S_ISVTX)


def path_and_parents(path: str) -> Iterator[str]:
    """`path` and each directory above it, up to ``/``."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def check_root_only(path: str, *, strict: int = 1) -> str:
    """`path`, resolved, if only root can change it and every directory above it; else
    `PolicyError` naming the first one that others can change.

    The first `strict` existing levels (the file itself; for code, its directory too) must be
    writable by root alone; the directories above them may also be sticky and root-owned. Both
    the path as written and the path it resolves to are checked: a symlink is judged by its own
    directory and by what it leads to. A path that does not exist yet is judged by its nearest
    existing directory, which must be root's alone (nobody else could create it).
    """
    resolved = os.path.realpath(path)
    for spelling in dict.fromkeys((os.path.abspath(path), resolved)):
        found = False
        for level, node in enumerate(path_and_parents(spelling)):
            try:
                info = os.lstat(node)
            # ENOTDIR: a level is a file, such as a module in a zip archive on sys.path (the
            # archive, further up, is then judged as the file).
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISLNK(info.st_mode):
                continue  # judged by the directory holding it (next) and by its target
            if not _alone(info, sticky_ok=found and level >= strict):
                raise PolicyError(
                    f"{path}: {node} is not root's alone (owner uid {info.st_uid}, mode "
                    f"{stat.S_IMODE(info.st_mode):04o}): refusing it under sudo")
            found = True
    return resolved


def check_code(package_dir: str) -> None:
    """Refuse (`PolicyError`) unless root alone can change the code this process runs or may yet
    import: the interpreter, its bytecode cache prefix if any, every sys.path directory, every
    module loaded so far and everything in leastpriv's package directory `package_dir`.

    It finds a writable layout before the helper imports the context's module and before it
    serves; code that an attacker already planted in what was loaded has run by then, so the
    check names the misconfiguration at the first start instead of leaving it in place.
    """
    check_root_only(sys.executable)
    if sys.pycache_prefix:  # bytecode read from there instead of beside each module
        check_root_only(sys.pycache_prefix)
    for entry in sys.path:
        if os.path.isabs(entry):
            check_root_only(entry)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.isabs(file):
            check_root_only(file, strict=2)  # the file and the directory that holds it
    for directory, _, files in os.walk(package_dir):
        check_root_only(directory)
        for name in files:
            check_root_only(os.path.join(directory, name))


def check_later_imports() -> None:
    """From here on, refuse (`PolicyError`) to import a module unless root alone can change its
    files, before its code runs: the context's module's own imports ran unchecked (a writable
    package beside it ran as root before the drop)."""
    if not any(isinstance(finder, _RootOnlyImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RootOnlyImports())


class _RootOnlyImports:
    """Finds a module with the finders after it, and refuses (`PolicyError`) one whose files
    (source, bytecode, package directories) anyone but root can change.

    A meta path finder is any object with `find_spec`; not an `importlib.abc.MetaPathFinder`,
    whose import (importlib.resources, tempfile, shutil, bz2, lzma, pathlib...) cost every exec'd
    daemon 1.7 MB of RSS and 8 ms of start.
    """

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(name, path, target)
            if spec is not None:
                for file in (spec.origin, spec.cached, *(spec.submodule_search_locations or ())):
                    if file and os.path.isabs(file):
                        check_root_only(file, strict=2)  # the file and the directory holding it
                return spec
        return None


def check_socket_dir(path: str, uid: int) -> None:
    """Refuse (`PolicyError`) unless the directory holding the socket `path` is a real directory
    of `uid`'s that nobody else can write: the caller's own private directory, never a place
    where another user (or root) keeps a socket."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        info = os.lstat(directory)
    except OSError:
        info = None
    # One answer whatever the reason, with nothing of the inode in it: the caller learns no more
    # about a place it may not look into (not even whether it exists) than it could see itself.
    if (info is None or not stat.S_ISDIR(info.st_mode) or info.st_uid != uid
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise PolicyError(f"--socket {path}: its directory is not a directory of the invoking "
                          "user's alone")
