"""``leastpriv audit PATH...``: run the audit and report, for people, scripts and CI.

Exit status: 0 when no finding reaches ``--fail-on`` (default ``low``: any finding fails, as a
linter does) or with ``--exit-zero``, 1 when one does, 2 on a usage or I/O error (a missing path, a
bad option, an invalid ``[tool.leastpriv]`` table, an unreadable baseline, an unwritable report)
and on an internal error (leastpriv.cli.main prints its traceback): a crash is never taken for
findings.
A file or directory that cannot be read is a warning naming it, and the run goes on. Settings come
from the command line, then ``[tool.leastpriv]``, then the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TextIO, TypeVar

from leastpriv.audit import baseline, settings
from leastpriv.audit.docgen import RuleInfo
from leastpriv.audit.model import (
    AuditResult,
    CallSite,
    ContextInfo,
    EntrypointInfo,
    Finding,
    Severity,
    SkippedFile,
)
from leastpriv.audit.options import AuditOptions
from leastpriv.audit.report import FORMATS, render
from leastpriv.audit.report.common import shown_from
from leastpriv.errors import Error

_RULE_PREFIX = re.compile(r"^LPS\d{0,3}$")


class UsageError(Error, ValueError):
    """Raised when the command line or the files it names cannot be used as given."""


class ProgressBar:
    """A one-line bar redrawn with ``\\r`` on a terminal; small trees finish before it helps."""

    MIN_FILES = 200
    WIDTH = 30
    INTERVAL = 0.1  # seconds between redraws: drawing every file would slow a fast audit

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False
        self.last = 0.0

    @classmethod
    def for_stream(cls, stream: TextIO) -> ProgressBar | None:
        """A bar on `stream` when it is a terminal; never on a pipe or a file."""
        return cls(stream) if stream.isatty() else None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total < self.MIN_FILES or (now - self.last < self.INTERVAL and done < total):
            return
        self.last = now
        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} files")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """Erase the bar so the report starts on a clean line."""
        if self.drawn:
            self.stream.write("\r" + " " * (self.WIDTH + 30) + "\r")
            self.stream.flush()
            self.drawn = False


def _codes(value: str) -> tuple[str, ...]:
    return tuple(code.strip().upper() for code in value.split(",") if code.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="directories or files to audit")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text")
    parser.add_argument("--output", "-o", type=Path, help="write the report here, not to stdout")
    parser.add_argument("--fail-on", choices=[str(s) for s in Severity], type=str.lower,
                        help="exit 1 when a finding this severe or worse exists (default: low)")
    parser.add_argument("--select", type=_codes, help="comma-separated rule ids or prefixes (LPS2)")
    parser.add_argument("--ignore", type=_codes, help="comma-separated rule ids or prefixes")
    parser.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                        help="skip paths matching GLOB, relative to PATH (repeatable)")
    parser.add_argument("--include-tests", action="store_true",
                        help="also audit test directories and test_*.py files")
    parser.add_argument("--max-capabilities", type=int, metavar="N",
                        help="LPS101: a context holding more than N capabilities is broad")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="report only findings that FILE does not accept")
    parser.add_argument("--write-baseline", type=Path, metavar="FILE",
                        help="accept every current finding into FILE and exit 0")
    parser.add_argument("--config", type=Path, metavar="PYPROJECT",
                        help="read [tool.leastpriv] from this file instead of searching for one")
    parser.add_argument("--jobs", "-j", type=int, metavar="N",
                        help="worker processes (default: one per core)")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when findings reach --fail-on (errors still exit 2)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also list, on stderr, the files read but not parsed (no marker)")
    parser.add_argument("--version", action="version", version=f"leastpriv audit {_version()}")


def _version() -> str:
    try:
        return metadata.version("leastpriv")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0"


def _rules() -> Mapping[str, RuleInfo]:
    from leastpriv.audit.rules import RULES

    return RULES


def _check_codes(codes: Iterable[str], rules: Mapping[str, RuleInfo], what: str) -> frozenset[str]:
    for code in codes:
        if not _RULE_PREFIX.match(code) or not any(r.startswith(code) for r in rules):
            raise UsageError(f"{what}: {code!r} names no rule (known: {', '.join(sorted(rules))})")
    return frozenset(codes)


def _settings(args: argparse.Namespace) -> settings.Settings:
    if args.config is not None:
        if not args.config.is_file():
            raise UsageError(f"--config: no such file: {args.config}")
        return settings.load(args.config)
    return settings.discover(args.paths[0])


def _options(args: argparse.Namespace, found: settings.Settings,
             rules: Mapping[str, RuleInfo]) -> AuditOptions:
    """The command line over `found` over the defaults."""
    select = args.select if args.select is not None else found.select
    max_caps = args.max_capabilities or found.max_capabilities or AuditOptions().max_capabilities
    if max_caps < 1:
        raise UsageError("--max-capabilities must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return AuditOptions(
        include_tests=args.include_tests,
        select=None if select is None else _check_codes(select, rules, "select"),
        ignore=_check_codes(found.ignore if args.ignore is None else args.ignore, rules, "ignore"),
        max_capabilities=max_caps,
        extra_file_sinks=found.extra_file_sinks,
        extra_command_sinks=found.extra_command_sinks,
        exclude=_globs(args.exclude if args.exclude is not None else found.exclude),
        jobs=args.jobs,
    )


def _globs(patterns: Iterable[str]) -> tuple[str, ...]:
    """Exclude patterns as globs on paths relative to PATH. A bare name (``legacy``,
    ``gen.py``, ``test_*.py``) is a file or directory of that name at any depth, as flake8 and
    ruff take it; a path (``pkg/gen``, ``./pkg/gen/``) is that file or directory."""
    globs: list[str] = []
    for raw in patterns:
        pattern = raw.removeprefix("./").rstrip("/") or raw
        if "/" not in pattern:
            globs += [pattern, f"*/{pattern}", f"{pattern}/*", f"*/{pattern}/*"]
        else:
            globs += [pattern] if pattern.endswith("*") else [pattern, f"{pattern}/*"]
    return tuple(dict.fromkeys(globs))


def _roots(paths: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The common root every report path is relative to, and the existing paths."""
    for path in paths:
        try:
            path.stat()
        except OSError as exc:  # missing, a symbolic link loop, a parent it cannot search
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not (path.is_dir() or path.is_file()):  # a device, a pipe, a socket
            raise UsageError(f"{path} is neither a directory nor a file")
    paths = _distinct(paths)
    bases = [Path(os.path.abspath(p if p.is_dir() else p.parent)) for p in paths]
    return Path(os.path.commonpath(bases)), paths


