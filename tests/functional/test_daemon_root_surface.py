"""What a real exec'd daemon has loaded after it served: none of the caller's half, whatever its
requests made it do (tests/test_root_surface.py measures imports alone, not a run)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from tests.conftest import requires_root
from tests.test_root_surface import CALLERS_HALF

pytestmark = [requires_root, pytest.mark.functional]

CONTEXT = """
import sys
from leastpriv import PrivContext
ctx = PrivContext("lp_surface", capabilities=[], user="nobody")


@ctx.entrypoint
def modules_privileged() -> list[str]:
    return sorted(sys.modules)


@ctx.entrypoint
def fail_privileged() -> None:
    raise LookupError("an error reply")


@ctx.entrypoint
def nested_privileged() -> list[str]:
    return modules_privileged()
"""


@pytest.fixture
def surface(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    (tmp_path / "lp_surface.py").write_text(CONTEXT)
    monkeypatch.syspath_prepend(str(tmp_path))  # the root caller hands its path to the helper
    module = importlib.import_module("lp_surface")
    yield module
    module.ctx.stop()
    del sys.modules["lp_surface"]


def test_a_serving_exec_daemon_loads_none_of_the_callers_half(surface: ModuleType) -> None:
    surface.ctx.start(method="exec")
    with pytest.raises(LookupError):
        surface.fail_privileged()
    loaded = set(surface.nested_privileged())
    loaded |= set(surface.modules_privileged())
    assert "leastpriv.privileged.daemon" in loaded
    assert sorted(name for name in loaded if name.startswith(CALLERS_HALF)) == []
