"""Real daemons started as root: capability sets, kernel refusals, contracts, threads, errors."""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import contexts
import pytest
from support import (  # noqa: F401 - fixtures are used by name
    functional_pythonpath,
    netns,
    root_dir,
    status_sets,
    stop_test_contexts,
    system_user,
)
from tests.conftest import requires_root

from leastpriv import ContractViolation, RemoteError, caps
from leastpriv.context import PrivContext
from leastpriv.contract import Range

pytestmark = requires_root


def test_daemon_holds_exactly_the_declared_capabilities() -> None:
    assert contexts.add_privileged(2, 3) == 5
    sets = status_sets(contexts.files.daemon_pid)
    declared = frozenset({caps.CAP_CHOWN})
    assert (sets.effective, sets.permitted, sets.inheritable, sets.bounding) == (declared,) * 4
    assert sets.ambient == declared  # not uid 0: its commands keep the set through ambient
    assert sets.no_new_privs


def test_chown_works_with_cap_chown(root_dir: Path) -> None:
    target = root_dir / "owned"
    target.write_text("x")
    contexts.chown_privileged(str(target), 4321, 4322)
    assert (target.stat().st_uid, target.stat().st_gid) == (4321, 4322)


def test_chown_without_cap_chown_fails_with_eperm(root_dir: Path) -> None:
    target = root_dir / "not-owned"
    target.write_text("x")
    with pytest.raises(PermissionError) as caught:
        contexts.plain_chown_privileged(str(target), 4321, 4321)
    assert caught.value.errno == errno.EPERM
    assert caught.value.filename == str(target)
    assert target.stat().st_uid == 0


def run_in_namespace(namespace: str, entrypoint: str) -> dict[str, object]:
    """Run the caller inside `namespace`, so its forked daemon acts on that namespace only."""
    script = (
        "import json, contexts\n"
        f"try:\n    contexts.{entrypoint}({namespace!r}); print(json.dumps({{'ok': True}}))\n"
        "except Exception as exc:\n"
        "    print(json.dumps({'ok': False, 'type': type(exc).__name__}))\n"
    )
    env = dict(os.environ, PYTHONPATH=functional_pythonpath())
    done = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", script],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def loopback_is_up(namespace: str) -> bool:
    shown = subprocess.run(["ip", "-n", namespace, "-j", "link", "show", "lo"],
                           capture_output=True, text=True, check=True)
    return "UP" in json.loads(shown.stdout)[0]["flags"]


def test_link_up_in_a_namespace_works_with_cap_net_admin(netns: str) -> None:
    assert run_in_namespace(netns, "link_up_privileged") == {"ok": True}
    assert loopback_is_up(netns)


def test_link_up_without_cap_net_admin_fails(netns: str) -> None:
    outcome = run_in_namespace(netns, "files_link_up_privileged")
    assert outcome == {"ok": False, "type": "CalledProcessError"}
    assert not loopback_is_up(netns)


def make_user_context(user: str) -> tuple[PrivContext, object, object]:
    context = PrivContext("leastpriv_tests.as_user", capabilities=[caps.CAP_CHOWN], user=user)

    @context.entrypoint
    def user_add_privileged(a: Annotated[int, Range(0, 10)], b: int) -> int:
        return a + b

    @context.entrypoint
    def user_command_status_privileged() -> str:
        return subprocess.run(["cat", "/proc/self/status"], check=True, capture_output=True,
                              text=True).stdout

    return context, user_add_privileged, user_command_status_privileged


def test_user_daemon_runs_as_that_user_with_the_declared_set(system_user: str) -> None:
    import pwd

    context, add, _ = make_user_context(system_user)
    try:
        assert add(1, 2) == 3
        sets = status_sets(context.daemon_pid)
        declared = frozenset({caps.CAP_CHOWN})
        assert sets.uid == pwd.getpwnam(system_user).pw_uid
        assert (sets.effective, sets.permitted, sets.inheritable, sets.bounding,
                sets.ambient) == (declared,) * 5
        assert sets.no_new_privs
    finally:
        context.stop()


def test_command_run_by_user_daemon_has_exactly_the_declared_set(system_user: str) -> None:
    context, _, command_status = make_user_context(system_user)
    try:
        sets = caps.parse_process_status(command_status())
        declared = frozenset({caps.CAP_CHOWN})
        assert (sets.effective, sets.permitted, sets.bounding, sets.ambient) == (declared,) * 4
    finally:
        context.stop()


def test_command_run_by_root_daemon_gets_no_more_than_the_declared_set() -> None:
    sets = caps.parse_process_status(contexts.command_status_privileged())
    assert sets.permitted <= frozenset({caps.CAP_CHOWN})
    assert sets.bounding == frozenset({caps.CAP_CHOWN})


def test_dotdot_escape_is_refused(root_dir: Path) -> None:
    with pytest.raises(ContractViolation):
        contexts.chown_privileged(f"{root_dir}/../../../etc/passwd", 1, 1)


