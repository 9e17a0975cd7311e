"""How the channel fails: protocol violations, daemon death, timeouts, start and fork hazards."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import contexts
import pytest
from support import (  # noqa: F401 - fixtures are used by name
    raised_when_killed_mid_call,
    stop_test_contexts,
)
from tests.conftest import requires_root

from leastpriv import CallTimeout, DaemonDied, DaemonStartError, Error, caps, wire
from leastpriv.context import PrivContext

pytestmark = requires_root


def inject_and_expect_close(raw: bytes) -> int:
    """Write `raw` on the files context's channel; the daemon must close it. Returns the old pid."""
    assert contexts.add_privileged(1, 1) == 2
    old_pid = contexts.files.daemon_pid
    channel = contexts.files._daemon.launched.channel
    channel._sock.sendall(raw)
    with pytest.raises(DaemonDied):
        channel.ping(10)
    return old_pid


def protocol_failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "leastpriv.daemon" and r.levelno == logging.ERROR]


@pytest.mark.parametrize("raw", [
    pytest.param(wire.HEADER.pack(4) + b"\xc1\xc1\xc1\xc1", id="malformed"),
    pytest.param(wire.HEADER.pack(64 * 1024 * 1024), id="oversize"),
    pytest.param(wire.frame(wire.new_packer(), [wire.Kind.CALL, 99, "os.system", {"c": "id"}],
                            1 << 20), id="unregistered-name"),
    pytest.param(wire.frame(wire.new_packer(), [wire.Kind.HELLO, 0], 1 << 20), id="wrong-kind"),
])
def test_protocol_failure_closes_the_channel_and_the_next_call_works(
        raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        old_pid = inject_and_expect_close(raw)
    assert len(protocol_failures_logged(caplog)) == 1
    assert contexts.add_privileged(2, 2) == 4
    assert contexts.files.daemon_pid not in (None, old_pid)


def test_oversize_request_is_refused_before_sending_and_the_channel_stays_usable() -> None:
    assert contexts.add_privileged(0, 1) == 1
    pid = contexts.files.daemon_pid
    with pytest.raises(Error) as caught:
        contexts.echo_privileged(b"x" * (17 * 1024 * 1024))
    assert not isinstance(caught.value, DaemonDied)
    assert contexts.add_privileged(1, 1) == 2
    assert contexts.files.daemon_pid == pid


@pytest.mark.parametrize("call", [
    pytest.param(contexts.unsendable_reply_privileged, id="unsendable"),
    pytest.param(lambda: contexts.oversize_reply_privileged(17 * 1024 * 1024), id="oversize"),
])
def test_a_reply_that_cannot_be_sent_becomes_an_error_and_the_daemon_serves_on(
        call: Callable[[], object]) -> None:
    assert contexts.add_privileged(0, 1) == 1
    pid = contexts.files.daemon_pid
    # More failed replies than the daemon has worker threads: none of them may cost a worker.
    for _ in range(12):
        with pytest.raises(Error) as caught:
            call()
        assert not isinstance(caught.value, (DaemonDied, CallTimeout))
    assert contexts.add_privileged(1, 1) == 2
    assert contexts.files.daemon_pid == pid


def test_sigkill_mid_call_raises_daemon_died_and_the_next_call_restarts_by_fork() -> None:
    assert contexts.quick_add_privileged(1, 1) == 2
    old_pid = contexts.quick.daemon_pid
    raised = raised_when_killed_mid_call(lambda: contexts.sleep_privileged(20.0), old_pid)
    assert raised == [DaemonDied]
    assert contexts.quick_add_privileged(2, 3) == 5
    assert contexts.quick.daemon_pid != old_pid
    assert contexts.quick._daemon.launched.method == "fork"


def test_timeout_raises_call_timeout_and_other_calls_are_still_served() -> None:
    assert contexts.quick_add_privileged(0, 0) == 0
    for _ in range(3):  # three of the pool's four threads stay busy sleeping
        with pytest.raises(CallTimeout):
            contexts.slow_privileged(3.0)
    assert [contexts.quick_add_privileged(i, i) for i in range(20)] == [2 * i for i in range(20)]


@pytest.mark.parametrize("pause", [0.0, 0.2], ids=["sent-together", "sent-after"])
def test_a_call_behind_a_slow_one_is_answered_while_the_slow_one_still_runs(pause: float) -> None:
    # The daemon's reading thread runs what it reads; a slow request must not keep the next
    # one (read with it, or arriving later) waiting, nor hold its reply back.
    contexts.quick.stop()  # a fresh daemon: no worker still busy with an earlier test's sleep
    assert contexts.quick_add_privileged(0, 0) == 0
    sleeper = threading.Thread(target=contexts.sleep_privileged, args=(1.0,))
    sleeper.start()
    time.sleep(pause)
    assert contexts.quick_add_privileged(2, 2) == 4
    assert sleeper.is_alive()
    sleeper.join()


def test_a_send_interrupted_part_way_ends_the_channel_and_the_next_call_works() -> None:
    assert contexts.quick_add_privileged(1, 1) == 2
    channel = contexts.quick._daemon.launched.channel
    real = channel._sock

    class Interrupting:
        def sendall(self, data: bytes) -> None:
            real.sendall(data[:3])  # half a frame header reaches the daemon
            raise KeyboardInterrupt

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    channel._sock = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        contexts.quick_add_privileged(2, 2)
    channel._sock = real
    assert channel.dead
    assert contexts.quick_add_privileged(3, 3) == 6


def test_fork_setup_failure_raises_daemon_start_error_and_never_runs_caller_code(
        tmp_path: Path) -> None:
    context = PrivContext("leastpriv_tests.no_user", capabilities=[caps.CAP_CHOWN],
                          user="lp-no-such-user-4f1c")

    @context.entrypoint
    def nouser_add_privileged(a: int, b: int) -> int:
        return a + b

    sentinel = tmp_path / "sentinel"
    with pytest.raises(DaemonStartError):
        nouser_add_privileged(1, 2)
    # Code after the failed start: a child that unwound would run it too, with its own pid.
    with open(sentinel, "a") as marks:
        marks.write(f"{os.getpid()}\n")
    time.sleep(0.2)
    assert sentinel.read_text().split() == [str(os.getpid())]
    assert not context.running


def test_fork_while_other_threads_hammer_logging_does_not_hang(tmp_path: Path) -> None:
    logger = logging.getLogger("leastpriv_tests.hammer")
    handler = logging.FileHandler(tmp_path / "hammer.log")
    logger.addHandler(handler)
    logger.propagate = False
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            logger.warning("busy %s", "logging")

    hammers = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in hammers:
        thread.start()
    context = PrivContext("leastpriv_tests.hammered", capabilities=[caps.CAP_CHOWN],
                          user="nobody")

    @context.entrypoint
    def hammered_add_privileged(a: int, b: int) -> int:
        logging.getLogger("leastpriv_tests.hammer").warning("inside")
        return a + b

    try:
        for i in range(10):
            assert hammered_add_privileged(i, 1) == i + 1
            context.stop()
    finally:
        stop.set()
        for thread in hammers:
            thread.join()
        logger.removeHandler(handler)
        handler.close()
