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


BORROWED = '''\
from svc import privileged


@privileged.default.entrypoint
def flush_privileged(device: str) -> None:
    pass
'''


def test_flake8_findings_do_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    # svc/agent/ops.py uses svc's own context: never LPS304, from the root or from inside svc.
    agent = tmp_path / "svc" / "agent"
    agent.mkdir(parents=True)
    for package in (tmp_path / "svc", agent):
        (package / "__init__.py").write_text("")
    (tmp_path / "svc" / "privileged.py").write_text(NARROW.replace("pctxt", "default"))
    (agent / "ops.py").write_text(BORROWED)
    runs = [(tmp_path, "svc"), (tmp_path / "svc", "."), (agent, "ops.py")]
    found = []
    for cwd, target in runs:
        _, hits = flake8(cwd, target)
        found.append({((cwd / path).resolve(), line, code) for path, line, code in hits})
    assert found[0] == found[1] == found[2]
    assert "LPS304" not in {code for *_, code in found[0]}
    assert "LPS205" not in {code for *_, code in found[0]}  # annotated: nothing else to say


def test_flake8_reports_an_ignore_comment_naming_no_rule(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text(NARROW + "x = 1  # leastpriv: ignore[LPS230] -- typo\n")
    status, hits = flake8(tmp_path, "typo.py")
    assert status == 1 and [(line, code) for _, line, code in hits] == [(5, "LPS001")]


EXTRA_SINK = '''\
from oslo_privsep import priv_context

from svc import fsutil

ctx = priv_context.PrivContext("svc", capabilities=[0])


@ctx.entrypoint
def put_privileged(path: str) -> None:
    fsutil.write_as_root(path)
'''


def test_flake8_reads_the_projects_tool_leastpriv_table(tmp_path: Path) -> None:
    # The same settings as `leastpriv audit`, so both report the same findings: an extra sink
    # and a wider capability limit from pyproject.toml, found from the file, not the cwd.
    (tmp_path / "pyproject.toml").write_text(
        '[tool.leastpriv]\nextra-file-sinks = ["svc.fsutil.write_as_root"]\n'
        "max-capabilities = 3\n")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text("")
    (tmp_path / "svc" / "put.py").write_text(EXTRA_SINK)
    (tmp_path / "svc" / "two.py").write_text(SAME_FAMILY.replace("CAP_FOWNER]", "CAP_FOWNER, "
                                                                 "caps.CAP_DAC_OVERRIDE]"))
    for cwd, target in [(tmp_path, "svc"), (tmp_path / "svc", ".")]:
        _, hits = flake8(cwd, target)
        assert [(Path(path).name, code) for path, _, code in hits] == [("put.py", "LPS203")]


def test_flake8_stops_on_an_invalid_tool_leastpriv_table_without_a_traceback(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.leastpriv]\nignor = ["LPS1"]\n')
    (tmp_path / "wide.py").write_text(WIDE)
    proc = subprocess.run([sys.executable, "-m", "flake8", "--select", "LPS", "wide.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "ignor" in proc.stdout + proc.stderr


def test_the_plugin_skips_a_file_nested_too_deeply_for_its_walk(tmp_path: Path) -> None:
    # pyflakes fails on such a file under flake8 too; the plugin must not add a second failure.
    from leastpriv.audit.flake8 import Plugin

    source = "import oslo_privsep\nx = " + " + ".join(["1"] * 800) + "\n"
    (tmp_path / "deep.py").write_text(source)
    lines = source.splitlines(keepends=True)
    assert list(Plugin(None, str(tmp_path / "deep.py"), lines).run()) == []
