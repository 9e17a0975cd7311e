"""Unit tests of PrivContext: policy at decoration, client mode in-process, and its caller's half
(`leastpriv.unprivileged.lifecycle`): launch-method choice, call timeouts."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated, Any

import pytest

from leastpriv import ContractViolation, PolicyError, PrivContext, caps, config
from leastpriv import context as context_module
from leastpriv.contract import Range
from leastpriv.unprivileged import lifecycle


def new_context(**options: Any) -> PrivContext:
    return PrivContext("leastpriv_tests.unit", capabilities=[caps.CAP_CHOWN], **options)


def test_entrypoint_name_without_privileged_suffix_is_refused_at_decoration() -> None:
    context = new_context()
    with pytest.raises(PolicyError):
        @context.entrypoint
        def chown(path: str) -> None: ...


def test_unannotated_parameter_is_refused_at_decoration() -> None:
    context = new_context()
    with pytest.raises(PolicyError):
        @context.entrypoint
        def chown_privileged(path) -> None: ...  # type: ignore[no-untyped-def]


def test_var_args_are_refused_at_decoration() -> None:
    context = new_context()
    with pytest.raises(PolicyError):
        @context.entrypoint
        def run_privileged(*args: str) -> None: ...


def test_warn_policy_turns_a_bad_name_into_a_warning() -> None:
    context = new_context(policy="warn")
    with pytest.warns(UserWarning):
        @context.entrypoint
        def chown(path: str) -> str:
            return path

    context.set_client_mode(False)
    assert chown("x") == "x"


def test_registering_the_same_name_twice_is_refused() -> None:
    context = new_context()

    def make() -> None:
        @context.entrypoint
        def twice_privileged(a: int) -> int:
            return a

    make()
    with pytest.raises(PolicyError):
        make()


def test_unknown_policy_and_capability_are_refused() -> None:
    with pytest.raises(PolicyError):
        new_context(policy="lenient")
    with pytest.raises(ValueError):
        PrivContext("leastpriv_tests.bad", capabilities=["CAP_EVERYTHING"])


def test_client_mode_off_runs_in_process_and_still_checks_contracts() -> None:
    context = new_context()
    calls: list[tuple[int, tuple[int, ...]]] = []

    @context.entrypoint
    def record_privileged(n: Annotated[int, Range(0, 10)], items: tuple[int, ...]) -> int:
        calls.append((n, items))
        return n * 2

    context.set_client_mode(False)
    assert record_privileged(3, (1, 2)) == 6
    assert calls == [(3, (1, 2))] and type(calls[0][1]) is tuple
    with pytest.raises(ContractViolation):
        record_privileged(11, ())
    with pytest.raises(TypeError):
        record_privileged(1, (), 3)  # type: ignore[call-arg]
    assert len(calls) == 1
    assert not context.running and context.daemon_pid is None


def test_wrapper_keeps_the_function_name_and_docstring() -> None:
    context = new_context()

    @context.entrypoint
    def documented_privileged(a: int) -> int:
        """Doubles."""
        return a * 2

    assert documented_privileged.__name__ == "documented_privileged"
    assert documented_privileged.__doc__ == "Doubles."


def resolved(context: PrivContext, **changes: Any) -> config.ContextConfig:
    return config.resolve(context.cfg_section, context._defaults)._replace(**changes)


def held_capabilities() -> frozenset[caps.Capability]:
    return caps.read_process_capabilities().effective


@pytest.mark.skipif(caps.CAP_CHOWN not in held_capabilities() or
                    caps.CAP_SETPCAP not in held_capabilities(),
                    reason="needs CAP_CHOWN and CAP_SETPCAP in the effective set")
def test_fork_is_chosen_when_the_caller_holds_the_declared_capabilities() -> None:
    context = new_context()
    assert lifecycle.choose_method(resolved(context, method="exec")) == "fork"


def test_without_the_capabilities_the_configured_method_or_exec_is_chosen() -> None:
    missing = next((cap for cap in caps.Capability if cap not in held_capabilities()), None)
    if missing is None:
        pytest.skip("this process holds every capability")
    context = PrivContext("leastpriv_tests.unheld", capabilities=[missing])
    assert lifecycle.choose_method(resolved(context)) == "exec"
    assert lifecycle.choose_method(resolved(context, method="fork")) == "fork"


def test_default_config_section_is_the_name_with_underscores() -> None:
    assert PrivContext("a.b.c", capabilities=[]).cfg_section == "a_b_c"
    assert PrivContext("a.b", capabilities=[], cfg_section="own").cfg_section == "own"


def test_entrypoint_with_timeout_refuses_a_non_positive_timeout() -> None:
    with pytest.raises(PolicyError):
        new_context().entrypoint_with_timeout(0)


def test_public_names_are_sorted_and_exported() -> None:
    import leastpriv

    assert leastpriv.__all__ == sorted(leastpriv.__all__)
    assert all(hasattr(leastpriv, name) for name in leastpriv.__all__)


def test_importing_leastpriv_loads_no_client_launcher_or_config_file_modules() -> None:
    # The exec helper and every service pay for what `import leastpriv` loads; the client, the
    # launchers' modules and the TOML parser are loaded only when a daemon starts or a file is read.
    lazy = ("leastpriv.unprivileged.client", "leastpriv.unprivileged.launch",
            "leastpriv.unprivileged.lifecycle", "shutil", "subprocess", "tempfile", "tomllib")
    code = f"import sys, leastpriv; print(*[name for name in {lazy!r} if name in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert loaded == []


def test_a_call_without_any_timeout_set_waits_at_most_the_default_call_timeout() -> None:
    assert lifecycle.DaemonHandle(new_context()).timeout() == context_module.DEFAULT_CALL_TIMEOUT
    assert lifecycle.DaemonHandle(new_context(timeout=2.5)).timeout() == 2.5


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), True, "10"])
def test_a_timeout_that_is_no_positive_finite_number_is_refused(bad: Any) -> None:
    with pytest.raises(PolicyError):
        new_context(timeout=bad)


@pytest.mark.parametrize("bad", ["other.context", [""], [3]])
def test_may_start_must_be_a_list_of_context_names(bad: Any) -> None:
    with pytest.raises(PolicyError):
        new_context(may_start=bad)


# A process that became a daemon stays one: these run in a process of their own.
NESTED = """
import json, os
from leastpriv import NestedCallRefused, PrivContext, caps
from leastpriv.context import become_daemon_of

served = PrivContext("t.served", capabilities=[caps.CAP_CHOWN], may_start=["t.startable"])
other = PrivContext("t.other", capabilities=[caps.CAP_CHOWN])
startable = PrivContext("t.startable", capabilities=[caps.CAP_CHOWN])

@served.entrypoint
def here_privileged(n: int) -> int:
    return n + 1

@other.entrypoint
def other_privileged() -> None: ...

@startable.entrypoint
def startable_privileged() -> None: ...

become_daemon_of("t.served")
outcome = {"nested": here_privileged(1), "daemon started": served.running}
try:
    other_privileged()
except NestedCallRefused:
    outcome["other"] = "refused"
startable._daemon_handle = lambda: (_ for _ in ()).throw(RuntimeError("would start"))
try:
    startable_privileged()
except RuntimeError as exc:
    outcome["startable"] = str(exc)
print(json.dumps(outcome))
"""


def test_inside_a_daemon_its_own_entrypoints_run_in_process_and_others_are_refused() -> None:
    done = subprocess.run([sys.executable, "-c", NESTED], capture_output=True, text=True,
                          check=True, timeout=60)
    assert json.loads(done.stdout) == {"nested": 2, "daemon started": False, "other": "refused",
                                       "startable": "would start"}
