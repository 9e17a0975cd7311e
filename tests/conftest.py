"""Shared test set-up: functional tests are marked by folder; root-only tests skip with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FUNCTIONAL_DIR = Path(__file__).parent / "functional"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if FUNCTIONAL_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.functional)


requires_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: starts real daemons with Linux capabilities, users and network namespaces",
)
