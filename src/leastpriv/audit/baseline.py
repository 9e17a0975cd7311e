"""Baselines: accept today's findings so that a run reports only the new ones.

A finding is keyed by rule, path, symbol and its message with line numbers taken out, never by its
own line: code moving up or down a file must not turn accepted findings into new ones. Keys carry
counts, so a second identical finding in the same function is still reported as new.

File format (JSON, sorted, one entry per key)::

    {"version": 1, "tool": "leastpriv",
     "findings": [{"rule": "LPS203", "path": "nova/privsep/path.py",
                   "symbol": "nova.privsep.path.writefile",
                   "message": "parameter 'path' reaches open at line N", "count": 1}]}
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from leastpriv.audit.model import Finding
from leastpriv.errors import Error

FORMAT_VERSION = 1

# "line 41", "lines 41-45", "path.py:41", "path.py:41:7": positions, which move with every edit.
_POSITIONS = re.compile(r"\b(lines?)\s+\d+(?:\s*[-\u2013]\s*\d+)?|(?<=\.py):\d+(?::\d+)?")


class BaselineError(Error, ValueError):
    """Raised when a baseline file cannot be read or is not a leastpriv baseline."""


class Key(NamedTuple):
    rule: str
    path: str
    symbol: str
    message: str


def normalise_message(message: str) -> str:
    """`message` with every line number replaced by ``N``."""
    return _POSITIONS.sub(lambda m: f"{m.group(1)} N" if m.group(1) else ":N", message)


def key(finding: Finding) -> Key:
    """What identifies `finding` across edits that only move code."""
    return Key(finding.rule, finding.path, finding.symbol, normalise_message(finding.message))


def dumps(findings: Iterable[Finding]) -> str:
    """The baseline file text accepting every one of `findings`."""
    counts = Counter(key(f) for f in findings)
    entries = [{**k._asdict(), "count": n} for k, n in sorted(counts.items())]
    document = {"version": FORMAT_VERSION, "tool": "leastpriv", "findings": entries}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(path: Path, findings: Iterable[Finding]) -> None:
    try:
        Path(path).write_text(dumps(findings), encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc


def _entry(raw: object) -> tuple[Key, int]:
    if not isinstance(raw, dict):
        raise BaselineError("baseline entries must be objects")
    try:
        entry_key = Key(*(str(raw[field]) for field in Key._fields))
        count = int(raw.get("count", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"malformed baseline entry {raw!r}") from exc
    return entry_key, count


def loads(text: str) -> Counter[Key]:
    """The accepted keys, with how many findings each accepts."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise BaselineError(f"not a leastpriv baseline of version {FORMAT_VERSION}")
    entries = document.get("findings")
    if not isinstance(entries, list):
        raise BaselineError("baseline has no findings list")
    accepted: Counter[Key] = Counter()
    for raw in entries:
        entry_key, count = _entry(raw)
        accepted[entry_key] += count
    return accepted


def load(path: Path) -> Counter[Key]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from exc
    try:
        return loads(text)
    except BaselineError as exc:
        raise BaselineError(f"baseline {path}: {exc}") from exc


def new_findings(findings: Iterable[Finding], accepted: Counter[Key]) -> tuple[list[Finding], int]:
    """The findings `accepted` does not cover, and how many it did cover.

    Findings are matched in position order, so when a key's count is exceeded the ones further down
    the file are the new ones.
    """
    remaining = Counter(accepted)
    fresh: list[Finding] = []
    for finding in sorted(findings):
        finding_key = key(finding)
        if remaining[finding_key] > 0:
            remaining[finding_key] -= 1
        else:
            fresh.append(finding)
    covered = sum(accepted.values()) - sum(remaining.values())
    return fresh, covered
