"""Per-context configuration: constructor arguments, then a TOML file, then oslo.config.

Each context reads its own section, so a library that owns a context owns its configuration and
an operator tunes one context without touching another's. Layers, lowest to highest:

1. the context's constructor arguments (`defaults`);
2. the table named after the section in a TOML file: ``config_file``, else the path in
   ``$LEASTPRIV_CONFIG``, else none::

       [myservice_console]
       user = "myservice"
       capabilities = ["CAP_CHOWN"]          # may only remove declared capabilities
       helper_command = "sudo leastpriv-helper"
       umask = "027"

3. oslo.config, when the application already uses it: the same options, registered in the group
   named after the section, taking the values the operator set (`leastpriv.config_oslo`).

A security configuration fails closed: an unknown key, a value of the wrong type, a file that
cannot be read or parsed, and a capability the context did not declare are each a `PolicyError`.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from leastpriv import caps
from leastpriv.caps import Capability
from leastpriv.errors import PolicyError

__all__ = ["CONFIG_ENV", "ContextConfig", "resolve"]

#: The environment variable naming the TOML file, when no file is passed explicitly.
CONFIG_ENV = "LEASTPRIV_CONFIG"
#: The only directory a helper run through sudo reads ``--config`` from (root's, like sudoers.d).
SUDO_CONFIG_DIR = "/etc/leastpriv"
#: The import path a root caller hands the helper it runs directly (``python -I`` ignores
#: PYTHONPATH); ignored under sudo.
HELPER_PATH_ENV = "LEASTPRIV_HELPER_PATH"

# Pre-started daemons ("connect") and a call audit log come later: until they exist, their keys are
# unknown keys, refused like any typo, so no operator relies on a setting that does nothing.
METHODS = ("fork", "exec")
# The length prefix is four bytes; below 4 KiB not even a HELLO with its capability list fits.
MIN_FRAME_SIZE = 4096
MAX_FRAME_SIZE = 2**32 - 1


class ContextConfig(NamedTuple):
    """The settings of one context, after every layer was applied."""

    capabilities: frozenset[Capability]
    helper_command: tuple[str, ...] | None
    user: str | None
    group: str | None
    thread_pool_size: int | None
    logger_name: str | None
    timeout: float | None
    umask: int = 0o022
    max_frame_size: int = 16 * 1024 * 1024
    method: str | None = None  # "fork" | "exec"


class _BadValue(Exception):
    """A configured value is unusable; the caller names the source and key."""


# ----------------------------------------------------------------------------------------------
# Value parsers: one per key, shared by the TOML and oslo.config layers.


def _capabilities(value: Any, declared: frozenset[Capability]) -> frozenset[Capability]:
    if not isinstance(value, (list, tuple)):
        raise _BadValue(f"expected a list of capability names, got {type(value).__name__}")
    chosen = set()
    for item in value:
        try:
            chosen.add(caps.parse(item))
        except ValueError:
            raise _BadValue(f"{item!r} is not a Linux capability") from None
    widening = chosen - declared
    if widening:
        # Configuration narrows a context; only its code may say what it needs.
        raise _BadValue(f"may only remove declared capabilities; {', '.join(caps.names(widening))}"
                        f" {'is' if len(widening) == 1 else 'are'} not declared by the context "
                        f"(declared: {', '.join(caps.names(declared)) or 'none'})")
    return frozenset(chosen)


def _helper_command(value: Any, declared: frozenset[Capability]) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise _BadValue(f"cannot be split into words: {exc}") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
        raise _BadValue("expected a command line: a string or a list of strings")
    if not value or not value[0]:
        raise _BadValue("the command is empty")
    return tuple(value)


def _name(value: Any, declared: frozenset[Capability]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadValue(f"expected a non-empty string, got {value!r}")
    return value


def _int_between(low: int, high: int) -> Callable[[Any, frozenset[Capability]], int]:
    def parse_int(value: Any, declared: frozenset[Capability]) -> int:
        if type(value) is not int or not low <= value <= high:
            raise _BadValue(f"expected an integer from {low} to {high}, got {value!r}")
        return value

    return parse_int


def _timeout(value: Any, declared: frozenset[Capability]) -> float:
    if type(value) not in (int, float) or not (0 < value < math.inf):
        raise _BadValue(f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _umask(value: Any, declared: frozenset[Capability]) -> int:
    if isinstance(value, str):
        digits = value.strip().lower().removeprefix("0o")
        if not digits or any(c not in "01234567" for c in digits):
            raise _BadValue(f"expected an octal umask such as \"027\", got {value!r}")
        value = int(digits, 8)
    if type(value) is not int or not 0 <= value <= 0o777:
        raise _BadValue(f"expected a umask from 0 to 0o777, got {value!r}")
    return value


def _method(value: Any, declared: frozenset[Capability]) -> str:
    if value not in METHODS:
        raise _BadValue(f"expected one of {', '.join(METHODS)}, got {value!r}")
    return str(value)


_PARSERS: dict[str, Callable[[Any, frozenset[Capability]], Any]] = {
    "capabilities": _capabilities,
    "helper_command": _helper_command,
    "user": _name,
    "group": _name,
    "thread_pool_size": _int_between(1, 1024),
    "logger_name": _name,
    "timeout": _timeout,
    "umask": _umask,
    "max_frame_size": _int_between(MIN_FRAME_SIZE, MAX_FRAME_SIZE),
    "method": _method,
}


def _parse_values(raw: Mapping[str, Any], defaults: ContextConfig, source: str) -> dict[str, Any]:
    """Each of `raw`'s settings parsed; `PolicyError` naming `source` and the key otherwise."""
    parsed = {}
    for key, value in raw.items():
        parser = _PARSERS.get(key)
        if parser is None:
            # A misspelt key in a security configuration must not be silently ignored.
            raise PolicyError(f"{source}: unknown key {key!r} "
                              f"(known: {', '.join(sorted(_PARSERS))})")
        try:
            parsed[key] = parser(value, defaults.capabilities)
        except _BadValue as problem:
            raise PolicyError(f"{source}: key {key!r}: {problem}") from None
    return parsed


