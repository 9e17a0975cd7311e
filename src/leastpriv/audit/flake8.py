"""flake8 plugin: the audit's single-file rules as ``LPSxxx`` errors.

Registered as ``[project.entry-points."flake8.extension"] LPS = "leastpriv.audit.flake8:Plugin"``.
A thin adapter over `leastpriv.audit.analyzer.audit_source`: rules that need the whole tree (an
entrypoint's callers in other modules, filter files) only run in ``leastpriv audit``.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from leastpriv.audit.options import AuditOptions
from leastpriv.sourcetree import package_module_name


def _version() -> str:
    try:
        return metadata.version("leastpriv")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0"


class Plugin:
    """One instance per checked file, as flake8 makes them."""

    name = "leastpriv"
    version = _version()
    max_capabilities = AuditOptions().max_capabilities

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        del tree  # the analyser parses the source itself; its walk collects more than an AST
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--leastpriv-max-capabilities", type=int, default=cls.max_capabilities,
            parse_from_config=True,
            help="LPS101: a context holding more than this many capabilities is broad",
        )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.max_capabilities = options.leastpriv_max_capabilities

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        from leastpriv.audit.analyzer import audit_source, may_matter

        source = "".join(self.lines)
        if not may_matter(source):
            return  # as in the stand-alone audit: no marker, nothing any file rule could find
        # The module's id comes from its packages (the directories with an __init__.py above
        # it), never from where flake8 runs: the same file gives the same findings from anywhere.
        module = package_module_name(Path(self.filename))
        options = AuditOptions(max_capabilities=self.max_capabilities)
        findings = audit_source(source, path=self.filename, module=module, options=options)
        for finding in findings:
            yield finding.line, finding.col, f"{finding.rule} {finding.message}", type(self)
