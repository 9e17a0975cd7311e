"""``leastpriv-helper --context pkg.module:attr --socket PATH [--config FILE]``.

Run as root (directly, or through sudo by an unprivileged service). In this order, each step
before anything that depends on it:

1. isolate itself (`leastpriv.privileged.isolation`): not dumpable, cwd ``/``, a fixed PATH as
   its whole environment, pid 1's resource limits;
2. under sudo, refuse code, a configuration file or a socket directory that the invoking user (or
   anyone but root) could have written; without sudo, add the root caller's own import path;
3. import the module that defines the context, named on its own command line (trusted: sudoers
   allows exactly this command), and read the configuration;
4. connect to the caller's socket and, under sudo, check that the listener is the invoking user
   before a single byte is written to it;
5. drop to the context's capabilities, as the invoking user under sudo unless a user is named,
   and serve. Nothing a request carries is ever imported.
"""

from __future__ import annotations

import grp
import importlib
import importlib.util
import os
import pwd
import socket
import stat
import sys
from typing import NoReturn

import leastpriv
from leastpriv import wire
from leastpriv.config import CONFIG_ENV, HELPER_PATH_ENV, SUDO_CONFIG_DIR, ContextConfig
from leastpriv.context import Entrypoint, PrivContext
from leastpriv.errors import PolicyError
from leastpriv.privileged import daemon, isolation

USAGE = ("usage: leastpriv-helper --context PKG.MODULE:ATTR --socket PATH [--config FILE]\n"
         "Serve one leastpriv context as its daemon.")
_OPTIONS = ("--context", "--socket", "--config")
_REQUIRED = ("--context", "--socket")


def _parse(argv: list[str]) -> dict[str, str]:
    """``{option: value}`` of `argv`; anything else prints the usage and exits 2, as argparse does.

    Parsed by hand: argparse (and gettext with it) costs every exec'd daemon 0.3 MB and 4 ms.
    Strict: every option at most once, each with its value (``--opt value`` or ``--opt=value``).
    """
    if "-h" in argv or "--help" in argv:
        print(USAGE)
        sys.exit(0)
    options: dict[str, str] = {}
    words = iter(argv)
    for word in words:
        name, given, value = word.partition("=")
        if name not in _OPTIONS or name in options:
            _usage_error(f"unknown or repeated argument {word!r}")
        if not given:
            value = next(words, "")
            if not value or value.startswith("--"):
                _usage_error(f"{name} needs a value")
        options[name] = value
    missing = [name for name in _REQUIRED if name not in options]
    if missing:
        _usage_error(f"required: {', '.join(missing)}")
    return options


def _usage_error(problem: str) -> NoReturn:
    print(f"{USAGE}\nleastpriv-helper: error: {problem}", file=sys.stderr)
    sys.exit(2)


class Invoker:
    """Who started the helper: sudo's SUDO_UID/SUDO_GID (set by sudo, not by its caller), or
    root itself when they are absent. Read once, before the environment is cleared."""

    def __init__(self, environ: dict[str, str]) -> None:
        uid, gid = environ.get("SUDO_UID", ""), environ.get("SUDO_GID", "")
        self.sudo = uid.isdigit()
        self.uid = int(uid) if self.sudo else 0
        # None, not 0, when missing: the daemon then takes its user's own group, never root's.
        self.gid = int(gid) if self.sudo and gid.isdigit() else None


def _load_context(reference: str, *, checked: bool) -> PrivContext:
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ValueError(f"--context must look like pkg.module:attr, not {reference!r}")
    # One package level at a time, so that each is checked before its code runs.
    parts = module_name.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if checked and name not in sys.modules:
            _check_module_files(name)
        module = importlib.import_module(name)
    context = getattr(module, attr, None)
    if not isinstance(context, PrivContext):
        raise TypeError(f"{reference} is not a leastpriv.PrivContext")
    return context


