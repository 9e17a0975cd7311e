"""Scenarios run in a process of their own, with eventlet's monkey patching or without it.

    python green_scenarios.py eventlet|threads fork|exec SCENARIO [ARG]

Patching cannot be undone in the process that did it, so the tests (test_eventlet.py) run each
scenario here, in a fresh interpreter that patches first, as a service under eventlet does. Under
patching `threading.Thread` makes green threads: the same code runs both ways. Prints one JSON
object.
"""

import sys

if __name__ == "__main__" and sys.argv[1] == "eventlet":
    import eventlet

    eventlet.monkey_patch()

# After the patching, as eventlet asks: the modules below must see the patched ones.
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import green_calls

from leastpriv import CallTimeout, DaemonDied, DaemonStartError

THREADS, CALLS = 16, 200


def in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Ticker:
    """A thread that counts while the scenario waits: under eventlet it runs only when the
    waiting green thread lets the hub run others."""

    def __init__(self) -> None:
        self.ticks = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.ticks += 1
            time.sleep(0.005)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.ticks


def many() -> dict[str, Any]:
    """16 threads x 200 calls on one channel: every reply is the one its call asked for."""
    wrong, errors = [0], []

    def work(n: int) -> None:
        for k in range(CALLS):
            try:
                if green_calls.add_privileged(n * 1000, k) != n * 1000 + k:
                    wrong[0] += 1
            except Exception as exc:
                errors.append(type(exc).__name__)

    in_threads(THREADS, work)
    return {"calls": THREADS * CALLS, "wrong": wrong[0], "errors": errors}


def timeout() -> dict[str, Any]:
    """A call past its entrypoint's timeout gets CallTimeout; others ran while it waited."""
    green_calls.add_privileged(0, 0)  # the daemon is up: what follows waits only for the call
    ticker = Ticker()
    before = ticker.ticks
    try:
        green_calls.slow_privileged(3.0)
        raised = None
    except CallTimeout as exc:
        raised = type(exc).__name__
    during = ticker.ticks - before
    ticker.stop()
    return {"raised": raised, "ticks while waiting": during,
            "next call": green_calls.add_privileged(2, 3)}


def death() -> dict[str, Any]:
    """The daemon killed mid-call: DaemonDied at once, then a fresh daemon serves."""
    green_calls.add_privileged(0, 0)
    old_pid = green_calls.green.daemon_pid
    outcome: list[str] = []

    def call() -> None:
        try:
            green_calls.sleep_privileged(20.0)
            outcome.append("returned")
        except DaemonDied as exc:
            outcome.append(type(exc).__name__)

    waiting = threading.Thread(target=call)
    waiting.start()
    time.sleep(0.3)  # let the call reach the daemon
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    waiting.join()
    return {"raised": outcome, "next call": green_calls.add_privileged(4, 5),
            "new daemon": green_calls.green.daemon_pid not in (None, old_pid)}


def child(marker: str) -> dict[str, Any]:
    """What the daemon's own modules are, and whether an application thread ever ran in it: one
    that was running when the daemon was forked, so a forked daemon inherited it."""
    method = green_calls.green._daemon.method
    green_calls.green.stop()
    parent = os.getpid()
    running = [True]

    def application_thread() -> None:  # writes only if it ever runs in another process
        while running[0]:
            if os.getpid() != parent:
                with open(marker, "a") as out:
                    out.write(f"{os.getpid()}\n")
            time.sleep(0.001)

    thread = threading.Thread(target=application_thread, daemon=True)
    thread.start()
    time.sleep(0.01)  # it runs, and waits in the hub
    green_calls.green.start(method=method)
    state = green_calls.state_privileged()
    state.update(green_calls.state_privileged())
    running[0] = False
    thread.join()
    with open(marker) as written:
        state["application ran in"] = written.read().split()
    return state


def failing_helper() -> dict[str, Any]:
    """An exec helper that fails to start: DaemonStartError with what it wrote on its standard
    error, read without holding up the other threads while it ran."""
    ticker = Ticker()
    try:
        green_calls.failing.start(method="exec")
        raised, message = None, ""
    except DaemonStartError as exc:
        raised, message = type(exc).__name__, str(exc)
    return {"raised": raised, "stderr relayed": "helper cannot start" in message,
            "ticks while starting": ticker.stop()}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "many": many, "timeout": timeout, "death": death, "child": child}

if __name__ == "__main__":
    mode, method, scenario, *args = sys.argv[1:]
    if scenario == "failing_helper":
        print(json.dumps(failing_helper()))
        sys.exit(0)
    green_calls.green.start(method=method)
    result = SCENARIOS[scenario](*args)
    green_calls.green.stop()
    print(json.dumps(result))
