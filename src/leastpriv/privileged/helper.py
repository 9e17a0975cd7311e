"""``leastpriv-helper --context pkg.module:attr --socket PATH [--config FILE]``.

Run as root (directly, or through sudo by an unprivileged service). It imports the module that
defines the context, named on its own command line (trusted: sudoers allows exactly this command),
connects to the caller's socket, drops to the context's capabilities and serves. Nothing a request
carries is ever imported.
"""

from __future__ import annotations

import grp
import importlib
import os
import pwd
import socket
import stat
import sys
from typing import NoReturn

from leastpriv.config import CONFIG_ENV, ContextConfig
from leastpriv.errors import PolicyError
from leastpriv.privileged import daemon

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


def _load_context(reference: str) -> object:
    from leastpriv.context import PrivContext

    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ValueError(f"--context must look like pkg.module:attr, not {reference!r}")
    context = getattr(importlib.import_module(module_name), attr, None)
    if not isinstance(context, PrivContext):
        raise TypeError(f"{reference} is not a leastpriv.PrivContext")
    return context


def _launching_uids() -> frozenset[int]:
    # sudo sets SUDO_UID to the user who ran it, and only that user may be at the other end;
    # without sudo, root ran the helper itself.
    return frozenset({int(os.environ["SUDO_UID"])}) if _under_sudo() else frozenset({0})


def _under_sudo() -> bool:
    return os.environ.get("SUDO_UID", "").isdigit()


def with_default_identity(cfg: ContextConfig) -> ContextConfig:
    """`cfg`, with the invoking user as the daemon's user when it names none and sudo ran us.

    The service that asked sudo for its daemon is the natural owner of what the daemon does; its
    uid is sudo's `SUDO_UID` (and its group `SUDO_GID`), which the caller cannot forge. Without
    sudo nothing is chosen here: a daemon that names no user is then refused rather than left uid
    0 (`leastpriv.privileged.privileges`).
    """
    if cfg.user is not None or not _under_sudo():
        return cfg
    try:
        user = pwd.getpwuid(int(os.environ["SUDO_UID"])).pw_name
        group = cfg.group or grp.getgrgid(int(os.environ["SUDO_GID"])).gr_name
    except (KeyError, ValueError) as exc:
        raise PolicyError(f"the invoking user or group has no name to run the daemon as: {exc}; "
                          "name one with the context's `user`") from None
    return cfg._replace(user=user, group=group)


def check_root_only(path: str) -> str:
    """`path`, resolved, if only root can have written it and all the directories above it.

    Under sudo the unprivileged caller names the configuration file root reads (``--config``,
    forwarded from its ``LEASTPRIV_CONFIG``). The file may only narrow capabilities, but it sets
    the daemon's user, group and umask, so root reads a file only its own: owned by uid 0 and not
    writable by group or others, in directories of which the same holds (a sticky root-owned
    directory such as /tmp is fine: nobody else can replace root's file in it), as sudo checks
    sudoers itself. Raises `PolicyError` otherwise.
    """
    resolved = os.path.realpath(path)
    node = resolved
    while True:
        info = os.stat(node)
        sticky_dir = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if info.st_uid != 0 or (info.st_mode & 0o022 and not sticky_dir):
            raise PolicyError(f"{path}: {node} is not root's alone (owner uid {info.st_uid}, "
                              f"mode {stat.S_IMODE(info.st_mode):04o}): refusing it under sudo")
        if node == "/":
            return resolved
        node = os.path.dirname(node)


def _config_file(named: str | None) -> str | None:
    path = named or os.environ.get(CONFIG_ENV) or None
    return check_root_only(path) if path and _under_sudo() else path


def main(argv: list[str] | None = None) -> NoReturn:
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        context = _load_context(args["--context"])
        config_file = _config_file(args.get("--config"))
        registry, cfg = context.daemon_spec(config_file)  # type: ignore[attr-defined]
        cfg = with_default_identity(cfg)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(args["--socket"])
    except Exception as exc:
        print(f"leastpriv-helper: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(daemon.EXIT_SETUP_FAILED)
    daemon.run_daemon(sock, name=context.name,  # type: ignore[attr-defined]
                      registry=registry, config=cfg, allowed_uids=_launching_uids(),
                      keep_stderr=True)


if __name__ == "__main__":
    main()
