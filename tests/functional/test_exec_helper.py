"""The exec launch method: root runs the helper itself; an unprivileged caller goes through sudo."""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import contexts
import msgpack
import pytest
from support import (  # noqa: F401 - fixtures are used by name
    functional_pythonpath,
    raised_when_killed_mid_call,
    status_sets,
    stop_test_contexts,
    system_user,
)
from tests.conftest import requires_root

import leastpriv
from leastpriv import DaemonDied, DaemonStartError, caps
from leastpriv.privileged.daemon import EXIT_SETUP_FAILED

pytestmark = requires_root
DECLARED = frozenset({caps.CAP_CHOWN})


@pytest.fixture
def helper_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The helper imports the test contexts by name; the daemon user is named in a config file,
    as a root service's operator would (`execd` names none)."""
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())
    config = tmp_path / "leastpriv.toml"
    config.write_text('[leastpriv_tests_execd]\nuser = "nobody"\n')
    monkeypatch.setenv("LEASTPRIV_CONFIG", str(config))


def assert_exactly_declared(pid: int, uid: int) -> None:
    sets = status_sets(pid)
    assert (sets.effective, sets.permitted, sets.inheritable, sets.bounding) == (DECLARED,) * 4
    assert sets.ambient == DECLARED and sets.no_new_privs and sets.uid == uid


def is_helper(pid: int) -> bool:
    return b"leastpriv.privileged.helper" in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_root_exec_helper_serves_with_exactly_the_declared_set(helper_path: None) -> None:
    contexts.execd.start(method="exec")
    assert contexts.exec_add_privileged(20, 22) == 42
    pid = contexts.execd.daemon_pid
    assert is_helper(pid)
    assert_exactly_declared(pid, pwd.getpwnam("nobody").pw_uid)


def test_root_exec_helper_refuses_to_stay_uid0_when_no_user_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())
    monkeypatch.delenv("LEASTPRIV_CONFIG", raising=False)
    contexts.execd.stop()
    with pytest.raises(DaemonStartError):
        contexts.execd.start(method="exec")
    assert not contexts.execd.running


def test_exec_daemon_killed_mid_call_restarts_by_exec(helper_path: None) -> None:
    contexts.execd.start(method="exec")
    old_pid = contexts.execd.daemon_pid
    raised = raised_when_killed_mid_call(lambda: contexts.exec_sleep_privileged(20.0), old_pid)
    assert raised == [DaemonDied]
    assert contexts.exec_add_privileged(1, 2) == 3
    assert contexts.execd.daemon_pid != old_pid
    assert is_helper(contexts.execd.daemon_pid)


CALLER = """
import json, sys, contexts
# The service's own choice of helper command (no configuration file: under sudo the helper reads
# one only from /etc/leastpriv).
contexts.execd._defaults = contexts.execd._defaults._replace(helper_command=("sudo", "-n",
                                                                            sys.argv[1]))
result = contexts.exec_add_privileged(40, 2)
pid = contexts.execd.daemon_pid
with open(f"/proc/{pid}/status") as status:
    print(json.dumps({"result": result, "pid": pid, "status": status.read()}))
"""


