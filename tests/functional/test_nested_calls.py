"""A privileged function that calls an entrypoint: of its own context it runs there, in the
daemon; of another context it is refused, unless the context may start that one."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import nesting
import pytest
from support import functional_pythonpath, status_sets
from tests.conftest import requires_root

from leastpriv import ContractViolation, NestedCallRefused, caps

pytestmark = requires_root
GUARD = 20.0  # seconds: far beyond any of these calls, so a hang fails the test instead


def guarded(call: Callable[[], Any], *stop_on_hang: Any) -> Any:
    """`call()`'s result or exception; a call still waiting after GUARD seconds fails the test
    (its daemons are stopped, which ends the wait with DaemonDied)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("value", call()))
        except BaseException as exc:
            outcome.append(("raised", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    if thread.is_alive():
        for context in stop_on_hang:
            context.stop()
        thread.join(GUARD)
        pytest.fail(f"the call still waited after {GUARD:g} s")
    kind, value = outcome[0]
    if kind == "raised":
        raise value
    return value


@pytest.fixture(autouse=True)
def stop_nesting_contexts() -> Iterator[None]:
    yield
    for context in (nesting.outer, nesting.inner, nesting.starter):
        context.stop()


@pytest.fixture(params=["fork", "exec"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PYTHONPATH", functional_pythonpath())  # the helper imports `nesting`
    return str(request.param)


def test_a_call_of_its_own_context_runs_inside_the_daemon(method: str) -> None:
    nesting.outer.start(method=method)
    daemon, nested = guarded(nesting.outer_privileged, nesting.outer)
    assert daemon == nested == nesting.outer.daemon_pid
    assert daemon != os.getpid()


def test_a_nested_call_is_checked_against_its_contract(method: str) -> None:
    nesting.outer.start(method=method)
    with pytest.raises(ContractViolation):
        guarded(lambda: nesting.nested_contract_privileged("/etc/shadow"), nesting.outer)


def test_a_call_of_another_context_from_inside_a_daemon_is_refused(method: str) -> None:
    nesting.outer.start(method=method)
    with pytest.raises(NestedCallRefused):
        guarded(nesting.cross_privileged, nesting.outer)
    assert not nesting.inner.running  # nothing was started, here or there
    assert nesting.outer.running  # and the refusal left the daemon serving


def test_a_context_that_may_start_another_starts_its_daemon_from_its_own() -> None:
    starter_pid, inner_pid = guarded(nesting.started_inner_privileged, nesting.starter)
    assert starter_pid == nesting.starter.daemon_pid
    assert inner_pid not in (starter_pid, os.getpid())
    sets = status_sets(inner_pid)
    assert sets.effective == sets.bounding == frozenset({caps.CAP_CHOWN})
    assert sets.no_new_privs
    with open(f"/proc/{inner_pid}/stat") as stat:
        assert int(stat.read().rsplit(")", 1)[1].split()[1]) == starter_pid  # its parent
    assert not nesting.inner.running  # started in the daemon, not in this process
