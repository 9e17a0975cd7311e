"""The exec helper run by root directly: isolated from its caller's cwd, PYTHON* variables and
resource limits (issue 8, findings 4 and 7). The attacks under sudo are in test_exec_helper.py."""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import contexts
import isolation_contexts
import pytest
from support import functional_pythonpath, root_dir  # noqa: F401 - root_dir: a fixture
from tests.conftest import requires_root

from leastpriv import DaemonStartError, caps
from leastpriv.privileged import isolation

pytestmark = requires_root
SIZE = 100_000


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A world-writable directory holding a fake leastpriv/ that records who imported it."""
    directory = tmp_path / "plant"
    (directory / "leastpriv").mkdir(parents=True)
    directory.chmod(0o777)
    marker = tmp_path / "ran-as"
    (directory / "leastpriv" / "__init__.py").write_text(
        f"import os\nopen({str(marker)!r}, 'w').write(str(os.geteuid()))\n")
    yield directory, marker


@pytest.fixture
def daemon_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "leastpriv.toml"
    config.write_text('[leastpriv_tests_execd]\nuser = "nobody"\n')
    monkeypatch.setenv("LEASTPRIV_CONFIG", str(config))


def start_execd() -> None:
    contexts.execd.stop()
    try:
        with contextlib.suppress(DaemonStartError):  # the old helper died on the fake leastpriv
            contexts.execd.start(method="exec")
    finally:
        contexts.execd.stop()


def test_a_leastpriv_planted_in_a_world_writable_cwd_never_runs(
        planted: tuple[Path, Path], daemon_user_config: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    directory, marker = planted
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())
    monkeypatch.chdir(directory)
    start_execd()
    assert not marker.exists()


def test_a_leastpriv_planted_on_pythonpath_never_runs(
        planted: tuple[Path, Path], daemon_user_config: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    directory, marker = planted
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(directory), functional_pythonpath()]))
    start_execd()
    assert not marker.exists()


def test_the_daemon_runs_in_root_with_only_a_fixed_path(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())
    monkeypatch.setenv("LEASTPRIV_TEST_SECRET", "from-the-caller")
    monkeypatch.chdir(tmp_path)
    isolation_contexts.writer.start(method="exec")
    try:
        seen = isolation_contexts.surroundings_privileged()
    finally:
        isolation_contexts.writer.stop()
    assert seen == {"cwd": "/", "environ": {"PATH": isolation.SAFE_PATH}}


CALLER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, int(sys.argv[2])))
import isolation_contexts
try:
    isolation_contexts.writer.start("exec")
    print(json.dumps({"size": isolation_contexts.write_privileged(sys.argv[1], int(sys.argv[3]))}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__}))
"""


def write_with_fsize_limit(target: Path, hard: int) -> dict[str, object]:
    """A root caller limited to 4096-byte files starts the writer's daemon by exec and writes."""
    done = subprocess.run([sys.executable, "-c", CALLER, str(target), str(hard), str(SIZE)],
                          env={**os.environ, "PYTHONPATH": functional_pythonpath()},
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def open_dir(root_dir: Path) -> Path:
    directory = root_dir / "open"
    directory.mkdir()
    directory.chmod(0o777)  # the daemon runs as nobody
    return directory


def test_a_callers_soft_file_size_limit_does_not_cut_the_daemons_write(open_dir: Path) -> None:
    target = open_dir / "whole"
    assert write_with_fsize_limit(target, resource.RLIM_INFINITY) == {"size": SIZE}
    assert target.stat().st_size == SIZE


def test_a_callers_hard_file_size_limit_is_reset_or_refused_never_cuts_a_write(
        open_dir: Path) -> None:
    target = open_dir / "hard"
    outcome = write_with_fsize_limit(target, 4096)
    if caps.CAP_SYS_RESOURCE in caps.read_process_capabilities().effective:
        assert outcome == {"size": SIZE}
    else:  # the hard limit cannot be raised again: the helper refuses to start
        assert outcome == {"error": "DaemonStartError"}
        assert not target.exists()
