"""leastpriv.compat end to end: oslo.privsep-style contexts served by leastpriv's daemon, forked
and through the ``privsep-helper`` command line, with the daemon's sets read from /proc."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forking import in_forked_child
from system_users import made_user

cfg = pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
import compatpkg  # noqa: E402
from compatpkg import netops  # noqa: E402
from oslo_config import fixture as cfg_fixture  # noqa: E402

from leastpriv import caps  # noqa: E402
from leastpriv.compat import comm, priv_context  # noqa: E402
from leastpriv.errors import DaemonDied, NestedCallRefused  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real daemons")
HERE = Path(__file__).parent
SRC = Path(__file__).parents[3] / "src"


@pytest.fixture(scope="module")
def daemon_user() -> Iterator[str]:
    """A user made for these tests (removed afterwards), whom the forked daemons run as."""
    with made_user(f"lpcompat{os.getpid() % 100000}") as name:
        yield name


@pytest.fixture
def marks() -> Iterator[Path]:
    """Where an imported test module leaves its mark: a directory the daemon's user can reach."""
    directory = Path(tempfile.mkdtemp(prefix="lpcompat-marks-"))
    directory.chmod(0o777)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture(params=[priv_context.Method.FORK, priv_context.Method.ROOTWRAP],
                ids=["fork", "rootwrap"])
def started(request: pytest.FixtureRequest, tmp_path: Path, daemon_user: str, marks: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[priv_context.PrivContext]:
    fixture = cfg_fixture.Config(cfg.CONF)
    fixture.setUp()
    # No daemon is uid 0 unless its section says so. The exec'd one imports compatpkg.netops
    # after its drop, from an interpreter that may live where only root reads (/root): root,
    # declared; the forked one has its code already and runs as the test's user.
    user = daemon_user if request.param is priv_context.Method.FORK else "root"
    # In the operator's file, which the exec'd helper reads too (it parses no caller's options).
    config = tmp_path / "leastpriv.toml"
    config.write_text(f'[compat_netadmin]\nuser = "{user}"\n')
    monkeypatch.setenv("LEASTPRIV_CONFIG", str(config))
    # The helper runs the way oslo.privsep's tests run theirs: a command that ends in the
    # privsep-helper entry point, given --privsep_context and --privsep_sock_path.
    fixture.config(group="compat_netadmin",
                   helper_command=f"{sys.executable} -m leastpriv.compat.daemon")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(SRC)]))
    context = compatpkg.netadmin
    context.start(request.param)
    yield context
    context.stop()
    fixture.cleanUp()


def test_daemon_holds_exactly_the_declared_capabilities(started: priv_context.PrivContext
                                                         ) -> None:
    pid = netops.getpid()
    assert pid != os.getpid()
    held = caps.read_process_capabilities(pid)
    assert held.effective == held.permitted == held.inheritable == {caps.CAP_NET_ADMIN}
    assert held.bounding == {caps.CAP_NET_ADMIN}
    # Ambient: the declared set for a daemon that is not uid 0, so its commands keep it.
    assert held.ambient == (set() if held.uid == 0 else {caps.CAP_NET_ADMIN})
    assert held.no_new_privs
    assert (held.uid == 0) is (type(started.channel).__name__ == "RootwrapClientChannel")


def test_sequences_arrive_as_tuples(started: priv_context.PrivContext) -> None:
    assert netops.echo([1, [2]], key=[3]) == (((1, (2,)),), {"key": (3,)})


def test_nested_call_of_the_same_context_runs_in_its_daemon(started: priv_context.PrivContext
                                                            ) -> None:
    assert netops.nested_getpid() == netops.getpid() != os.getpid()


def test_nested_call_of_another_context_is_refused(started: priv_context.PrivContext) -> None:
    with pytest.raises(NestedCallRefused):
        netops.nested_other()


def test_exception_is_rebuilt_as_its_class_importing_its_module(
        started: priv_context.PrivContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "compatpkg.errors")  # the caller must import it again
    with pytest.raises(Exception) as raised:
        netops.fail(3, "no such device")
    assert type(raised.value).__module__ == "compatpkg.errors"
    assert (raised.value.exit_code, raised.value.stderr) == (3, "no such device")  # type: ignore[attr-defined]


def test_entrypoint_timeout_raises_privsep_timeout(started: priv_context.PrivContext) -> None:
    with pytest.raises(comm.PrivsepTimeout):
        netops.slow(1.0)
    assert netops.slow(0.01) == 0.01