# ----------------------------------------------------------------------------------------------
# Layers


def resolve(section: str, defaults: ContextConfig, *,
            config_file: str | os.PathLike[str] | None = None) -> ContextConfig:
    """The configuration of the context whose section is `section`, every layer applied.

    `defaults` holds the constructor's arguments. Raises `PolicyError` when a layer holds
    something unusable or tries to add a capability the context did not declare.
    """
    values: dict[str, Any] = {}
    path = _config_path(config_file)
    if path is not None:
        table = _toml_section(path, section)
        values.update(_parse_values(table, defaults, f"{path} [{section}]"))
    if "oslo_config.cfg" in sys.modules:  # the application uses oslo.config (never imported here)
        # A module of its own: the helper and a daemon load it only when the context's module
        # imported oslo.config.
        from leastpriv import config_oslo

        values.update(config_oslo.oslo_config_values(section, defaults))
    return defaults._replace(**values)


def _config_path(config_file: str | os.PathLike[str] | None) -> str | None:
    if config_file is not None:
        return os.fspath(config_file)
    # An empty variable reads as unset, as shells make it easy to export one by accident.
    return os.environ.get(CONFIG_ENV) or None


def _toml_section(path: str, section: str) -> dict[str, Any]:
    """The table `section` of the TOML file at `path`; empty when the file has none."""
    # Imported here, not at the top: only a context with a configuration file pays for it.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib

    # A path the operator named but that cannot be read is an error, not "no configuration":
    # a context must not quietly start wider than the operator configured it.
    try:
        with open(path, "rb") as stream:
            document = tomllib.load(stream)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the leastpriv configuration: "
                          f"{exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: not a valid TOML file: {exc}") from None
    table = document.get(section, {})
    if not isinstance(table, dict):
        raise PolicyError(f"{path}: [{section}] must be a table of settings, "
                          f"got {type(table).__name__}")
    return table
