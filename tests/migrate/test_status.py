"""The cross-project status table: counts and verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leastpriv.migrate.status import (
    MIGRATED,
    MIXED,
    ON_ROOTWRAP,
    ProjectStatus,
    distribution,
    project_status,
    status_json,
    status_markdown,
)

PROJECTS = Path(__file__).parent / "fixtures" / "projects"


@pytest.mark.parametrize(("filters", "calls", "contexts", "verdict"), [
    (0, 0, 0, MIGRATED),
    (0, 0, 3, MIGRATED),
    (4, 0, 0, ON_ROOTWRAP),
    (0, 2, 0, ON_ROOTWRAP),
    (4, 2, 1, MIXED),
])
def test_verdict(filters, calls, contexts, verdict):
    assert ProjectStatus("p", None, filters, calls, contexts, contexts).verdict == verdict


def test_a_project_on_rootwrap_counts_its_filters_without_rootwraps_implicit_one():
    row = project_status(PROJECTS / "rootwrapped", jobs=1)
    assert (row.filters, row.contexts, row.entrypoints) == (6, 0, 0)
    assert row.call_sites == 14
    assert row.verdict == ON_ROOTWRAP
    assert (row.name, row.version) == ("rootwrapped", None)


def test_a_migrated_project_reads_its_dist_info():
    row = project_status(PROJECTS / "migrated", jobs=1)
    assert (row.name, row.version, row.contexts, row.entrypoints) == ("calm", "1.2.0", 1, 1)
    assert row.verdict == MIGRATED


def test_a_mixed_project_counts_oslo_privsep_contexts_and_entrypoints():
    row = project_status(PROJECTS / "mixed", jobs=1)
    assert (row.name, row.version) == ("half", "0.3")
    assert (row.filters, row.call_sites, row.contexts, row.entrypoints) == (1, 1, 1, 2)
    assert row.verdict == MIXED


def test_distribution_without_metadata_is_the_directory_name(tmp_path):
    assert distribution(tmp_path) == (tmp_path.name, None)


def test_outputs_have_one_row_per_project():
    rows = [ProjectStatus("a", "1", 1, 2, 0, 0), ProjectStatus("b", None, 0, 0, 1, 1)]
    table = status_markdown(rows).splitlines()
    assert len(table) == 4 and table[2].startswith("| a | 1 | 1 | 2 | 0 | 0 | on rootwrap |")
    data = json.loads(status_json(rows))
    assert [p["verdict"] for p in data["projects"]] == [ON_ROOTWRAP, MIGRATED]
