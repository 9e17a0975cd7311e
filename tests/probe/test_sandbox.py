"""The probe sandbox keeps the interpreter's code importable when it lives below a scratch point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from leastpriv.probe import sandbox


def test_code_below_lists_a_checkout_under_a_scratch_point_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    checkout = tmp_path / "clone"
    (checkout / "src").mkdir(parents=True)
    (checkout / ".venv" / "lib").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(checkout / "src"), str(checkout / ".venv" / "lib"),
                                      str(tmp_path / "missing")])
    monkeypatch.setattr(sys, "prefix", str(checkout / ".venv"))

    assert sandbox.code_below([str(tmp_path)]) == [str(checkout / ".venv"), str(checkout / "src")]


def test_code_below_leaves_out_code_outside_the_scratch_points(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(sys, "path", [str(elsewhere)])

    assert str(elsewhere) not in sandbox.code_below([str(scratch)])
