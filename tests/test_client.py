"""The caller's end of the channel, against a scripted daemon on a socketpair (no root needed)."""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Any

import pytest

from leastpriv import wire
from leastpriv.errors import CallTimeout, DaemonDied
from leastpriv.unprivileged import NotSent, client
from leastpriv.unprivileged.client import Channel

RET = wire.Kind.RET.value


class ScriptedDaemon:
    """The daemon's end of a socketpair, driven by the test: read requests, send replies."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = wire.FrameReader(sock)
        self.packer = wire.new_packer()

    def read_call(self) -> list[Any]:
        message = self.reader.read_message()
        assert message is not None and message[0] is wire.Kind.CALL
        return message

    def reply(self, request: list[Any], value: Any) -> None:
        self.sock.sendall(wire.frame(self.packer, [RET, request[1], value], 1 << 20))


class SlowToReturnFromSend:
    """A socket whose sendall returns `delay` seconds after the data went out, for requests
    named `slow`: the reply can arrive, and be handed out, before the sender goes on."""

    def __init__(self, sock: socket.socket, delay: float) -> None:
        self._sock = sock
        self._delay = delay

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)
        if b"slow" in data:
            time.sleep(self._delay)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def make_channel(sock: Any) -> Channel:
    return Channel(sock, max_frame_size=wire.DEFAULT_MAX_FRAME_SIZE, logger_name=None)


def test_replies_out_of_order_reach_the_threads_that_made_the_calls() -> None:
    caller_end, daemon_end = socket.socketpair()
    channel, daemon = make_channel(caller_end), ScriptedDaemon(daemon_end)
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        results[name] = channel.call(name, {}, timeout=10)

    threads = [threading.Thread(target=call, args=(name,)) for name in ("first", "second")]
    requests = []
    for thread in threads:
        thread.start()
        requests.append(daemon.read_call())
    for request in reversed(requests):
        daemon.reply(request, f"reply to {request[2]}")
    for thread in threads:
        thread.join(10)
    assert results == {"first": "reply to first", "second": "reply to second"}
    channel.close()


def test_a_reply_handed_out_while_its_caller_was_still_sending_is_not_waited_for_again() -> None:
    # The reading thread ("reader") gets the reply to "slow" and hands it out before the "slow"
    # thread has come back from sending; that thread must then return it, not start reading for
    # a reply that has already come (it would wait for ever: nothing else arrives).
    caller_end, daemon_end = socket.socketpair()
    channel = make_channel(SlowToReturnFromSend(caller_end, delay=0.3))
    daemon = ScriptedDaemon(daemon_end)
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        results[name] = channel.call(name, {}, timeout=5)

    reader = threading.Thread(target=call, args=("reader",))
    reader.start()
    reader_request = daemon.read_call()
    slow = threading.Thread(target=call, args=("slow",))
    slow.start()
    slow_request = daemon.read_call()
    daemon.reply(slow_request, "slow done")  # read by "reader", which leads
    daemon.reply(reader_request, "reader done")
    reader.join(5)
    slow.join(5)
    assert results == {"reader": "reader done", "slow": "slow done"}
    channel.close()


def test_every_call_in_flight_gets_daemon_died_when_the_daemon_end_closes() -> None:
    caller_end, daemon_end = socket.socketpair()
    channel, daemon = make_channel(caller_end), ScriptedDaemon(daemon_end)
    errors: list[BaseException] = []

    def call(name: str) -> None:
        try:
            channel.call(name, {}, timeout=10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
        daemon.read_call()
    daemon_end.close()
    for thread in threads:
        thread.join(5)
    assert len(errors) == 4 and all(isinstance(exc, DaemonDied) for exc in errors)


# --- SpinWait ---------------------------------------------------------------------------------

def test_spin_wait_grows_its_window_while_data_comes_soon_and_stops_spinning_when_it_does_not(
) -> None:
    a, b = socket.socketpair()
    spin = wire.SpinWait(b)
    if not spin.enabled:
        pytest.skip("this process may run on one CPU only: SpinWait never spins there")
    for _ in range(20):  # a wait counts as short only if the machine did not pause this thread
        spin.window = 0.0
        a.send(b"x")  # already here: a short wait, which a spin would have caught
        assert spin.wait(1.0)
        b.recv(1)
        if spin.window:
            break
    assert spin.window == wire.SpinWait.GROW_START
    for _ in range(3):  # waits far longer than the largest window halve it, down to nothing
        assert not spin.wait(0.002)
    assert spin.window == 0.0


def test_spin_wait_never_spins_in_a_process_bound_to_one_cpu() -> None:
    import multiprocessing

    def child(queue: Any) -> None:
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        a, b = socket.socketpair()
        spin = wire.SpinWait(b)
        a.send(b"x")
        spin.wait(1.0)
        queue.put((spin.enabled, spin.window))

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    enabled, window = queue.get(timeout=10)
    process.join(10)
    assert (enabled, window) == (False, 0.0)


def test_a_send_the_daemon_never_reads_fails_after_the_send_timeout_and_was_never_run() -> None:
    caller_end, daemon_end = socket.socketpair()  # daemon_end is never read
    channel = Channel(caller_end, max_frame_size=wire.DEFAULT_MAX_FRAME_SIZE, logger_name=None,
                      send_timeout=0.2)
    with pytest.raises(NotSent):  # a frame that never went whole: safe to send again elsewhere
        channel.call("big", {"payload": b"x" * (8 << 20)}, timeout=60)
    assert channel.dead
    daemon_end.close()


def test_closing_the_channel_while_a_thread_waits_for_its_reply_fails_that_call_at_once() -> None:
    caller_end, daemon_end = socket.socketpair()
    channel = make_channel(caller_end)
    raised: list[type[BaseException]] = []

    def call() -> None:
        try:
            channel.call("waits", {}, timeout=60)
        except BaseException as exc:
            raised.append(type(exc))

    waiting = threading.Thread(target=call)
    waiting.start()
    ScriptedDaemon(daemon_end).read_call()  # sent: the thread now waits for the reply
    channel.close()
    waiting.join(30)
    assert raised == [DaemonDied]
    daemon_end.close()


def test_readable_without_spinning_takes_a_reply_already_there_and_waits_when_none_is() -> None:
    caller_end, daemon_end = socket.socketpair()
    reader = wire.FrameReader(caller_end)
    assert not reader.readable(0.01, spin=False)
    daemon_end.sendall(wire.frame(wire.new_packer(), [RET, 7, "here"], 1 << 20))
    assert reader.readable(0.01, spin=False)
    assert reader.has_frame()  # already received: the read that follows makes no system call
    assert reader.read_message(spin=False) == [wire.Kind.RET, 7, "here"]
    daemon_end.close()
    assert reader.readable(0.01, spin=False) and reader.read_message(spin=False) is None


class RecordedWait:
    """A `wire.ReadWait` that never spins (as on one CPU) unless `enabled` is set, and records
    each wait it is asked for."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.enabled = False
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None, *, spin: bool = True) -> bool:
        self.waits.append(timeout)
        ready, _, _ = select.select([self._sock], [], [], None if timeout is None
                                    else max(0.0, timeout))
        return bool(ready)


