"""The `leastpriv` command: one sub-command per wing, each imported only when it is run.

Each sub-command module provides ``add_arguments(parser)`` and ``run(args) -> int`` (the exit
status). Importing lazily keeps ``leastpriv audit`` from loading the runtime and the reverse.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("leastpriv.demo", "run the example service: two small contexts, real daemons"),
    "audit": ("leastpriv.audit.cli", "find privsep and rootwrap anti-patterns in a code base"),
    "migrate": ("leastpriv.migrate.cli", "plan the move off oslo.rootwrap"),
    "caps": ("leastpriv.migrate.caps_cli", "show the capabilities a command needs"),
    "probe": ("leastpriv.probe.cli", "run a command in throwaway namespaces to find what it needs"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and, by name, the (still empty) parser of each sub-command."""
    parser = argparse.ArgumentParser(prog="leastpriv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub_parsers = {
        name: sub.add_parser(name, help=help_text, description=help_text)
        for name, (_, help_text) in SUBCOMMANDS.items()
    }
    return parser, sub_parsers


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub_parsers = build_parser()
    # Find the command name first, then let its module declare its own options.
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[command][0])
        module.add_arguments(sub_parsers[command])
        args = parser.parse_args(argv)
        try:
            return int(module.run(args))
        except BrokenPipeError:
            # `leastpriv caps --list | head`: the reader went away; that is not an error of ours.
            # Point stdout at /dev/null so the interpreter's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        # A crash exits 2, never 1: CI reads 1 from audit as "findings" and a crash must not
        # pass for them (nor, from migrate, for anything but a failure of the tool).
        except Exception:  # noqa: BLE001 - any crash, reported with its traceback
            if sys.stderr is not None:  # None when the command started with stderr closed
                traceback.print_exc()
                print(f"leastpriv {command}: internal error (a bug: please report it with the "
                      "traceback)", file=sys.stderr)
            return 2
    parser.parse_args(argv)  # prints usage and exits 2 for a missing or unknown command
    return 2