@pytest.fixture
def readable_tree() -> Iterator[Path]:
    """leastpriv, msgpack and the test contexts in a tree any user can read (/root is 0700)."""
    tree = Path(tempfile.mkdtemp(prefix="lp-sudo-"))
    tree.chmod(0o755)
    shutil.copytree(Path(leastpriv.__file__).parent, tree / "leastpriv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(msgpack.__file__).parent, tree / "msgpack",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(Path(contexts.__file__), tree / "contexts.py")
    (tree / "caller.py").write_text(CALLER)
    helper = tree / "helper"
    # sudo resets the environment, so the wrapper sets the import path itself; from / (-m puts
    # the working directory on sys.path), as an installed console script would run.
    helper.write_text(f"#!/bin/sh\ncd / && PYTHONPATH={tree} exec /usr/bin/python3 -s "
                      f"-m leastpriv.privileged.helper \"$@\"\n")
    for path in [tree, *tree.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or path == helper else 0o644)
    yield tree
    shutil.rmtree(tree, ignore_errors=True)


@pytest.fixture
def sudoers_rule(system_user: str, readable_tree: Path) -> Iterator[Path]:
    """Allow exactly the wrapper, without a password, for the test user only."""
    rule = Path(f"/etc/sudoers.d/{system_user}")
    rule.write_text(f"{system_user} ALL=(root) NOPASSWD: {readable_tree / 'helper'}\n")
    rule.chmod(0o440)
    try:
        subprocess.run(["visudo", "-cf", str(rule)], check=True, capture_output=True)
        yield rule
    finally:
        rule.unlink()


def run_caller(user: str, tree: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(tree), "HOME": "/"}
    return subprocess.run(["/usr/bin/python3", str(tree / "caller.py"), str(tree / "helper")],
                          user=user, group=pwd.getpwnam(user).pw_gid, extra_groups=[],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=60)


def run_helper(user: str, tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The service user running the helper through sudo with arguments of its choosing."""
    return subprocess.run(["sudo", "-n", str(tree / "helper"), "--context", "contexts:execd",
                           *args], user=user, group=pwd.getpwnam(user).pw_gid, extra_groups=[],
                          cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/"},
                          capture_output=True, text=True, timeout=60)


def test_unprivileged_caller_starts_its_daemon_through_sudo(
        system_user: str, readable_tree: Path, sudoers_rule: Path) -> None:
    done = run_caller(system_user, readable_tree)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == 42
    sets = caps.parse_process_status(report["status"])
    assert (sets.effective, sets.permitted, sets.inheritable, sets.bounding) == (DECLARED,) * 4
    # No user named: the daemon runs as the service that asked sudo for it, never as uid 0.
    user = pwd.getpwnam(system_user)
    assert (sets.uid, sets.gid) == (user.pw_uid, user.pw_gid)
    assert sets.ambient == DECLARED and sets.no_new_privs


def test_under_sudo_code_in_a_directory_the_caller_could_write_is_refused(
        system_user: str, readable_tree: Path, sudoers_rule: Path) -> None:
    readable_tree.chmod(0o777)  # the service user could edit or add any module in it
    done = run_caller(system_user, readable_tree)
    assert done.returncode != 0
    assert "leastpriv.errors.DaemonStartError" in done.stderr
    assert f"PolicyError: {readable_tree}" in done.stderr  # names the path


@pytest.fixture
def root_listener(tmp_path: Path) -> Iterator[tuple[Path, socket.socket]]:
    """A socket root listens on in a directory only root may enter (like /run/some.sock)."""
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(private / "sock"))
    listener.listen(1)
    yield private / "sock", listener
    listener.close()


def bytes_received(listener: socket.socket) -> bytes:
    """Whatever reached the listener (no connection at all: nothing)."""
    listener.setblocking(False)
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return b""
    with conn:
        conn.settimeout(5)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_under_sudo_the_helper_writes_nothing_to_a_root_socket(
        system_user: str, readable_tree: Path, sudoers_rule: Path,
        root_listener: tuple[Path, socket.socket]) -> None:
    path, listener = root_listener
    done = run_helper(system_user, readable_tree, "--socket", str(path))
    assert done.returncode == EXIT_SETUP_FAILED
    assert bytes_received(listener) == b""


def test_under_sudo_a_link_in_the_callers_own_directory_to_a_root_socket_gets_nothing(
        system_user: str, readable_tree: Path, sudoers_rule: Path, tmp_path: Path,
        root_listener: tuple[Path, socket.socket]) -> None:
    path, listener = root_listener
    own = tmp_path / "own"
    own.mkdir(mode=0o700)
    (own / "channel").symlink_to(path)
    os.chown(own, pwd.getpwnam(system_user).pw_uid, -1)
    done = run_helper(system_user, readable_tree, "--socket", str(own / "channel"))
    assert done.returncode == EXIT_SETUP_FAILED
    assert bytes_received(listener) == b""  # connected, saw root at the other end, wrote nothing


def test_under_sudo_a_root_only_file_named_as_config_is_refused_without_echoing_it(
        system_user: str, readable_tree: Path, sudoers_rule: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")  # not TOML: line 1, column 5
    secret.chmod(0o600)
    done = run_helper(system_user, readable_tree, "--socket", str(tmp_path / "none"),
                      "--config", str(secret))
    assert done.returncode == EXIT_SETUP_FAILED
    assert "PolicyError" in done.stderr
    assert "SECRETHASH" not in done.stderr and "column" not in done.stderr
