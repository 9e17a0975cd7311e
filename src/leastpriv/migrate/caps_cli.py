"""`leastpriv caps COMMAND...`: what a command needs to run without root, from the catalog.

Exit status 0 when every command is in the catalog, 1 when one is not (it needs review: the
catalog never guesses).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from leastpriv.migrate.catalog import load_catalog
from leastpriv.migrate.model import CommandEntry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("commands", nargs="*", metavar="COMMAND",
                        help="program names or paths (/sbin/lvcreate, mkfs.ext4)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--list", action="store_true", help="list every command in the catalog")


def _as_json(entry: CommandEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["capabilities"] = list(entry.capabilities)
    data["aliases"] = list(entry.aliases)
    return data


def _as_text(entry: CommandEntry) -> str:
    lines = [
        f"{entry.command}" + (f" (also {', '.join(entry.aliases)})" if entry.aliases else ""),
        f"  capabilities: {', '.join(entry.capabilities) or 'none'}",
        f"  needs uid 0:  {'yes' if entry.needs_uid0 else 'no'}",
        f"  reason:       {entry.reason}",
        f"  confidence:   {entry.confidence}",
    ]
    if entry.replacement:
        lines.append(f"  replacement:  {entry.replacement}")
    if entry.notes:
        lines.append(f"  notes:        {entry.notes}")
    return "\n".join(lines)


def _list(as_json: bool) -> int:
    entries = sorted(load_catalog(), key=lambda entry: entry.command)
    if as_json:
        print(json.dumps([_as_json(entry) for entry in entries], indent=2))
        return 0
    width = max(len(entry.command) for entry in entries)
    for entry in entries:
        needs = ", ".join(entry.capabilities) or ("uid 0" if entry.needs_uid0 else "none")
        print(f"{entry.command:<{width}}  {entry.confidence:<6}  {needs}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.json)
    if not args.commands:
        print("leastpriv caps: name a COMMAND or use --list", file=sys.stderr)
        return 2
    catalog = load_catalog()
    found = {command: catalog.lookup(command) for command in args.commands}
    for command, entry in found.items():
        if entry is None:
            print(f"{command}: not in the catalog; needs review (capabilities are never guessed)",
                  file=sys.stderr)
    known = [entry for entry in found.values() if entry is not None]
    if args.json:
        print(json.dumps({command: _as_json(entry) if entry else None
                          for command, entry in found.items()}, indent=2))
    elif known:
        print("\n\n".join(_as_text(entry) for entry in known))
    return 0 if len(known) == len(found) else 1
