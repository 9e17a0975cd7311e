"""Attacks on PathUnder roots and paths through the example service, each against a real daemon.

The attacks themselves run in example_attacks.py, in a fresh interpreter (the example fixes its
root at import); these tests set up temporary trees, run them and judge the outcome. The daemon
runs as a user made for the test, with the example's CAP_CHOWN and CAP_DAC_OVERRIDE, as a service
would deploy it.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from support import system_user  # noqa: F401 - a fixture, used by name

from conftest import requires_root

ATTACKS = Path(__file__).with_name("example_attacks.py")
SRC = Path(__file__).parents[2] / "src"
# Long enough for the race to be run hundreds of thousands of times, as the report did.
RACE_SECONDS = float(os.environ.get("LEASTPRIV_RACE_SECONDS", "60"))

pytestmark = requires_root


@pytest.fixture
def daemon_config(tmp_path: Path, system_user: str) -> Path:  # noqa: F811 - the fixture above
    """A configuration that runs the example's files daemon as the test's user."""
    path = tmp_path / "leastpriv.toml"
    path.write_text(f'[leastpriv_examples_console]\nuser = "{system_user}"\n')
    return path


def run_attack(*args: str, config: Path, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "LEASTPRIV_CONFIG": str(config)}
    done = subprocess.run([sys.executable, str(ATTACKS), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_root_swapped_for_a_symlink_before_a_restart_is_refused(tmp_path: Path,
                                                                   daemon_config: Path) -> None:
    # The service user's directory holds the root; ELSEWHERE stands for /etc: a root-only file.
    service_dir = tmp_path / "service"
    root = service_dir / "instances"
    (root / "vm1").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "vm1").mkdir(parents=True)
    secret = elsewhere / "vm1" / "console.log"
    secret.write_bytes(b"root only\n")
    secret.chmod(0o400)

    result = run_attack("root-swap", str(root), str(elsewhere), config=daemon_config, timeout=60)

    assert result["outcome"] == "refused"
    assert result["error"] == "DaemonStartError"
    assert secret.read_bytes() == b"root only\n"


def test_a_directory_of_roots_renamed_into_the_root_before_a_restart_is_refused(
        tmp_path: Path, daemon_config: Path, system_user: str) -> None:  # noqa: F811 - fixture
    # No symlink this time: the service user owns the root's parent, which also holds a directory
    # of root's. Renaming within a directory one may write needs no other right, so it can put
    # that directory in the root's place; the restarted daemon must not take it for the root.
    service_dir = tmp_path / "service"
    root = service_dir / "instances"
    (root / "vm1").mkdir(parents=True)
    sibling = service_dir / "secrets"
    (sibling / "vm1").mkdir(parents=True)
    secret = sibling / "vm1" / "console.log"
    secret.write_bytes(b"root only\n")
    secret.chmod(0o400)
    sibling.chmod(0o700)
    account = pwd.getpwnam(system_user)
    for directory in (service_dir, root, root / "vm1"):
        os.chown(directory, account.pw_uid, account.pw_gid)

    result = run_attack("root-rename", str(root), str(sibling), system_user,
                        config=daemon_config, timeout=60)

    assert result["outcome"] == "refused"
    assert result["error"] == "DaemonStartError"
    assert (root / "vm1" / "console.log").read_bytes() == b"root only\n"  # the sibling's file


def race_outcome(tmp_path: Path, config: Path, seconds: float) -> dict[str, object]:
    root = tmp_path / "instances"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    return run_attack("race", str(root), str(outside), str(seconds), config=config,
                      timeout=seconds + 120)


def test_a_short_directory_swap_race_never_writes_outside_the_root(tmp_path: Path,
                                                                  daemon_config: Path) -> None:
    result = race_outcome(tmp_path, daemon_config, 3)
    assert result["outside_bytes"] == 0
    assert isinstance(result["calls"], int) and result["calls"] > 0


@pytest.mark.slow
def test_a_minute_of_directory_swap_race_never_writes_outside_the_root(tmp_path: Path,
                                                                      daemon_config: Path) -> None:
    result = race_outcome(tmp_path, daemon_config, RACE_SECONDS)
    assert result["outside_bytes"] == 0
    # The race ran: some appends met the symlink and were refused or failed, others went in.
    assert isinstance(result["calls"], int) and result["calls"] > 1000
    assert result["refused"] or result["failed"]