def _distinct(paths: Sequence[Path]) -> list[Path]:
    """`paths` without those another one holds (``src src/pkg``) or repeats: each file once."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    return [
        path for i, (path, mine) in enumerate(zip(paths, absolute, strict=True))
        if not any(other in mine.parents or (other == mine and j < i)
                   for j, other in enumerate(absolute))
    ]


# The model's records that carry a path relative to the audited root.
Located = TypeVar("Located", Finding, ContextInfo, CallSite, EntrypointInfo, SkippedFile)


def _rebase(result: AuditResult, prefix: str) -> AuditResult:
    """`result` with every path made relative to a parent `prefix` levels up."""
    if not prefix:
        return result

    def moved(item: Located) -> Located:
        return dataclasses.replace(item, path=f"{prefix}/{item.path}")

    entrypoints = [
        dataclasses.replace(moved(e), callers=tuple(moved(c) for c in e.callers))
        for e in result.entrypoints
    ]
    return AuditResult(
        root=result.root, contexts=[moved(c) for c in result.contexts], entrypoints=entrypoints,
        findings=[moved(f) for f in result.findings], skipped=[moved(s) for s in result.skipped],
        files_read=result.files_read, not_parsed=[f"{prefix}/{p}" for p in result.not_parsed],
    )


def _audit_one(path: Path, options: AuditOptions,
               progress: Callable[[int, int], None] | None) -> AuditResult:
    from leastpriv.audit.analyzer import audit

    return audit(path, options, progress=progress)


def _audit(paths: Sequence[Path], common: Path, options: AuditOptions,
           progress: ProgressBar | None, stderr: TextIO) -> AuditResult:
    merged = AuditResult(root=str(common))
    for path in paths:
        base = Path(os.path.abspath(path if path.is_dir() else path.parent))
        prefix = base.relative_to(common).as_posix()
        part = _rebase(_audit_one(path, options, progress), "" if prefix == "." else prefix)
        if not part.files_read and not part.skipped:  # a mistyped PATH must not pass silently
            print(f"leastpriv audit: warning: no Python, rootwrap filter or configuration file "
                  f"to audit in {path}", file=stderr)
        merged.contexts += part.contexts
        merged.entrypoints += part.entrypoints
        merged.findings += part.findings
        merged.skipped += part.skipped
        merged.not_parsed += part.not_parsed
        merged.files_read += part.files_read
        if progress:
            progress.finish()
    return merged


def _failing(findings: Iterable[Finding], threshold: Severity) -> bool:
    return any(f.severity >= threshold for f in findings)


def _emit(text: str, output: Path | None, stdout: TextIO | None) -> None:
    if output is None:
        if stdout is None:  # started with descriptor 1 closed
            raise UsageError("cannot write the report: standard output is closed (use --output)")
        try:
            stdout.write(text)
            stdout.flush()
        except OSError as exc:  # a full disk, a reader gone away (EPIPE): not delivered
            raise UsageError(f"cannot write the report to standard output: {exc}") from exc
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc}") from exc


def _colour(args: argparse.Namespace, stdout: TextIO | None) -> bool:
    # https://no-color.org: a set NO_COLOR turns colour off whatever its value.
    return (args.output is None and stdout is not None and stdout.isatty()
            and "NO_COLOR" not in os.environ)


def _run(args: argparse.Namespace, stdout: TextIO | None, stderr: TextIO) -> int:
    rules = _rules()
    common, paths = _roots(args.paths)  # first: settings are searched from the first path
    found = _settings(args)
    options = _options(args, found, rules)
    fail_on = settings.parse_severity(args.fail_on) if args.fail_on else found.fail_on
    fail_on = fail_on or Severity.LOW
    accepted = baseline.load(args.baseline) if args.baseline else None
    progress = None if args.no_progress else ProgressBar.for_stream(stderr)
    result = _audit(paths, common, options, progress, stderr)
    if args.write_baseline is not None:
        baseline.write(args.write_baseline, result.findings)
        count = len(result.findings)
        print(f"leastpriv audit: {count} findings accepted into {args.write_baseline}", file=stderr)
        return 0
    if accepted is not None:
        result.findings, covered = baseline.new_findings(result.findings, accepted)
        print(f"leastpriv audit: {covered} findings accepted by {args.baseline}", file=stderr)
    _warn_skipped(result, stderr, verbose=args.verbose)
    _emit(render(args.format, result, rules, color=_colour(args, stdout)), args.output, stdout)
    return 1 if _failing(result.findings, fail_on) and not args.exit_zero else 0


def _warn_skipped(result: AuditResult, stderr: TextIO, *, verbose: bool) -> None:
    """A warning per file or directory that could not be read; with -v, the unparsed files.
    Paths are shown as the text report shows them (from the working directory when in it)."""
    _, prefix = shown_from(result.root)
    for skipped in result.skipped:
        print(f"leastpriv audit: warning: skipped {prefix}{skipped.path}: {skipped.message}",
              file=stderr)
    if verbose:
        for path in result.not_parsed:
            print(f"leastpriv audit: not parsed (no privsep or rootwrap marker): {prefix}{path}",
                  file=stderr)


def run(args: argparse.Namespace, *, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Run ``leastpriv audit`` as parsed into `args`; returns the exit status.

    A standard stream closed when the command started is None in `sys`: without stdout the report
    needs --output; without stderr the warnings are lost, never the report or the status.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr or open(os.devnull, "w")  # noqa: SIM115 - lives as the process
    try:
        return _run(args, stdout, stderr)
    except (UsageError, settings.SettingsError, baseline.BaselineError, OSError) as exc:
        print(f"leastpriv audit: error: {exc}", file=stderr)
        return 2
    # Any other exception is a crash: leastpriv.cli.main reports it and exits 2, never 1.
