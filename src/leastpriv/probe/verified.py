"""Write a probe's result into the catalog data file, as each command's ``verified`` field.

The field is a TOML inline table beside the entry's claims, so a reviewer reads both together::

    verified = { capabilities = ["CAP_CHOWN"], needs_uid0 = false, agrees = true,
                 argv = "chown 1234:1234 d/f", kernel = "6.1.0" }

Only that one line of each probed entry changes; every other byte of the file stays as it was.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from leastpriv.probe.runner import ProbeResult

_TABLE = re.compile(r"^\[")  # any table header ends the one before it
_NAME = re.compile(r'^command\s*=\s*"([^"]+)"\s*$')


def verified_line(result: ProbeResult, scope: str = "") -> str:
    """The ``verified = {...}`` line for one result (JSON strings are valid TOML strings)."""
    fields = [
        f"capabilities = {json.dumps(list(result.capabilities))}",
        f"needs_uid0 = {'true' if result.needs_uid0 else 'false'}",
        f"agrees = {'true' if result.agrees else 'false'}",
        f"argv = {json.dumps(' '.join(result.argv))}",
        f"kernel = {json.dumps(os.uname().release)}",
    ]
    if scope:
        fields.append(f"scope = {json.dumps(scope)}")
    return "verified = { " + ", ".join(fields) + " }"


def write_verified(path: Path, lines: dict[str, str]) -> list[str]:
    """Set the ``verified`` line of each command in `lines`; return the commands not found."""
    text = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[str] = []
    current: str | None = None
    missing = set(lines)

    def close_table() -> None:
        # Insert before the blank lines that end the table.
        if current in lines:
            end = len(out)
            while end and not out[end - 1].strip():
                end -= 1
            out.insert(end, lines[current] + "\n")
            missing.discard(current)

    for line in text:
        if _TABLE.match(line) or line.startswith("# --"):
            close_table()
            current = None
        named = _NAME.match(line)
        if named:
            current = named.group(1)
        if current in lines and line.startswith("verified"):
            continue  # replaced by the new line
        out.append(line)
    close_table()
    Path(path).write_text("".join(out), encoding="utf-8")
    return sorted(missing)
