"""What a rootwrap filter really allows, and whether that already gives root away.

`assess` turns one `Filter` into short sentences, most severe first. A filter that allows only what
its author meant gets none. Which commands hand out root when they run as root with free arguments,
and why, is read from the command knowledge base (``gives_root`` in leastpriv/data/commands.toml),
shared with the audit.
"""

from __future__ import annotations

import posixpath

from leastpriv.data import programs
from leastpriv.migrate.model import Filter

__all__ = ["GIVES_ROOT", "INTERPRETERS", "assess", "gives_root"]

# command -> how running it as root with arguments of the caller's choice gives root away: the
# `gives_root` facts of the shared command knowledge base (leastpriv/data/commands.toml).
GIVES_ROOT: dict[str, str] = programs.load().gives_root()

# Signalling "every python process" is not signalling one service.
INTERPRETERS = ("python", "perl", "ruby", "php", "node", "java", "lua", "tclsh")

_PREFIXED = {"mkfs": "mkfs", **{name: name for name in INTERPRETERS}}


def gives_root(command: str) -> str | None:
    """Why `command` run as root with free arguments gives root away, or None."""
    command = posixpath.basename(command)
    if command in GIVES_ROOT:
        return GIVES_ROOT[command]
    for prefix in _PREFIXED:
        if command.startswith(prefix):
            return GIVES_ROOT.get(prefix, "it runs any code")
    return None


def _free(flt: Filter, what: str) -> tuple[str, ...]:
    """Notes for a filter that lets the caller choose `what` (e.g. "any arguments")."""
    if flt.run_as != "root":
        return (f"{flt.command} runs as {flt.run_as!r} with {what}.",)
    reason = gives_root(flt.command)
    if reason:
        return (f"{flt.command} runs as root with {what}, which gives root away: {reason}.",)
    return (f"{flt.command} runs as root with {what}.",)


def _command(flt: Filter) -> tuple[str, ...]:
    return _free(flt, "any arguments")


def _top_level_alternation(pattern: str) -> bool:
    depth, in_class, escaped = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def _regexp(flt: Filter) -> tuple[str, ...]:
    notes: list[str] = []
    for index, pattern in enumerate(flt.args):
        if _top_level_alternation(pattern):
            first = pattern.split("|")[0]
            notes.append(f"Pattern {pattern!r} is an unanchored alternation: only its last branch "
                         f"gets the '$', so {first!r} also accepts {first + 'xyz'!r}.")
        elif index and pattern.endswith((".*", ".+")):
            notes.append(f"Argument {index} ({pattern!r}) accepts any suffix, '../' included.")
    if notes and flt.run_as == "root" and gives_root(flt.command):
        notes.insert(0, _free(flt, "a free argument")[0])
    if flt.cls == "ChainingRegExpFilter":
        notes.append("It prefixes any other root filter, so their risks carry over.")
    notes.append("Every pattern also accepts its value followed by a newline ('$' matches "
                 "before a final '\\n').")
    return tuple(notes)


def _path(flt: Filter) -> tuple[str, ...]:
    notes: list[str] = []
    prefixes = [arg for arg in flt.args if posixpath.isabs(arg)]
    for prefix in prefixes:
        if prefix == "/":
            notes.append("Path prefix '/' accepts any path.")
        elif not prefix.endswith("/"):
            notes.append(f"Path prefix {prefix!r} is compared by characters: it also accepts "
                         f"'{prefix}2/x'.")
    if "pass" in flt.args:
        notes.append("Arguments given as 'pass' take any value.")
    if prefixes:
        notes.append("The path is resolved when checked and again when the command runs: a "
                     "symlink swapped in between escapes the prefix.")
    return tuple(notes)


def _kill(flt: Filter) -> tuple[str, ...]:
    notes: list[str] = []
    target = posixpath.basename(flt.args[0]) if flt.args else ""
    if target.startswith(INTERPRETERS):
        notes.append(f"Target {target!r} is an interpreter: it allows signalling every {target} "
                     "process on the host, not one service.")
    if len(flt.args) < 2:
        notes.append("No signals listed: only 'kill PID' (SIGTERM) is allowed, and the filter "
                     "does not say so.")
    return tuple(notes)


def _ip(flt: Filter) -> tuple[str, ...]:
    return ("Every ip verb except 'netns exec' runs as root: ip link, ip addr, ip route, "
            "ip netns add/delete/monitor, ip xfrm.",)


def _env(flt: Filter) -> tuple[str, ...]:
    names = ", ".join(arg for arg in flt.args if "=" in arg)
    return (*_free(flt, "any arguments"), f"The variables ({names}) take any value.")


def _netns_exec(flt: Filter) -> tuple[str, ...]:
    return ("Root in any network namespace for whatever the other root filters allow.",)


def _narrow(flt: Filter) -> tuple[str, ...]:
    return ()


_ASSESSORS = {
    "CommandFilter": _command,
    "RegExpFilter": _regexp,
    "ChainingRegExpFilter": _regexp,
    "PathFilter": _path,
    "KillFilter": _kill,
    "ReadFileFilter": _narrow,
    "IpFilter": _ip,
    "EnvFilter": _env,
    "IpNetnsExecFilter": _netns_exec,
    "ChainingFilter": _narrow,  # it never matches
}


def assess(filter: Filter) -> tuple[str, ...]:
    """Short sentences on what `filter` really allows; empty when it allows no more than meant."""
    return _ASSESSORS.get(filter.cls, _narrow)(filter)

