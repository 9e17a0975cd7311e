"""flake8 plugin: the audit's single-file rules as ``LPSxxx`` errors.

Registered as ``[project.entry-points."flake8.extension"] LPS = "leastpriv.audit.flake8:Plugin"``.
A thin adapter over `leastpriv.audit.analyzer.audit_source`: rules that need the whole tree (an
entrypoint's callers in other modules, filter files) only run in ``leastpriv audit``. The
project's ``[tool.leastpriv]`` table (found from each file, as ``leastpriv audit`` finds it from
its PATH) gives the extra sinks and the capability limit; flake8's own ``--select``,
``--extend-ignore`` and ``# noqa`` choose which codes are shown.
"""

from __future__ import annotations

import argparse
import ast
import functools
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from leastpriv.audit import settings
from leastpriv.audit.options import AuditOptions
from leastpriv.sourcetree import package_module_name


def _version() -> str:
    try:
        return metadata.version("leastpriv")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0"


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


@functools.lru_cache(maxsize=64)
def _project_settings(directory: Path) -> settings.Settings:
    """``[tool.leastpriv]`` for the files of `directory`; read once per directory and process."""
    return settings.discover(directory)


class Plugin:
    """One instance per checked file, as flake8 makes them."""

    name = "leastpriv"
    version = _version()
    max_capabilities: int | None = None  # --leastpriv-max-capabilities, when given

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        del tree  # the analyser parses the source itself; its walk collects more than an AST
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--leastpriv-max-capabilities", type=_at_least_one, default=None,
            parse_from_config=True,
            help="LPS101: a context holding more than this many capabilities is broad "
                 "(default: max-capabilities in [tool.leastpriv], else "
                 f"{AuditOptions().max_capabilities})",
        )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.max_capabilities = options.leastpriv_max_capabilities
        try:  # an invalid table stops the run once, with its reason, not once per file
            _project_settings(Path.cwd())
        except settings.SettingsError as exc:
            # flake8 is there (it loaded us) but ships no type information.
            from flake8.exceptions import ExecutionError  # type: ignore[import-untyped]

            raise ExecutionError(f"leastpriv: {exc}") from exc

    def _options(self, path: Path) -> AuditOptions:
        found = _project_settings(path.parent)
        return AuditOptions(
            max_capabilities=(self.max_capabilities or found.max_capabilities
                              or AuditOptions().max_capabilities),
            extra_file_sinks=found.extra_file_sinks,
            extra_command_sinks=found.extra_command_sinks,
        )

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        from leastpriv.audit.analyzer import audit_source, may_matter

        source = "".join(self.lines)
        if not may_matter(source):
            return  # as in the stand-alone audit: no marker, nothing any file rule could find
        # The module's id comes from its packages (the directories with an __init__.py above
        # it), never from where flake8 runs: the same file gives the same findings from anywhere.
        path = Path(self.filename).resolve()
        module = package_module_name(path)
        findings = audit_source(source, path=self.filename, module=module,
                                options=self._options(path))
        for finding in findings:
            yield finding.line, finding.col, f"{finding.rule} {finding.message}", type(self)
