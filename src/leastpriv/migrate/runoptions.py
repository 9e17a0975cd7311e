"""How a caller asked ``execute()`` to run its command: the exit codes it accepts, its stdin.

A generated function takes over what these keywords do, so the rewritten call keeps behaving as
``processutils.execute`` did for it:

* ``check_exit_code``: the exit codes the function accepts, fixed from the caller's literal
  (``True`` and the default: 0; ``False``: any; ``4`` or ``[0, 4]``: those). Outside them it
  raises what ``execute`` raised (``ProcessExecutionError`` with the exit code, stdout and
  stderr), so the caller's ``except`` and ``exc.exit_code`` read as before;
* ``process_input``: a ``bytes`` parameter of the function, at most `STDIN_LIMIT` long, fed to
  the command's stdin; the caller passes its own expression encoded as ``execute`` encoded it
  (``encodeutils.to_utf8``);
* ``attempts=1`` and ``delay_on_retry``, which do nothing without a second attempt.

Anything else (retries, timeouts, logging options, a value computed at run time) is a reason the
call is not converted: what it does depends on which ``execute`` wrapper runs it (os-brick's
retries back off exponentially and its timeout sends SIGTERM; oslo.concurrency's sleep at random
and raise ``TimeoutExpired``), which the call site does not show.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

# What the callers feed on stdin is a key or a password (cryptsetup, pstorage); 4 KiB bounds it
# with room to spare, and a caller feeding more is refused by the contract, not cut short.
STDIN_LIMIT = 4096


@dataclass(frozen=True)
class RunOptions:
    """What a generated function does besides running its argv."""

    ok_codes: tuple[int, ...] | None = (0,)  # None: every exit code is accepted
    stdin: bool = False  # it takes ``process_input`` and feeds it to the command


# What a call with none of the keywords gets: exit code 0, nothing on stdin.
DEFAULT = RunOptions()


def read(keywords: Iterable[tuple[str, str]]) -> RunOptions | str:
    """The options a call's keywords ask for, or why they cannot be fixed in a function."""
    given = dict(keywords)
    if "**" in given:
        return "**kwargs may change how the command runs"
    ok_codes: tuple[int, ...] | None = (0,)
    if "check_exit_code" in given:
        codes = _exit_codes(given.pop("check_exit_code"))
        if isinstance(codes, str):
            return codes
        ok_codes = codes
    stdin = "process_input" in given and given.pop("process_input") != "None"
    attempts = _literal(given.pop("attempts", "1"))
    if attempts != 1:
        return ("attempts: how long it waits between tries depends on the execute() wrapper "
                "(oslo.concurrency or os-brick); keep the retry in the caller")
    if not isinstance(_literal(given.pop("delay_on_retry", "True")), bool):
        return "delay_on_retry is computed at run time"
    if given:
        names = ", ".join(sorted(given))
        return f"{names} changes how the command runs: the function cannot take it over"
    return RunOptions(ok_codes=ok_codes, stdin=stdin)


def _exit_codes(source: str) -> tuple[int, ...] | str | None:
    value = _literal(source)
    if value is None or value is True:
        return (0,)
    if value is False:
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(code, int) and not isinstance(code, bool) for code in value):
        return tuple(sorted(set(value)))
    return f"check_exit_code is computed at run time ({source}): a function's codes are fixed"


_UNKNOWN = object()


def _literal(source: str) -> object:
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return _UNKNOWN