def call_in_thread(channel: Channel, timeout: float) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(channel.call("echo", {}, timeout=timeout))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def test_a_call_far_from_its_deadline_reads_its_reply_in_recv_without_polling_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "RECEIVE_BOUND", 0.1)
    caller_end, daemon_end = socket.socketpair()
    channel, daemon = make_channel(caller_end), ScriptedDaemon(daemon_end)
    recorded = channel._reader.spin = RecordedWait(caller_end)
    # The socket bounds each blocking receive; the reply comes several of those bounds later.
    assert caller_end.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16) == client._timeval(0.1)
    thread, outcome = call_in_thread(channel, timeout=60)
    request = daemon.read_call()
    time.sleep(0.5)
    daemon.reply(request, "late")
    thread.join(30)
    assert outcome == ["late"]
    assert recorded.waits == []  # no poll before any of the receives
    channel.close()
    daemon_end.close()


def test_a_call_nearer_its_deadline_than_the_receive_bound_polls_and_times_out_on_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "RECEIVE_BOUND", 3600.0)  # a receive would outlast the test
    caller_end, daemon_end = socket.socketpair()
    channel, daemon = make_channel(caller_end), ScriptedDaemon(daemon_end)
    recorded = channel._reader.spin = RecordedWait(caller_end)
    thread, outcome = call_in_thread(channel, timeout=0.2)
    daemon.read_call()  # never answered
    thread.join(60)
    assert not thread.is_alive()
    assert [type(result) for result in outcome] == [CallTimeout]
    # Every wait was a poll bounded by the time left, never a receive the socket bounds later.
    assert recorded.waits and None not in recorded.waits
    channel.close()
    daemon_end.close()


def test_a_reader_that_polls_first_waits_at_most_the_receive_bound_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "RECEIVE_BOUND", 0.1)
    caller_end, daemon_end = socket.socketpair()
    channel, daemon = make_channel(caller_end), ScriptedDaemon(daemon_end)
    recorded = channel._reader.spin = RecordedWait(caller_end)
    recorded.enabled = True  # polls before each receive, as on more than one CPU
    thread, outcome = call_in_thread(channel, timeout=60)
    request = daemon.read_call()
    time.sleep(0.5)
    daemon.reply(request, "late")
    thread.join(30)
    assert outcome == ["late"]
    # Several waits, each bounded: none for ever, none for the call's whole minute.
    assert len(recorded.waits) > 1 and set(recorded.waits) == {0.1}
    channel.close()
    daemon_end.close()


def test_a_daemon_that_stalls_inside_a_reply_frame_fails_the_channel_instead_of_hanging(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A daemon stopped (or frozen) after half a reply: the rest of a begun frame is waited for
    # whole, but not for ever. Bounded by the send timeout, as a send to a daemon that reads
    # nothing is (and as a GreenSocket's receive is under eventlet).
    monkeypatch.setattr(client, "RECEIVE_BOUND", 0.1)
    caller_end, daemon_end = socket.socketpair()
    channel = Channel(caller_end, max_frame_size=wire.DEFAULT_MAX_FRAME_SIZE, logger_name=None,
                      send_timeout=0.5)
    daemon = ScriptedDaemon(daemon_end)
    thread, outcome = call_in_thread(channel, timeout=0.3)
    request = daemon.read_call()
    body = wire.packb([RET, request[1], "x" * 100])
    daemon_end.sendall(wire.HEADER.pack(len(body)) + body[:10])  # half a reply, then silence
    thread.join(30)
    assert not thread.is_alive()
    assert [type(result) for result in outcome] == [DaemonDied]
    channel.close()
    daemon_end.close()
