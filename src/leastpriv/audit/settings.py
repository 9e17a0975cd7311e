"""``[tool.leastpriv]`` in pyproject.toml: the audit's project-wide settings.

::

    [tool.leastpriv]
    select = ["LPS1", "LPS203"]        # rule ids or id prefixes; default: every rule
    ignore = ["LPS201"]
    max-capabilities = 2               # LPS101: more capabilities than this is broad
    extra-file-sinks = ["myproj.fs.write_as_root"]
    extra-command-sinks = ["myproj.utils.trycmd"]
    exclude = ["*/legacy/*"]           # globs on paths relative to the audited root
    fail-on = "medium"                 # low | medium | high

The closest pyproject.toml at or above the audited path that has a ``[tool.leastpriv]`` table is
used, as ruff finds its own table. Unknown keys and wrongly typed values are errors, not warnings:
a misspelt ``ignore`` silently auditing everything is worse than a refusal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leastpriv.audit.model import Severity
from leastpriv.errors import Error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class SettingsError(Error, ValueError):
    """Raised when a settings file cannot be read or its ``[tool.leastpriv]`` table is invalid."""


@dataclass(frozen=True)
class Settings:
    """What ``[tool.leastpriv]`` says; ``None`` means "not set here, use the default"."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    max_capabilities: int | None = None
    extra_file_sinks: tuple[str, ...] = ()
    extra_command_sinks: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    fail_on: Severity | None = None
    source: Path | None = None  # the file these came from


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"[tool.leastpriv] {key} must be a list of strings")
    return tuple(value)


def _positive_int(key: str, value: Any) -> int:
    # bool is an int subclass; `max-capabilities = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"[tool.leastpriv] {key} must be a positive integer")
    return value


def parse_severity(value: Any) -> Severity:
    """``"low"`` / ``"medium"`` / ``"high"`` (any case) as a `Severity`."""
    if isinstance(value, str) and value.upper() in Severity.__members__:
        return Severity[value.upper()]
    choices = ", ".join(str(s) for s in Severity)
    raise SettingsError(f"[tool.leastpriv] fail-on must be one of {choices}, not {value!r}")


# key in the file -> (field of Settings, converter)
_KEYS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "select": ("select", _string_list),
    "ignore": ("ignore", _string_list),
    "max-capabilities": ("max_capabilities", _positive_int),
    "extra-file-sinks": ("extra_file_sinks", _string_list),
    "extra-command-sinks": ("extra_command_sinks", _string_list),
    "exclude": ("exclude", _string_list),
    "fail-on": ("fail_on", lambda _key, value: parse_severity(value)),
}


def from_table(table: Mapping[str, Any], *, source: Path | None = None) -> Settings:
    """Settings from an already parsed ``[tool.leastpriv]`` table."""
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise SettingsError(
            f"unknown key(s) in [tool.leastpriv]: {', '.join(unknown)} (known: {known})"
        )
    values = {_KEYS[key][0]: _KEYS[key][1](key, value) for key, value in table.items()}
    return Settings(**values, source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc


def _table(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tool = document.get("tool")
    table = tool.get("leastpriv") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise SettingsError("[tool.leastpriv] must be a table")
    return table


def load(path: Path) -> Settings:
    """Settings from the pyproject.toml at `path`; defaults when it has no ``[tool.leastpriv]``."""
    table = _table(_read_toml(path))
    return from_table(table or {}, source=path)


def discover(start: Path) -> Settings:
    """Settings from the closest pyproject.toml at or above `start` with a ``[tool.leastpriv]``."""
    here = Path(start).resolve()
    for directory in (here, *here.parents) if here.is_dir() else here.parents:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = _table(_read_toml(candidate))
            if table is not None:
                return from_table(table, source=candidate)
    return Settings()
