"""leastpriv.testing.plugin: the fixture pytest loads from leastpriv's pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from importlib.metadata import entry_points
from pathlib import Path

# A project's own tests, as a user of leastpriv writes them: the first rebinds a root to its
# tmp_path and runs the context in-process; the second, run after it, sees nothing left over.
USER_TESTS = '''
import os
from typing import Annotated

from leastpriv import caps, fs, paths
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder

ROOT = "/var/lib/leastpriv-plugin-declared"
ctx = PrivContext("userproject.files", capabilities=[caps.CAP_DAC_OVERRIDE])


@ctx.entrypoint
def write_privileged(path: Annotated[str, PathUnder(ROOT)], data: bytes) -> int:
    fs.write(path, data)
    return os.getpid()


def test_1_runs_here_beneath_tmp_path(leastpriv_in_process, tmp_path):
    leastpriv_in_process(ctx, roots={ROOT: tmp_path})
    assert write_privileged(ROOT + "/note", b"x") == os.getpid()
    assert (tmp_path / "note").read_bytes() == b"x"


def test_2_nothing_leaked_from_the_test_before():
    assert ctx.client_mode
    assert paths.root_fd(ROOT) is None
'''


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "leastpriv"]
    assert plugin.value == "leastpriv.testing.plugin"


def test_a_project_test_gets_the_fixture_and_the_next_test_sees_nothing_of_it(
        tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    report = tmp_path / "report.xml"
    # A fresh pytest in the project's directory: the fixture comes from the entry point alone.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         f"--junit-xml={report}", "test_user.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ElementTree.parse(report).getroot().find("testsuite")  # noqa: S314 - pytest wrote it
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
