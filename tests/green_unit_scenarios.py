"""Scenarios for tests/test_green.py, run in a fresh interpreter that monkey-patches first (the
patching cannot be undone in pytest's own process). No daemon: the other end of the channel is
scripted here, in a green thread. Prints one JSON object.

    python green_unit_scenarios.py SCENARIO
"""

# ruff: noqa: E402 - eventlet must patch before anything else is imported, as it asks

import eventlet

eventlet.monkey_patch()

# After the patching, as eventlet asks.
import json
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from leastpriv import DaemonDied, wire
from leastpriv.unprivileged import green
from leastpriv.unprivileged.client import Channel


def make_channel() -> tuple[Channel, socket.socket]:
    caller_end, daemon_end = socket.socketpair()
    return Channel(caller_end, max_frame_size=1 << 20, logger_name=None), daemon_end


def echo_daemon(sock: socket.socket) -> None:
    """Replies to every CALL with its payload's value of "n" plus one, in a green thread."""
    reader, packer = wire.FrameReader(sock, 1 << 20, wait=green.HubWait(sock)), wire.new_packer()
    while (message := reader.read_message()) is not None:
        sock.sendall(wire.frame(packer, [wire.Kind.RET.value, message[1], message[3]["n"] + 1],
                                1 << 20))


def count_ticks(during: Callable[[], Any]) -> tuple[int, Any]:
    """How many times another green thread ran while `during()` waited; and what it gave."""
    ticks, running = [0], [True]

    def tick() -> None:
        while running[0]:
            ticks[0] += 1
            time.sleep(0.005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        outcome: Any = during()
    except Exception as exc:
        outcome = type(exc).__name__
    running[0] = False
    ticker.join()
    return ticks[0], outcome


def waits() -> dict[str, Any]:
    """The channel is green, and a call that times out lets the other green threads run."""
    channel, _daemon_end = make_channel()  # kept open: the call must time out, not see EOF
    ticks, raised = count_ticks(lambda: channel.call("f", {"n": 1}, timeout=0.3))
    return {"hub in use": green.hub_in_use(), "select.poll": hasattr(select, "poll"),
            "raised": raised, "ticks": ticks, "socket": type(channel._sock).__name__,
            "state lock": type(channel._state).__module__}


def many() -> dict[str, Any]:
    """16 green threads x 200 calls, all with their own reply."""
    channel, daemon_end = make_channel()
    threading.Thread(target=echo_daemon, args=(daemon_end,), daemon=True).start()
    wrong = [0]

    def work(n: int) -> None:
        for k in range(200):
            if channel.call("f", {"n": n * 1000 + k}, timeout=30) != n * 1000 + k + 1:
                wrong[0] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"wrong": wrong[0]}


def closed_while_waiting() -> dict[str, Any]:
    """close() from one green thread while another waits in the hub: DaemonDied at once, not
    after the waiting call's timeout."""
    channel, _daemon_end = make_channel()  # kept open: only close() may end the wait
    outcome: list[str] = []

    def call() -> None:
        try:
            channel.call("f", {"n": 1}, timeout=60)
        except DaemonDied as exc:
            outcome.append(type(exc).__name__)

    waiting = threading.Thread(target=call)
    waiting.start()
    time.sleep(0.1)  # the call is sent and waits in the hub
    started = time.monotonic()
    channel.close()
    waiting.join(30)
    return {"raised": outcome, "within the timeout": time.monotonic() - started < 30}


def forked_child() -> dict[str, Any]:
    """What a forked child that left the hub has: real modules and a real socket."""
    one, two = socket.socketpair()
    green.before_fork()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            real = green.leave_hub(two)
            real.sendall(b"x")
            state = {
                "socket": type(real).__module__, "blocking": real.getblocking(),
                "select.poll": hasattr(select, "poll"), "lock": type(threading.Lock()).__module__,
                "sleep": getattr(time.sleep, "__module__", None),
                "hub in use": green.hub_in_use(),
            }
            os.write(write_end, json.dumps(state).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    state = json.loads(os.read(read_end, 65536))
    state["parent still green"] = green.hub_in_use() and not hasattr(select, "poll")
    state["child sent"] = one.recv(1).decode()
    return state


SCENARIOS = {"waits": waits, "many": many, "closed_while_waiting": closed_while_waiting,
             "forked_child": forked_child}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]]()))
