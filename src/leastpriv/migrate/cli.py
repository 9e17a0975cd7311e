"""``leastpriv migrate PATH...``: plan a project's move off oslo.rootwrap.

``leastpriv migrate PATH`` writes the plan (``--format md``, the default, or ``json``);
``--stubs DIR`` also writes the suggested functions as modules that use leastpriv (a module
edited since it was generated is never overwritten: refused, named, unless ``--force``);
``--apply`` writes a patch instead (`leastpriv.migrate.apply`);
``--status DIR...`` prints one row per project instead: what rootwrap use is left, what privsep is
in use, and a verdict. Exit status: 0 when the plan or table was written, 2 on a usage error (a
missing path, a bad option, an unwritable output) and on an internal error, whose traceback
`leastpriv.cli.main` prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from leastpriv.audit.model import SkippedFile
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate import render, status, stubs
from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.plan import Plan, build_plan

EXIT_OK = 0
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="project source trees to read")
    parser.add_argument(
        "--format", choices=("md", "json"), default="md", help="output format (default: md)"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument(
        "--stubs", metavar="DIR", help="also write the suggested functions as Python modules"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace stubs even when they were edited"
    )
    parser.add_argument(
        "--apply", action="store_true",
        help="write a patch (git apply) that adds the stubs and rewrites the call sites",
    )
    parser.add_argument(
        "--status", action="store_true", help="one row per PATH: rootwrap left, privsep in use"
    )
    parser.add_argument(
        "--include-tests", action="store_true", help="also read test files (skipped by default)"
    )
    parser.add_argument("--jobs", type=int, default=None, help="processes to read with")


def run(args: argparse.Namespace) -> int:
    paths = [Path(path) for path in args.paths]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        print(f"leastpriv migrate: no such path: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if args.status:
        rows = [status.project_status(path, jobs=args.jobs) for path in paths]
        for path, row in zip(paths, rows, strict=True):
            _warn(path if len(paths) > 1 else None, row.skipped)
        text = status.status_json(rows) if args.format == "json" else status.status_markdown(rows)
        return _emit(text, args.output)
    plans = [build_plan(path, include_tests=args.include_tests, jobs=args.jobs) for path in paths]
    _warn_skipped(plans)
    if args.apply:
        return _emit("".join(_patch(plan, args) for plan in plans), args.output)
    if args.stubs:
        code = _write_stubs(plans, Path(args.stubs), force=args.force)
        if code != EXIT_OK:
            return code
    return _emit(_render(plans, args.format), args.output)


def _warn_skipped(plans: list[Plan]) -> None:
    for plan in plans:
        _warn(Path(plan.root) if len(plans) > 1 else None, plan.skipped)


def _warn(root: Path | None, skipped: Iterable[SkippedFile]) -> None:
    """A warning naming each file or directory that could not be read or parsed, as the audit
    gives: the plan goes on without it, and the reader should know which calls it may miss."""
    for item in skipped:
        where = root / item.path if root is not None else item.path
        print(f"leastpriv migrate: warning: skipped {where}: {item.message}", file=sys.stderr)


def _patch(plan: Plan, args: argparse.Namespace) -> str:
    from leastpriv.migrate.apply import apply_plan  # libcst: only needed here (extra `migrate`)

    root = Path(plan.root)
    found, _ = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    calls = find_call_sites(root, found, include_tests=args.include_tests, jobs=args.jobs).calls
    applied = apply_plan(plan, calls)
    converted = sum(c.converted for c in applied.conversions)
    print(f"{plan.project}: {converted} of {len(applied.conversions)} run-as-root call sites "
          f"converted ({applied.share_converted:.0%}); TODO(leastpriv) at the others",
          file=sys.stderr)
    return applied.patch


def _render(plans: list[Plan], fmt: str) -> str:
    if fmt == "md":
        return "\n".join(render.to_markdown(plan) for plan in plans)
    if len(plans) == 1:
        return render.to_json(plans[0])
    # Several trees: a list of version-1 plans, one per PATH, in the order given.
    return json.dumps([render.to_json_data(plan) for plan in plans], indent=2) + "\n"


def _write_stubs(plans: list[Plan], directory: Path, *, force: bool) -> int:
    try:
        for plan in plans:
            target = directory / plan.project if len(plans) > 1 else directory
            for path in stubs.write_stubs(plan, target, force=force):
                print(f"wrote {path}", file=sys.stderr)
    except stubs.EditedStubError as exc:
        print(f"leastpriv migrate: refusing to overwrite {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"leastpriv migrate: cannot write stubs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _emit(text: str, output: str | None) -> int:
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"leastpriv migrate: cannot write {output}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