def _check_module_files(name: str) -> None:
    """The files a module's import reads (source, cached bytecode, package directories) must be
    root's alone."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"no module named {name!r}")
    paths = [spec.origin, spec.cached, *(spec.submodule_search_locations or [])]
    for path in paths:
        if path and os.path.isabs(path):
            isolation.check_root_only(path, strict=2)


def with_default_identity(cfg: ContextConfig, invoker: Invoker) -> ContextConfig:
    """`cfg`, with the invoking user as the daemon's user when it names none and sudo ran us.

    The service that asked sudo for its daemon is the natural owner of what the daemon does; its
    uid is sudo's `SUDO_UID` (and its group `SUDO_GID`), which the caller cannot forge. Without
    sudo nothing is chosen here: a daemon that names no user is then refused rather than left uid
    0 (`leastpriv.privileged.privileges`).
    """
    if cfg.user is not None or not invoker.sudo:
        return cfg
    try:
        user = pwd.getpwuid(invoker.uid).pw_name
        group = cfg.group or (None if invoker.gid is None else grp.getgrgid(invoker.gid).gr_name)
    except KeyError as exc:
        raise PolicyError(f"the invoking user or group has no name to run the daemon as: {exc}; "
                          "name one with the context's `user`") from None
    return cfg._replace(user=user, group=group)


def check_config_location(path: str, config_dir: str = SUDO_CONFIG_DIR) -> str:
    """`path`, resolved, if it lies in `config_dir` and root alone can change it; else
    `PolicyError`, decided from the path and the inodes' owners and modes, before any byte of the
    file is read."""
    resolved = os.path.realpath(path)
    if os.path.commonpath([resolved, config_dir]) != config_dir:
        raise PolicyError(f"--config {path}: under sudo the configuration is read only from "
                          f"{config_dir}")
    return isolation.check_root_only(path)


def _readable_by_anyone(path: str) -> bool:
    """Whether every user may read `path` (others' read bit, and search on each directory)."""
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    return all(os.stat(node).st_mode & stat.S_IXOTH
               for node in isolation.path_and_parents(os.path.dirname(path)))


def _daemon_spec(context: PrivContext, config_file: str | None,
                 invoker: Invoker) -> tuple[dict[str, Entrypoint], ContextConfig]:
    try:
        return context.daemon_spec(config_file)
    except PolicyError:
        # A parse error quotes the file (its line and column, its values): under sudo, only for a
        # file the invoking user may read anyway.
        if invoker.sudo and config_file and not _readable_by_anyone(config_file):
            raise PolicyError(f"{config_file}: not a usable leastpriv configuration (details "
                              "withheld: the invoking user may not read this file)") from None
        raise


def _connect(path: str, invoker: Invoker) -> socket.socket:
    """The caller's socket, connected; under sudo only a socket in the invoking user's own
    directory whose listener is the invoking user (SO_PEERCRED), checked before any write."""
    if invoker.sudo:
        isolation.check_socket_dir(path, invoker.uid)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if invoker.sudo:
            _connect_unfollowed(sock, path)
        else:
            sock.connect(path)
        _, uid, _ = wire.peer_credentials(sock)
        if invoker.sudo and uid != invoker.uid:
            raise PolicyError(f"--socket {path}: its listener is uid {uid}, not the invoking "
                              f"user {invoker.uid}")
    except BaseException:
        sock.close()  # nothing was written to it
        raise
    return sock


def _connect_unfollowed(sock: socket.socket, path: str) -> None:
    """Connect `sock` to the socket at `path` itself, never through a symlink there.

    The caller owns the directory, so it can put a link to a socket only root may reach where
    its socket was; connect() as root alone has effects (a socket-activated service starts, a
    server sees uid 0) before SO_PEERCRED is read. The last component is opened O_PATH |
    O_NOFOLLOW, and the connection made through that very inode (/proc/self/fd), so a link
    swapped in after any check is never followed.
    """
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise PolicyError(f"--socket {path}: not a socket")
        sock.connect(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _import_path(invoker: Invoker, environ: dict[str, str]) -> None:
    """Without sudo, the root caller's own absolute import path (``-I`` ignored PYTHONPATH)."""
    if invoker.sudo:
        return
    for entry in environ.get(HELPER_PATH_ENV, "").split(os.pathsep):
        if os.path.isabs(entry) and entry not in sys.path:
            sys.path.append(entry)


def main(argv: list[str] | None = None) -> NoReturn:
    environ = dict(os.environ)
    invoker = Invoker(environ)
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        isolation.isolate_process()
        if invoker.sudo:
            isolation.check_code(os.path.dirname(leastpriv.__file__))
            isolation.check_later_imports()
        _import_path(invoker, environ)
        context = _load_context(args["--context"], checked=invoker.sudo)
        config_file = args.get("--config") or environ.get(CONFIG_ENV) or None
        if config_file and invoker.sudo:
            config_file = check_config_location(config_file)
        registry, cfg = _daemon_spec(context, config_file, invoker)
        cfg = with_default_identity(cfg, invoker)
        sock = _connect(args["--socket"], invoker)
    except Exception as exc:  # noqa: BLE001 - printed, then the helper exits
        print(f"leastpriv-helper: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(daemon.EXIT_SETUP_FAILED)
    daemon.run_daemon(sock, name=context.name, registry=registry,
                      config=cfg, allowed_uids=frozenset({invoker.uid}), keep_stderr=True)


if __name__ == "__main__":
    main()
