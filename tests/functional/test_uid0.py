"""uid 0 is a privilege of its own: a daemon keeps it only when its context declares it.

The attack (issue 8, finding 2): a daemon that declares only CAP_NET_ADMIN, forked by a root
service, used to stay uid 0 and own every root-owned file — it could create a file in a root-only
directory and chmod and append to a root 0400 file, with no capability for files at all.
"""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import contexts
import pytest
from support import root_dir, status_sets, system_user  # noqa: F401 - fixtures are used by name
from tests.conftest import requires_root

from leastpriv import DaemonStartError, caps
from leastpriv.config import CONFIG_ENV
from leastpriv.context import PrivContext
from leastpriv.contract import PathUnder

pytestmark = requires_root

# No user: the daemon may not stay uid 0. The configured variant gets its user from a TOML file.
undeclared = PrivContext("leastpriv_tests.uid0_undeclared", capabilities=[caps.CAP_NET_ADMIN])
configured = PrivContext("leastpriv_tests.uid0_configured", capabilities=[caps.CAP_NET_ADMIN])
declared_root = PrivContext("leastpriv_tests.uid0_declared", capabilities=[caps.CAP_NET_ADMIN],
                            user="root")
ALL = (undeclared, configured, declared_root)


def _create(path: str) -> None:
    with open(path, "x") as new:
        new.write("planted\n")


def _chmod_and_append(path: str) -> None:
    os.chmod(path, 0o666)
    with open(path, "a") as target:
        target.write("appended\n")


def _own_uids() -> list[int]:
    return list(os.getresuid())


# The same three functions on each context (a name is registered once per context).
ENTRYPOINTS = {}
for _context in ALL:
    _suffix = _context.name.rsplit("_", 1)[1]

    def create_privileged(path: Annotated[str, PathUnder(contexts.ROOT)]) -> None:
        _create(path)

    def chmod_and_append_privileged(path: Annotated[str, PathUnder(contexts.ROOT)]) -> None:
        _chmod_and_append(path)

    def uids_privileged() -> list[int]:
        return _own_uids()

    for _function in (create_privileged, chmod_and_append_privileged, uids_privileged):
        _function.__qualname__ = f"{_suffix}_{_function.__name__}"
    ENTRYPOINTS[_context.name] = tuple(_context.entrypoint(f) for f in
                                       (create_privileged, chmod_and_append_privileged,
                                        uids_privileged))


@pytest.fixture(autouse=True)
def stop_contexts() -> Iterator[None]:
    yield
    for context in ALL:
        context.stop()


@pytest.fixture
def root_only(root_dir: Path) -> tuple[Path, Path]:
    """A root 0755 directory and a root 0400 file in it, under the test contexts' root."""
    directory = root_dir / "root-only"
    directory.mkdir(mode=0o755)
    secret = directory / "secret"
    secret.write_text("root's\n")
    secret.chmod(0o400)
    return directory, secret


@pytest.fixture
def daemon_user(system_user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The configured context's daemon runs as a user this test made, named in a TOML file."""
    config = tmp_path / "leastpriv.toml"
    config.write_text(f'[leastpriv_tests_uid0_configured]\nuser = "{system_user}"\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    return system_user


def test_a_root_caller_cannot_fork_an_undeclared_uid0_daemon(root_only: tuple[Path, Path]) -> None:
    directory, secret = root_only
    create, chmod_and_append, _ = ENTRYPOINTS[undeclared.name]
    with pytest.raises(DaemonStartError):
        create(str(directory / "planted"))
    with pytest.raises(DaemonStartError):
        chmod_and_append(str(secret))
    assert not (directory / "planted").exists()
    assert (secret.stat().st_mode & 0o777, secret.read_text()) == (0o400, "root's\n")


def test_a_net_admin_daemon_as_its_configured_user_cannot_touch_root_files(
        root_only: tuple[Path, Path], daemon_user: str) -> None:
    directory, secret = root_only
    create, chmod_and_append, uids = ENTRYPOINTS[configured.name]
    uid = pwd.getpwnam(daemon_user).pw_uid
    assert uids() == [uid, uid, uid]
    with pytest.raises(PermissionError):
        create(str(directory / "planted"))
    with pytest.raises(PermissionError):
        chmod_and_append(str(secret))
    assert not (directory / "planted").exists()
    assert (secret.stat().st_mode & 0o777, secret.read_text()) == (0o400, "root's\n")
    # The declared capability stays in every set, ambient included, for the commands it runs.
    sets = status_sets(configured.daemon_pid)
    assert sets.ambient == sets.effective == sets.bounding == frozenset({caps.CAP_NET_ADMIN})


def test_a_daemon_declared_root_keeps_uid0_and_its_file_access(
        root_only: tuple[Path, Path]) -> None:
    directory, secret = root_only
    create, chmod_and_append, uids = ENTRYPOINTS[declared_root.name]
    assert uids() == [0, 0, 0]
    create(str(directory / "planted"))
    chmod_and_append(str(secret))
    assert (directory / "planted").exists()
    assert secret.read_text() == "root's\nappended\n"


def test_a_daemon_is_not_dumpable(daemon_user: str) -> None:
    _, _, uids = ENTRYPOINTS[configured.name]
    uids()
    status = Path(f"/proc/{configured.daemon_pid}/status")
    # The kernel makes a non-dumpable process's /proc entries root's, not its own uid's.
    assert status.stat().st_uid == 0
