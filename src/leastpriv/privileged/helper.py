"""``leastpriv-helper --context pkg.module:attr --socket PATH [--config FILE]``.

Run as root (directly, or through sudo by an unprivileged service). It imports the module that
defines the context, named on its own command line (trusted: sudoers allows exactly this command),
connects to the caller's socket, drops to the context's capabilities and serves. Nothing a request
carries is ever imported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import stat
import sys
from typing import NoReturn

from leastpriv.config import CONFIG_ENV
from leastpriv.errors import PolicyError
from leastpriv.privileged import daemon


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="leastpriv-helper",
                                     description="Serve one leastpriv context as its daemon.")
    parser.add_argument("--context", required=True, metavar="PKG.MODULE:ATTR")
    parser.add_argument("--socket", required=True, metavar="PATH")
    parser.add_argument("--config", metavar="FILE")
    return parser.parse_args(argv)


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
    args = _parse(argv)
    try:
        context = _load_context(args.context)
        config_file = _config_file(args.config)
        registry, cfg = context.daemon_spec(config_file)  # type: ignore[attr-defined]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(args.socket)
    except Exception as exc:
        print(f"leastpriv-helper: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(daemon.EXIT_SETUP_FAILED)
    daemon.run_daemon(sock, name=context.name,  # type: ignore[attr-defined]
                      registry=registry, config=cfg, allowed_uids=_launching_uids(),
                      keep_stderr=True)


if __name__ == "__main__":
    main()
