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
import sys
from typing import NoReturn

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
    sudo_uid = os.environ.get("SUDO_UID", "")
    return frozenset({int(sudo_uid)}) if sudo_uid.isdigit() else frozenset({0})


def main(argv: list[str] | None = None) -> NoReturn:
    args = _parse(argv)
    try:
        context = _load_context(args.context)
        registry, cfg = context.daemon_spec(args.config)  # type: ignore[attr-defined]
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
