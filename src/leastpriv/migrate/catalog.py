"""The command → capability catalog: what each command run as root really needs.

The data is ``leastpriv/data/commands.toml`` (data, not code, so reviewers can correct a fact
without reading Python). Each ``[[command]]`` table holds ``command``, ``aliases``,
``capabilities`` (``CAP_*`` names), ``needs_uid0``, ``reason``, ``confidence`` (high / medium /
low), and optionally ``replacement``, ``notes`` and ``verified`` (what `leastpriv probe --catalog`
measured, written by it). A command missing from the catalog is never
guessed: `Catalog.lookup` returns None and the plan lists it as needing review.
"""

from __future__ import annotations

import functools
import posixpath
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

from leastpriv import caps
from leastpriv.migrate.model import CommandEntry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["CONFIDENCES", "Catalog", "load_catalog", "parse_catalog"]

CONFIDENCES = ("high", "medium", "low")
_FIELDS = frozenset({"command", "aliases", "capabilities", "needs_uid0", "reason", "confidence",
                     "replacement", "notes", "verified"})


class Catalog:
    """Command entries, looked up by the basename of a program or one of its aliases."""

    def __init__(self, entries: list[CommandEntry]) -> None:
        self._entries = list(entries)
        self._by_name: dict[str, CommandEntry] = {}
        for entry in self._entries:
            for name in (entry.command, *entry.aliases):
                if name in self._by_name:
                    raise ValueError(f"catalog names {name!r} twice")
                self._by_name[name] = entry

    def lookup(self, command: str) -> CommandEntry | None:
        """The entry for `command` (``/sbin/lvcreate`` → lvcreate), or None when unknown."""
        return self._by_name.get(posixpath.basename(command.strip()))

    def __iter__(self) -> Iterator[CommandEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, command: object) -> bool:
        return isinstance(command, str) and self.lookup(command) is not None


def _entry(table: Mapping[str, Any]) -> CommandEntry:
    """One ``[[command]]`` table as an entry; ValueError names the command and what is wrong."""
    name = table.get("command")
    unknown = set(table) - _FIELDS
    if not isinstance(name, str) or not name or unknown:
        raise ValueError(f"catalog entry {name!r}: missing command or unknown fields {unknown}")
    capabilities = tuple(table.get("capabilities", ()))
    canonical = tuple(caps.parse(cap).name for cap in capabilities)  # ValueError for a bad name
    if canonical != capabilities:
        raise ValueError(f"catalog entry {name!r}: write capabilities as CAP_* names")
    if table.get("confidence") not in CONFIDENCES or not table.get("reason"):
        raise ValueError(f"catalog entry {name!r}: needs a reason and a confidence {CONFIDENCES}")
    return CommandEntry(
        command=name,
        capabilities=capabilities,
        reason=table["reason"],
        confidence=table["confidence"],
        needs_uid0=bool(table.get("needs_uid0", False)),
        replacement=table.get("replacement") or None,
        aliases=tuple(table.get("aliases", ())),
        notes=table.get("notes", ""),
        verified=dict(table.get("verified", {})),
    )


def parse_catalog(text: str) -> Catalog:
    """A catalog from TOML text; ValueError (or tomllib's) for anything malformed."""
    return Catalog([_entry(table) for table in tomllib.loads(text).get("command", [])])


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped with leastpriv (read once per process)."""
    text = resources.files("leastpriv").joinpath("data/commands.toml").read_text(encoding="utf-8")
    return parse_catalog(text)
