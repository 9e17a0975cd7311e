"""64 threads of random fast and slow calls while the daemon is SIGKILLed at random moments."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Annotated

import pytest
from support import system_user  # noqa: F401 - a fixture, used by name
from tests.conftest import requires_root

from leastpriv import CallTimeout, DaemonDied, caps
from leastpriv.context import PrivContext
from leastpriv.contract import Range

pytestmark = [requires_root, pytest.mark.functional]

THREADS = 64
SECONDS = 6.0
CALL_TIMEOUT = 20.0  # far above any call here: reaching it is a hang


def make_stress_context(user: str) -> tuple[PrivContext, Callable[..., int], Callable[..., int]]:
    stress = PrivContext("leastpriv_tests.stress", capabilities=[caps.CAP_CHOWN], user=user)

    @stress.entrypoint_with_timeout(CALL_TIMEOUT)
    def stress_add_privileged(a: int, b: int) -> int:
        return a + b

    @stress.entrypoint_with_timeout(CALL_TIMEOUT)
    def stress_nap_add_privileged(seconds: Annotated[float, Range(0.0, 0.1)], a: int,
                                  b: int) -> int:
        # Naps longer than the watchdog's tick make it hand the channel on mid-call.
        time.sleep(seconds)
        return a + b

    return stress, stress_add_privileged, stress_nap_add_privileged


def test_64_threads_through_random_daemon_kills_get_only_right_answers_or_daemon_died(
        system_user: str) -> None:  # noqa: F811 - the fixture imported above
    stress, stress_add_privileged, stress_nap_add_privileged = make_stress_context(system_user)
    deadline = time.monotonic() + SECONDS
    right = [0] * THREADS
    died = [0] * THREADS
    wrong: list[object] = []  # a wrong value, a hang (CallTimeout) or any other exception

    def caller(index: int) -> None:
        rng = random.Random(index)
        while time.monotonic() < deadline:
            a, b = rng.randrange(1 << 30), rng.randrange(1 << 30)
            try:
                if rng.random() < 0.2:
                    got = stress_nap_add_privileged(rng.choice((0.001, 0.005, 0.03, 0.08)), a, b)
                else:
                    got = stress_add_privileged(a, b)
            except CallTimeout as exc:
                wrong.append(exc)
                return
            except DaemonDied:  # the daemon was killed with this call in it: allowed
                died[index] += 1
                continue
            except Exception as exc:
                wrong.append(exc)
                return
            if got == a + b:
                right[index] += 1
            else:
                wrong.append((a, b, got))

    kills = 0
    try:
        assert stress_add_privileged(1, 2) == 3
        threads = [threading.Thread(target=caller, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        killer = random.Random(64)
        while time.monotonic() < deadline - 0.5:
            time.sleep(killer.uniform(0.2, 0.8))
            pid = stress.daemon_pid
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                kills += 1
        for thread in threads:
            thread.join(CALL_TIMEOUT + SECONDS)
        hung = [thread for thread in threads if thread.is_alive()]
        assert stress_add_privileged(2, 3) == 5  # and the context serves on after it all
    finally:
        stress.stop()
    assert (hung, wrong) == ([], [])
    assert kills >= 3 and sum(died) >= 1
    assert all(count > 0 for count in right)  # every thread got right answers