def test_dead_daemon_is_restarted_by_the_same_method(started: priv_context.PrivContext) -> None:
    first = netops.getpid()
    method = type(started.channel)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(first) and time.monotonic() < deadline:
        time.sleep(0.01)
    # A call that may have been sent to the dead daemon fails (nobody knows if it ran); the
    # channel is then known dead, and the next call starts a new daemon.
    with contextlib.suppress(DaemonDied):
        netops.getpid()
    second = netops.getpid()
    assert second != first
    assert type(started.channel) is method


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _raw_call(context: priv_context.PrivContext, name: str) -> None:
    # What a compromised or buggy caller could send: a name the context never registered.
    context.channel._launched.channel.call(name, {}, 5.0)


def _imported(caplog: pytest.LogCaptureFixture, module: str) -> bool:
    return any(r.getMessage() == f"module {module} imported" for r in caplog.records)


def test_a_module_outside_the_prefix_is_never_imported(started: priv_context.PrivContext,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(DaemonDied):
        _raw_call(started, "outsidepkg.anything")
    assert not _imported(caplog, "outsidepkg")


def test_a_function_below_the_prefix_that_is_no_entrypoint_is_not_served(
        started: priv_context.PrivContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(DaemonDied):
        _raw_call(started, "compatpkg.unlisted.not_an_entrypoint")
    assert _imported(caplog, "compatpkg.unlisted")  # imported (below the prefix), not run


@pytest.mark.parametrize("flag", ["--config-file", "--config-fi"])  # argparse takes the second
def test_privsep_helper_under_sudo_refuses_a_config_file_others_could_write(
        tmp_path: Path, marks: Path, flag: str) -> None:
    # The unprivileged caller names --config-file and root reads it: a file others can write
    # would let them set the daemon's user and group. (sudo sets SUDO_UID; here it is faked.)
    config = marks / "privsep.conf"
    config.write_text("[compat_netadmin]\nuser = root\n")
    config.chmod(0o666)
    socket_path = tmp_path / "privsep.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(socket_path))
        listener.listen(1)
        done = subprocess.run(
            [sys.executable, "-m", "leastpriv.compat.daemon", flag, str(config),
             "--privsep_context", "compatpkg.netadmin", "--privsep_sock_path", str(socket_path)],
            env={**os.environ, "SUDO_UID": "0",
                 "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)])},
            capture_output=True, timeout=60, check=False)
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()  # it never connected
    assert done.returncode == 70  # EXIT_SETUP_FAILED


def test_daemon_logs_are_re_emitted_under_the_logger_name_filtered_by_its_level(
        started: priv_context.PrivContext, caplog: pytest.LogCaptureFixture) -> None:
    # os-brick hides the secrets its commands carry by setting its logger above INFO.
    logging.getLogger("oslo_privsep.daemon").setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.DEBUG):
            netops.log_twice("s3cret")
    finally:
        logging.getLogger("oslo_privsep.daemon").setLevel(logging.NOTSET)
    from_daemon = [(r.name, r.levelno, r.getMessage()) for r in caplog.records
                   if r.name == "oslo_privsep.daemon" and "line" in r.getMessage()]
    assert from_daemon == [("oslo_privsep.daemon", logging.WARNING, "warning line")]


def test_log_daemon_traceback_logs_the_daemon_side_traceback(
        started: priv_context.PrivContext, caplog: pytest.LogCaptureFixture) -> None:
    fixture = cfg_fixture.Config(cfg.CONF)
    fixture.setUp()
    try:
        fixture.config(group="compat_netadmin", log_daemon_traceback=True)
        started.stop()  # the channel reads the option when it starts
        with caplog.at_level(logging.WARNING), pytest.raises(Exception) as raised:
            netops.fail(1, "x")
    finally:
        fixture.cleanUp()
    assert type(raised.value).__name__ == "CommandFailed"
    tracebacks = [r for r in caplog.records if r.name == "oslo_privsep.daemon"
                  and "Traceback" in r.getMessage()]
    assert len(tracebacks) == 1


def test_a_child_of_the_caller_never_uses_its_parents_daemon(
        started: priv_context.PrivContext) -> None:
    # Two processes reading one socket take each other's replies; the child's stop() would shut
    # the parent's channel down. The child starts a daemon of its own.
    parents = netops.getpid()
    answers = in_forked_child([netops.getpid, netops.getpid, os.getpid, started.stop])
    assert len(answers) == 4 and answers[0] == answers[1]
    assert answers[0] not in (parents, answers[2])
    assert netops.getpid() == parents
