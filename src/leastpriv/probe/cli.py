"""``leastpriv probe``: run a command or a privileged function for real and find what it needs.

``leastpriv probe -- CMD ARG...`` probes one command line; ``--entrypoint pkg.mod:func --args
JSON`` one privileged function; ``--catalog`` every catalog command this machine has (one fixed
scenario each, `leastpriv.probe.scenarios`) and writes each result into the catalog's
``verified`` field. Every trial runs in fresh namespaces (`leastpriv.probe.sandbox`); it
executes the command, which is why it says so before it starts. Exit status: 0 when every probe
ran and agrees with the catalog, 1 when one disagrees, 2 when a probe could not run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from leastpriv.migrate.catalog import load_catalog, parse_catalog
from leastpriv.migrate.model import CommandEntry
from leastpriv.probe import scenarios, verified
from leastpriv.probe.call import declared_capabilities, resolve
from leastpriv.probe.runner import ProbeError, ProbeResult, probe

EXIT_AGREES = 0
EXIT_DIFFERS = 1
EXIT_ERROR = 2

NOTICE = (
    "leastpriv probe EXECUTES the command for real, once per capability set it tries, each time in "
    "fresh network, mount, PID, IPC and UTS namespaces with the host's mounts read-only and a "
    "private /tmp, /run and /dev."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs="*", metavar="CMD", help="the command line (after --)")
    parser.add_argument("--entrypoint", metavar="PKG.MOD:FUNC", help="probe a privileged function")
    parser.add_argument("--args", default="{}", metavar="JSON", help="its keyword arguments")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="sys.path entry for --entrypoint's module (repeatable)")
    parser.add_argument("--setup", action="append", default=[], metavar="CMD",
                        help="a command run as root in each sandbox first (repeatable)")
    parser.add_argument("--catalog", action="store_true",
                        help="probe every catalog command found here; write `verified`")
    parser.add_argument("--catalog-file", metavar="FILE",
                        help="the catalog to read and write (default: leastpriv's own)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    print(NOTICE, file=sys.stderr)
    try:
        if args.catalog:
            return _probe_catalog(args)
        if args.entrypoint:
            return _report([_probe_entrypoint(args)], args.format)
        if not args.argv:
            print("leastpriv probe: give a command after --, --entrypoint or --catalog",
                  file=sys.stderr)
            return EXIT_ERROR
        entry = load_catalog().lookup(args.argv[0])
        return _report([probe(args.argv, entry, setup=_setup(args))], args.format)
    except (ProbeError, ValueError, ImportError, AttributeError, TypeError) as exc:
        print(f"leastpriv probe: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _probe_entrypoint(args: argparse.Namespace) -> ProbeResult:
    sys.path[:0] = args.path
    function = resolve(args.entrypoint)
    declared = declared_capabilities(function)
    json.loads(args.args)  # a malformed --args is a usage error here, not a failed trial
    entry = None
    if declared is not None:
        entry = CommandEntry(args.entrypoint, declared, "declared by its context", "high")
    python = [str(Path(p).resolve()) for p in args.path]
    argv = [args.entrypoint, args.args]  # shown in the report; the sandbox calls, never execs it
    return probe(argv, entry, setup=_setup(args), python=python, entrypoint=args.entrypoint,
                 arguments=args.args)


def _setup(args: argparse.Namespace) -> list[list[str]]:
    return [shlex.split(step) for step in args.setup]


def _catalog_path(args: argparse.Namespace) -> Path:
    if args.catalog_file:
        return Path(args.catalog_file)
    return Path(str(resources.files("leastpriv").joinpath("data/commands.toml")))


def _probe_catalog(args: argparse.Namespace) -> int:
    path = _catalog_path(args)
    catalog = parse_catalog(path.read_text(encoding="utf-8"))
    results, lines = [], {}
    for entry in catalog:
        scenario = scenarios.SCENARIOS.get(entry.command)
        if scenario is None or shutil.which(scenario.argv[0]) is None:
            why = scenarios.UNPROBED.get(entry.command, "no scenario or not on this machine")
            print(f"skip {entry.command}: {why}", file=sys.stderr)
            continue
        result = probe(scenario.argv, entry, setup=scenario.setup, sleeper=scenario.sleeper)
        results.append(result)
        lines[entry.command] = verified.verified_line(result, scenario.scope)
    verified.write_verified(path, lines)
    print(f"wrote `verified` for {len(lines)} commands into {path}", file=sys.stderr)
    return _report(results, args.format)


def _report(results: list[ProbeResult], fmt: str) -> int:
    if fmt == "json":
        sys.stdout.write(json.dumps([_data(r) for r in results], indent=2) + "\n")
    else:
        for result in results:
            sys.stdout.write(_text(result))
    return EXIT_AGREES if all(r.agrees for r in results) else EXIT_DIFFERS


def _data(result: ProbeResult) -> dict[str, Any]:
    entry = result.catalog
    return {
        "argv": list(result.argv),
        "capabilities": list(result.capabilities),
        "needs_uid0": result.needs_uid0,
        "catalog": None if entry is None else {
            "capabilities": list(entry.capabilities), "needs_uid0": entry.needs_uid0},
        "agrees": result.agrees,
        "trials": [{"capabilities": list(t.capabilities), "as_root": t.as_root, "exit": t.exit}
                   for t in result.trials],
    }


def _text(result: ProbeResult) -> str:
    entry = result.catalog
    found = ", ".join(result.capabilities) or "no capabilities"
    lines = [f"$ {' '.join(result.argv)}",
             f"  needs: {found}{' as uid 0' if result.needs_uid0 else ' (uid 0 not needed)'}"]
    if entry is None:
        lines.append("  catalog: no entry")
    else:
        claimed = ", ".join(entry.capabilities) or "no capabilities"
        uid0 = " as uid 0" if entry.needs_uid0 else ""
        verdict = "agrees" if result.agrees else "DIFFERS"
        lines.append(f"  catalog: {claimed}{uid0} -> {verdict}")
    for trial in result.trials:
        who = "uid 0 " if trial.as_root else "nobody"
        held = ", ".join(trial.capabilities) or "none"
        if len(trial.capabilities) > 6:  # the search's wide start: every capability held but …
            held = f"{len(trial.capabilities)} capabilities"
        lines.append(f"  trial {who} exit {trial.exit:3d}: {held}")
    return "\n".join(lines) + "\n"
