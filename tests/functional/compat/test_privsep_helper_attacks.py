"""``privsep-helper`` attacked by the service user that sudo runs it for (issue 8, finding 6, for
the compat helper): what it prints must tell the caller nothing of a file only root may read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")

pytestmark = [pytest.mark.functional,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs the helper as root")]
HERE = Path(__file__).parent
SRC = Path(__file__).parents[3] / "src"
MARK = "ROOT-ONLY-LINE-4f1c"  # what only root may read


@pytest.fixture
def root_only_dir() -> Iterator[Path]:
    """A directory of root's, 0700, outside any user's reach, removed afterwards."""
    directory = Path("/run") / f"lp-attack-{os.getpid()}"
    directory.mkdir(mode=0o700)
    yield directory
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def run_helper_under_sudo(*argv: str) -> subprocess.CompletedProcess[str]:
    """privsep-helper as root with sudo's SUDO_UID/SUDO_GID of nobody (sudo sets them; faked)."""
    return subprocess.run(
        [sys.executable, "-m", "leastpriv.compat.daemon", *argv,
         "--privsep_context", "compatpkg.netadmin", "--privsep_sock_path", "/nonexistent/s"],
        env={**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534",
             "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)])},
        capture_output=True, text=True, timeout=60, check=False, cwd="/")


@pytest.mark.parametrize("content", [f"{MARK}\n", f"[DEFAULT]\n{MARK}\n", f"[{MARK}\n"],
                         ids=["bare-line", "after-a-section", "broken-section"])
def test_a_config_file_only_root_reads_is_never_echoed(root_only_dir: Path, content: str) -> None:
    # oslo.config's parse errors quote the offending line; the caller names the file.
    secret = root_only_dir / "secret.conf"
    secret.write_text(content)
    secret.chmod(0o600)
    done = run_helper_under_sudo("--config-file", str(secret))
    assert done.returncode == 70  # EXIT_SETUP_FAILED
    assert MARK not in done.stdout + done.stderr


def test_a_config_dir_only_root_reads_is_never_echoed(root_only_dir: Path) -> None:
    (root_only_dir / "a.conf").write_text(f"{MARK}\n")
    done = run_helper_under_sudo("--config-dir", str(root_only_dir))
    assert done.returncode == 70
    assert MARK not in done.stdout + done.stderr
