"""Where projects stand: rootwrap filters and calls left, privsep contexts and entrypoints in use.

One row per project tree. The verdict: *migrated* when no filter and no run-as-root call is left,
*mixed* when rootwrap is still used beside privsep, *on rootwrap* when rootwrap is used and privsep
is not.
"""

from __future__ import annotations

import email.parser
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from leastpriv.audit.analyzer import audit
from leastpriv.audit.model import SkippedFile
from leastpriv.audit.options import AuditOptions
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.render import markdown_table

MIGRATED = "migrated"
MIXED = "mixed"
ON_ROOTWRAP = "on rootwrap"


@dataclass(frozen=True)
class ProjectStatus:
    name: str
    version: str | None
    filters: int
    call_sites: int
    contexts: int
    entrypoints: int
    # Files it could not read or parse: the verdict is read from the rest of the tree.
    skipped: tuple[SkippedFile, ...] = ()

    @property
    def verdict(self) -> str:
        if not self.filters and not self.call_sites:
            return MIGRATED
        return MIXED if self.contexts else ON_ROOTWRAP


def project_status(root: Path, *, jobs: int | None = None) -> ProjectStatus:
    """Count what `root` still has of rootwrap and what it has of privsep."""
    root = Path(root)
    filters, _problems = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    scan = find_call_sites(root, jobs=jobs)
    contexts, entrypoints = count_privsep(root, jobs=jobs)
    name, version = distribution(root)
    # rootwrap adds its privsep-helper filter to every list: it is not the project's.
    own = [flt for flt in filters if flt.path != filter_files.IMPLICIT_PATH]
    return ProjectStatus(name, version, len(own), len(scan.sites), contexts, entrypoints,
                         tuple(scan.skipped))


def distribution(root: Path) -> tuple[str, str | None]:
    """Name and version from a ``*.dist-info/METADATA`` or ``PKG-INFO`` at the top of `root`."""
    root = Path(root)
    candidates = sorted(root.glob("*.dist-info/METADATA")) + sorted(root.glob("PKG-INFO"))
    candidates += sorted(root.glob("*.egg-info/PKG-INFO"))
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
            headers = email.parser.Parser().parsestr(text, headersonly=True)
        except (OSError, UnicodeDecodeError):
            continue  # an unreadable metadata file: fall back to the directory name
        if headers.get("Name"):
            return headers["Name"], headers.get("Version")
    return root.resolve().name, None


def count_privsep(root: Path, *, jobs: int | None = None) -> tuple[int, int]:
    """(contexts, entrypoints) as `leastpriv audit` models them, so both tools agree."""
    result = audit(root, AuditOptions(jobs=jobs))
    return len(result.contexts), len(result.entrypoints)


# -- output --------------------------------------------------------------------------------------

_HEADER = ("project", "version", "filter entries", "run-as-root calls", "privsep contexts",
           "entrypoints", "verdict")


def status_markdown(rows: Iterable[ProjectStatus]) -> str:
    cells = [
        (row.name, row.version or "", row.filters, row.call_sites, row.contexts, row.entrypoints,
         row.verdict)
        for row in rows
    ]
    return markdown_table(_HEADER, cells) + "\n"


def status_json(rows: Sequence[ProjectStatus]) -> str:
    data = [{**asdict(row), "verdict": row.verdict} for row in rows]
    return json.dumps({"version": 1, "projects": data}, indent=2) + "\n"
