"""Every id of a daemon started through real sudo (issue 8, deliverable 1, read back from /proc):
real, effective, saved and filesystem uid and gid are the service user's, its only group is its
own (none of root's), and its ambient set is exactly the declared one."""

# ruff: noqa: F811 - fixtures imported from their modules are parameters by the same name

from __future__ import annotations

import json
import pwd
from pathlib import Path

from support import system_user  # noqa: F401 - a fixture
from test_exec_helper import DECLARED, readable_tree, run_caller, sudoers_rule  # noqa: F401
from tests.conftest import requires_root

from leastpriv import caps

pytestmark = requires_root


def _fields(status: str, key: str) -> list[int]:
    line = next(line for line in status.splitlines() if line.startswith(f"{key}:"))
    return [int(field) for field in line.split()[1:]]


def test_a_daemon_started_through_sudo_keeps_no_id_or_group_of_roots(
        system_user: str, readable_tree: Path, sudoers_rule: Path) -> None:
    done = run_caller(system_user, readable_tree)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)["status"]
    user = pwd.getpwnam(system_user)
    assert _fields(status, "Uid") == [user.pw_uid] * 4  # real, effective, saved, filesystem
    assert _fields(status, "Gid") == [user.pw_gid] * 4
    assert _fields(status, "Groups") == [user.pw_gid]
    assert caps.parse_process_status(status).ambient == DECLARED
