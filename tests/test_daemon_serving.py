"""The daemon's serving loop, run in this process on a socketpair: no privilege drop, no root."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import msgpack
import pytest

from leastpriv import Error, caps, wire
from leastpriv.context import PrivContext
from leastpriv.contract import Range
from leastpriv.privileged import daemon as daemon_module
from leastpriv.privileged import scheduler
from leastpriv.unprivileged.client import Channel

serving = PrivContext("leastpriv_tests.serving", capabilities=[caps.CAP_CHOWN])
flag = threading.Event()
waiting_started = threading.Event()


@serving.entrypoint
def wait_for_flag_privileged(seconds: Annotated[float, Range(0.0, 30.0)]) -> bool:
    waiting_started.set()
    return flag.wait(seconds)


@serving.entrypoint
def set_flag_privileged() -> None:
    flag.set()


WAIT = f"{__name__}.wait_for_flag_privileged"
SET = f"{__name__}.set_flag_privileged"


@pytest.fixture
def channel() -> Iterator[Channel]:
    flag.clear()
    waiting_started.clear()
    caller_end, daemon_end = socket.socketpair()
    registry, config = serving.daemon_spec(None)
    daemon = daemon_module.Daemon(daemon_end, registry, config)
    server = threading.Thread(target=daemon.serve, daemon=True)
    server.start()
    channel = Channel(caller_end, max_frame_size=config.max_frame_size, logger_name=None)
    yield channel
    flag.set()
    channel.close()
    server.join(5)


def watchdog_hand_offs(caplog: pytest.LogCaptureFixture) -> int:
    """How many times the watchdog found a call of WAIT still running and handed it off."""
    return sum(1 for record in caplog.records
               if record.name == "leastpriv.daemon" and record.args and record.args[0] == WAIT)


def wait_behind_which_set_flag_runs(channel: Channel, seconds: float) -> bool:
    """Call WAIT in a thread and, once it runs, SET from here; what WAIT returned."""
    results: list[bool] = []
    waiting_started.clear()
    waiter = threading.Thread(
        target=lambda: results.append(channel.call(WAIT, {"seconds": seconds}, 30)))
    waiter.start()
    assert waiting_started.wait(10)
    assert channel.call(SET, {}, 30) is None
    waiter.join(30)
    return results[0]


def learn_that_wait_is_slow(channel: Channel, caplog: pytest.LogCaptureFixture) -> None:
    """Call WAIT until the watchdog has handed it off (and so learned it slow), then end it.

    Not a WAIT of fixed length: under load the watchdog once came after a 0.2 s WAIT had ended.
    """
    results: list[bool] = []
    waiter = threading.Thread(
        target=lambda: results.append(channel.call(WAIT, {"seconds": 30.0}, 60)))
    waiter.start()
    deadline = time.monotonic() + 30
    while watchdog_hand_offs(caplog) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    flag.set()
    waiter.join(30)
    flag.clear()
    assert results == [True]
    assert watchdog_hand_offs(caplog) == 1


def test_calls_behind_a_known_slow_entrypoint_do_not_wait_for_the_watchdog(
        channel: Channel, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="leastpriv.daemon")
    learn_that_wait_is_slow(channel, caplog)
    # Now the call hands the channel on before it runs: SET is read at once and ends the wait,
    # and the watchdog never had to step in.
    assert wait_behind_which_set_flag_runs(channel, 5.0) is True
    assert watchdog_hand_offs(caplog) == 1


class _NoTimePasses:
    """The scheduler's clock, frozen: every run it times took no time, so a known-slow call that
    returns counts as fast again however long a loaded machine took to run it."""

    @staticmethod
    def perf_counter() -> float:
        return 0.0


def test_an_entrypoint_that_got_fast_again_runs_in_its_reader_again(
        channel: Channel, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # No step may hang on how soon a thread runs: under load the "fast" WAIT was once timed slow
    # (and the watchdog once came after a 0.2 s WAIT had ended): 1 hand-off counted, not 2.
    monkeypatch.setattr(scheduler, "time", _NoTimePasses)
    caplog.set_level(logging.DEBUG, logger="leastpriv.daemon")
    learn_that_wait_is_slow(channel, caplog)
    flag.set()
    assert channel.call(WAIT, {"seconds": 0.2}, 30) is True  # fast this time: forgotten
    flag.clear()
    # Run in its reader again, so only the watchdog lets SET through, and learns once more.
    assert wait_behind_which_set_flag_runs(channel, 5.0) is True
    assert watchdog_hand_offs(caplog) == 2


@serving.entrypoint
def deep_reply_privileged(depth: Annotated[int, Range(1, 100)]) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_a_reply_nested_too_deep_for_the_caller_is_an_error_and_the_channel_lives_on(
        channel: Channel) -> None:
    name = f"{__name__}.deep_reply_privileged"
    with pytest.raises(Error):
        channel.call(name, {"depth": wire.MAX_DEPTH}, 30)  # with the reply's own array: too deep
    assert channel.call(name, {"depth": 2}, 30) == [[]]


SERVE_AND_ATTACK = """
import socket, sys, threading
from leastpriv.privileged.daemon import Daemon
from test_daemon_serving import serving
caller, daemon_end = socket.socketpair()
registry, config = serving.daemon_spec(None)
server = threading.Thread(target=Daemon(daemon_end, registry, config).serve)
server.start()
caller.sendall(bytes.fromhex(sys.stdin.read()))
print("closed" if caller.recv(1) == b"" else "open", flush=True)
server.join(10)
print("ended" if not server.is_alive() else "serving", flush=True)
"""


def test_a_frame_of_deeply_nested_tuples_closes_the_channel_without_crashing_the_daemon() -> None:
    # One ~2 KB frame killed the daemon with SIGSEGV; now it is a protocol failure. In a child
    # process, so that a crash is an outcome the test sees.
    body = msgpack.packb(msgpack.ExtType(1, b"\x90"))
    for _ in range(449):
        body = msgpack.packb(msgpack.ExtType(1, b"\x91" + body))
    frame = wire.HEADER.pack(len(body)) + body
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SERVE_AND_ATTACK], input=frame.hex(), env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.split()) == (0, ["closed", "ended"])


@serving.entrypoint
def nap_privileged(seconds: Annotated[float, Range(0.0, 1.0)]) -> float:
    time.sleep(seconds)
    return seconds


def test_a_lone_call_slower_than_the_watchdog_tick_gets_its_reply_on_one_cpu() -> None:
    # Issue 8, finding 9: on one CPU the reader never polls, and the worker the watchdog had
    # handed off looked at a buffer it no longer owned, held its reply back, and nobody sent it.
    outcome: list[object] = []

    def pinned() -> None:  # this thread and the daemon's, which it starts, run on one CPU
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        caller_end, daemon_end = socket.socketpair()
        registry, config = serving.daemon_spec(None)
        daemon = daemon_module.Daemon(daemon_end, registry, config)
        threading.Thread(target=daemon.serve, daemon=True).start()
        channel = Channel(caller_end, max_frame_size=config.max_frame_size, logger_name=None)
        try:
            for _ in range(3):
                outcome.append(channel.call(f"{__name__}.nap_privileged", {"seconds": 0.05}, 10))
        except Exception as exc:
            outcome.append(exc)
        finally:
            channel.close()

    thread = threading.Thread(target=pinned)
    thread.start()
    thread.join(60)
    assert outcome == [0.05, 0.05, 0.05]
