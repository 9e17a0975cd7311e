"""Find the smallest capability set a command really needs, by running it (`sandbox` trials).

The search, each step one sandbox trial (a fresh set of namespaces every time):

1. the catalog's set as ``nobody``; if that fails, every capability as ``nobody``; if that fails
   too, every capability as uid 0 (then uid 0 is needed); if even that fails, the command line
   itself fails here and nothing can be said (`ProbeError`);
   ("every capability" is every one this process holds: a container may lack some);
2. from the first set that worked, drop one capability at a time, in order, keeping the drop
   whenever the command still succeeds. What is left is minimal: dropping any one more fails.

Success is exit status 0. The result says how it compares with the catalog entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from leastpriv import caps
from leastpriv.migrate.model import CommandEntry
from leastpriv.probe.sandbox import EXIT_REFUSED, namespace_inodes


class ProbeError(Exception):
    """The probe could not run (not root, sandbox refused) or the command fails even as root."""


@dataclass(frozen=True)
class Trial:
    capabilities: tuple[str, ...]
    as_root: bool
    exit: int
    output: str


@dataclass(frozen=True)
class ProbeResult:
    """What a command needed, found by running it, beside what the catalog says."""

    argv: tuple[str, ...]
    capabilities: tuple[str, ...]  # the minimal set found
    needs_uid0: bool
    catalog: CommandEntry | None
    trials: tuple[Trial, ...] = field(default=(), repr=False)

    @property
    def agrees(self) -> bool:
        entry = self.catalog
        return (entry is not None and set(entry.capabilities) == set(self.capabilities)
                and entry.needs_uid0 == self.needs_uid0)


@dataclass
class Prober:
    """Runs trials of one command line; keeps every trial as evidence."""

    argv: Sequence[str]
    setup: Sequence[Sequence[str]] = ()
    sleeper: bool = False
    python: Sequence[str] = ()
    entrypoint: str = ""
    arguments: str = "{}"
    trials: list[Trial] = field(default_factory=list)

    def succeeds(self, capabilities: Sequence[str], *, as_root: bool) -> bool:
        spec = {
            "argv": list(self.argv),
            "capabilities": list(capabilities),
            "as_root": as_root,
            "host_namespaces": namespace_inodes(),
            "setup": [list(step) for step in self.setup],
            "sleeper": self.sleeper,
            "python": list(self.python),
            "entrypoint": self.entrypoint,
            "arguments": self.arguments,
        }
        done = subprocess.run(
            [sys.executable, "-m", "leastpriv.probe.sandbox"], input=json.dumps(spec),
            capture_output=True, text=True, check=False, env=_sandbox_env(),
        )
        try:
            code = int(json.loads(done.stdout.strip().splitlines()[-1])["exit"])
        except (IndexError, KeyError, ValueError) as exc:
            raise ProbeError(f"the sandbox did not report: {done.stderr.strip()}") from exc
        if code == EXIT_REFUSED:
            raise ProbeError(f"the sandbox refused to run: {done.stderr.strip()}")
        self.trials.append(Trial(tuple(capabilities), as_root, code, done.stderr))
        return code == 0

    def minimize(self, start: Sequence[str], *, as_root: bool) -> tuple[str, ...]:
        """Drop each capability of `start` whose absence still lets the command succeed."""
        kept = list(caps.names(start))
        for cap in list(kept):
            trial = [c for c in kept if c != cap]
            if self.succeeds(trial, as_root=as_root):
                kept = trial
        return tuple(kept)


def _sandbox_env() -> dict[str, str]:
    """The sandbox imports leastpriv from wherever this process did."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def check_can_probe() -> None:
    """Raise ProbeError unless this process can build sandboxes (root, CAP_SYS_ADMIN)."""
    held = caps.read_process_capabilities().effective
    if os.geteuid() != 0 or caps.CAP_SYS_ADMIN not in held:
        raise ProbeError("leastpriv probe needs root with CAP_SYS_ADMIN to build its namespaces")


def held_capabilities() -> tuple[str, ...]:
    """Every capability this process could hand a trial (permitted and in its bounding set)."""
    held = caps.read_process_capabilities()
    return tuple(caps.names(held.permitted & held.bounding))


def probe(
    argv: Sequence[str],
    entry: CommandEntry | None,
    *,
    setup: Sequence[Sequence[str]] = (),
    sleeper: bool = False,
    python: Sequence[str] = (),
    entrypoint: str = "",
    arguments: str = "{}",
) -> ProbeResult:
    """Run `argv` in throwaway sandboxes and find the minimal capability set and uid it needs."""
    check_can_probe()
    prober = Prober(argv, setup, sleeper, python, entrypoint, arguments)
    start = tuple(entry.capabilities) if entry is not None else ()
    every = held_capabilities()
    if prober.succeeds(start, as_root=False):
        found, uid0 = prober.minimize(start, as_root=False), False
    elif prober.succeeds(every, as_root=False):
        found, uid0 = prober.minimize(every, as_root=False), False
    elif prober.succeeds(every, as_root=True):
        first = start if prober.succeeds(start, as_root=True) else every
        found, uid0 = prober.minimize(first, as_root=True), True
    else:
        last = prober.trials[-1].output.strip()
        raise ProbeError(f"the command fails even as root with every capability: {last}")
    return ProbeResult(tuple(argv), found, uid0, entry, tuple(prober.trials))
