"""The flake8 plugin, run through flake8 itself on real files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("leastpriv.audit.analyzer", reason="the analyser has not landed")

WIDE = '''\
import os

from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

pctxt = priv_context.PrivContext(
    "demo", cfg_section="demo_privileged",
    capabilities=[caps.CAP_SYS_ADMIN],
)


@pctxt.entrypoint
def chmod(path, mode):
    os.chmod(path, mode)
'''

NARROW = '''\
from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

pctxt = priv_context.PrivContext("demo", capabilities=[caps.CAP_NET_ADMIN])
'''

SAME_FAMILY = NARROW.replace("[caps.CAP_NET_ADMIN]", "[caps.CAP_CHOWN, caps.CAP_FOWNER]")

_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>LPS\d{3}) ")


def flake8(directory: Path, *args: str) -> tuple[int, list[tuple[str, int, str]]]:
    proc = subprocess.run([sys.executable, "-m", "flake8", "--select", "LPS", *args],
                          cwd=directory, capture_output=True, text=True, timeout=120, check=False)
    hits = [(m["path"], int(m["line"]), m["code"])
            for m in map(_LINE.match, proc.stdout.splitlines()) if m]
    assert len(hits) == len(proc.stdout.splitlines()), proc.stdout + proc.stderr
    return proc.returncode, hits


def test_flake8_reports_lps_codes_at_their_lines(tmp_path: Path) -> None:
    (tmp_path / "wide.py").write_text(WIDE)
    status, hits = flake8(tmp_path, "wide.py")
    codes = {code: line for _, line, code in hits}
    assert status == 1
    assert codes["LPS102"] == 6  # the PrivContext(...) call
    assert codes["LPS203"] == 14  # os.chmod(path, mode)
    assert "LPS201" in codes


def test_flake8_honours_inline_suppressions(tmp_path: Path) -> None:
    suppressed = WIDE.replace("def chmod(path, mode):",
                              "def chmod(path, mode):  # leastpriv: ignore[LPS201] legacy name")
    (tmp_path / "wide.py").write_text(suppressed)
    _, hits = flake8(tmp_path, "wide.py")
    assert "LPS201" not in {code for *_, code in hits}


def test_flake8_is_quiet_on_a_narrow_context(tmp_path: Path) -> None:
    (tmp_path / "narrow.py").write_text(NARROW)
    assert flake8(tmp_path, "narrow.py") == (0, [])


def test_flake8_option_sets_the_capability_limit(tmp_path: Path) -> None:
    (tmp_path / "two.py").write_text(SAME_FAMILY)
    assert flake8(tmp_path, "two.py") == (0, [])
    status, hits = flake8(tmp_path, "--leastpriv-max-capabilities", "1", "two.py")
    assert status == 1 and [code for *_, code in hits] == ["LPS101"]