def test_symlink_escape_is_refused_by_the_daemon(root_dir: Path) -> None:
    (root_dir / "link").symlink_to("/etc/passwd")
    before = os.stat("/etc/passwd").st_uid
    with pytest.raises(ContractViolation):
        contexts.chown_privileged(str(root_dir / "link"), 4321, 4321)
    assert os.stat("/etc/passwd").st_uid == before


def test_daemon_refuses_a_symlink_escape_when_the_client_check_is_bypassed(
        root_dir: Path) -> None:
    target = root_dir / "swapped"
    target.symlink_to("/etc/shadow")
    contexts.add_privileged(0, 0)
    channel = contexts.files._daemon.launched.channel  # a raw request, as a buggy client would send
    with pytest.raises(ContractViolation):
        channel.call("contexts.chown_privileged", {"path": str(target), "uid": 1, "gid": 1}, 10)
    assert contexts.add_privileged(1, 1) == 2  # a contract failure leaves the channel serving


def test_64_threads_of_200_calls_all_get_their_own_answers() -> None:
    failures: list[object] = []

    def caller(offset: int) -> None:
        for i in range(200):
            got = contexts.add_privileged(offset, i)
            if got != offset + i:
                failures.append((offset, i, got))

    threads = [threading.Thread(target=caller, args=(n * 1000,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def cpu_seconds(pid: int) -> float:
    """CPU time process `pid` has used, all threads (its CPU-time clock, as clock_getcpuclockid)."""
    return time.clock_gettime(((~pid) << 3) | 2)


def test_an_idle_daemon_and_a_caller_waiting_on_a_slow_call_stop_polling_and_block() -> None:
    # Both ends poll briefly before blocking (wire.SpinWait); neither may keep polling once the
    # other side goes quiet. The bound is far above a blocked process's CPU use (near zero) and
    # far below a polling one's (the whole interval).
    for i in range(2000):  # back-to-back calls: both ends' windows grow to the largest
        contexts.add_privileged(i, 1)
    daemon = contexts.files.daemon_pid
    assert daemon is not None
    daemon_before, caller_before = cpu_seconds(daemon), time.process_time()
    contexts.sleep_privileged(1.0)  # the caller waits one second for this reply
    time.sleep(1.0)  # and the daemon waits one second for the next request
    assert time.process_time() - caller_before < 0.25
    assert cpu_seconds(daemon) - daemon_before < 0.25


def test_file_not_found_keeps_errno_and_filename(root_dir: Path) -> None:
    missing = str(root_dir / "missing")
    with pytest.raises(FileNotFoundError) as caught:
        contexts.fail_privileged("missing", missing)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOENT, missing)


def test_exception_class_loaded_in_caller_comes_back_with_its_args(root_dir: Path) -> None:
    with pytest.raises(contexts.CustomFailure) as caught:
        contexts.fail_privileged("custom", str(root_dir))
    assert caught.value.args == ([1, 2], "two")
    assert type(caught.value.args[0]) is list


def test_unknown_exception_class_becomes_remote_error_with_traceback(root_dir: Path) -> None:
    with pytest.raises(RemoteError) as caught:
        contexts.fail_privileged("unknown", str(root_dir))
    assert caught.value.class_name == "leastpriv_tests_daemon_only.DaemonOnlyFailure"
    assert "fail_privileged" in caught.value.remote_traceback


def test_lists_stay_lists_and_tuples_stay_tuples() -> None:
    got = contexts.shapes_privileged([1, 2])
    assert got == {"list": [1, 2], "tuple": (1, 2), "nested": [(1, 2), [[1, 2]]]}
    assert type(got["list"]) is list and type(got["tuple"]) is tuple


def test_bytes_round_trip_unchanged() -> None:
    payload = os.urandom(1 << 20)
    assert contexts.echo_privileged(payload) == payload


def test_log_records_reach_the_caller_under_their_logger_name(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        contexts.log_privileged("from inside")
    inside = [r for r in caplog.records if r.name == "leastpriv_tests.inside"]
    assert [(r.levelno, r.getMessage()) for r in inside] == [(logging.WARNING, "from inside")]


def test_no_descriptor_of_the_caller_leaks_into_the_daemon(tmp_path: Path) -> None:
    context = PrivContext("leastpriv_tests.fds", capabilities=[caps.CAP_CHOWN], user="nobody")

    @context.entrypoint
    def fds_add_privileged(a: int, b: int) -> int:
        return a + b

    with open(tmp_path / "caller-secret", "w") as secret:
        inheritable = os.dup(secret.fileno())
        os.set_inheritable(inheritable, True)
        try:
            assert fds_add_privileged(1, 1) == 2
            fd_dir = Path(f"/proc/{context.daemon_pid}/fd")
            targets = {int(fd.name): os.readlink(fd) for fd in fd_dir.iterdir()}
        finally:
            os.close(inheritable)
            context.stop()
    channel_fds = set(targets) - {0, 1, 2}
    assert [targets[fd].startswith("socket:") for fd in channel_fds] == [True]
    assert [targets[fd] for fd in (0, 1, 2)] == ["/dev/null"] * 3
