"""leastpriv.compat.priv_context: oslo.privsep's decoration rules, its helper argv, its options."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from unittest import mock

import pytest

cfg = pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
from oslo_config import fixture as cfg_fixture  # noqa: E402 - after the skip

from leastpriv import caps  # noqa: E402
from leastpriv.compat import capabilities, comm, daemon, priv_context  # noqa: E402
from leastpriv.errors import CallTimeout, PolicyError  # noqa: E402

# Module-level, as projects write them: entrypoints must lie below the context's prefix.
ctx = priv_context.PrivContext(__name__, cfg_section="compat_unit", pypath=__name__ + ".ctx",
                               capabilities=[capabilities.CAP_NET_ADMIN, capabilities.CAP_CHOWN])


@ctx.entrypoint
def add(a, b, *rest, **extra):
    return (a + b + sum(rest), os.getpid(), extra)


@pytest.fixture
def conf() -> Iterator[object]:
    fixture = cfg_fixture.Config(cfg.CONF)
    fixture.setUp()
    yield fixture.conf
    fixture.cleanUp()


def test_capabilities_are_required() -> None:
    with pytest.raises(ValueError):
        priv_context.PrivContext("x", capabilities=None)


def test_unsuffixed_unannotated_varargs_entrypoint_is_registered() -> None:
    assert f"{__name__}.add" in ctx._native.registry
    assert ctx.is_entrypoint(add)
    assert add.privsep_entrypoint is ctx


def test_relaxed_policy_is_logged_once_per_context_at_debug(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_log", capabilities=[])
    with caplog.at_level(logging.DEBUG, logger="leastpriv.compat.priv_context"):
        for number in range(3):
            def function(*args):  # type: ignore[no-untyped-def]
                return args

            function.__qualname__ = f"function{number}"
            context.entrypoint(function)
    relaxed = [r for r in caplog.records if r.name == "leastpriv.compat.priv_context"]
    assert [r.levelno for r in relaxed] == [logging.DEBUG]


def test_entrypoint_outside_the_prefix_is_refused() -> None:
    context = priv_context.PrivContext("someproject", cfg_section="compat_x", capabilities=[])
    with pytest.raises(AssertionError):
        context.entrypoint(add.__wrapped__)


def test_prefix_is_a_module_boundary() -> None:
    assert priv_context.under_prefix("nova.privsep.path", "nova")
    assert priv_context.under_prefix("nova", "nova")
    assert not priv_context.under_prefix("novaclient.x", "nova")


def test_a_function_belongs_to_one_context() -> None:
    other = priv_context.PrivContext(__name__, cfg_section="compat_y", capabilities=[])
    with pytest.raises(AssertionError):
        other.entrypoint(add)


def test_annotations_that_are_present_are_still_checked() -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_z", capabilities=[])

    def typed(count: int, name):  # type: ignore[no-untyped-def]
        return count, name

    typed.__module__ = __name__
    wrapped = context.entrypoint(typed)
    assert context._native.registry[f"{__name__}.{typed.__qualname__}"].contract.bind(
        (1, "x"), {})
    with pytest.raises(ValueError):  # ContractViolation is a ValueError
        context._native.registry[f"{__name__}.{typed.__qualname__}"].contract.bind(("1", 2), {})
    assert wrapped is not typed


def test_client_mode_off_runs_here(conf: object) -> None:
    ctx.set_client_mode(False)
    try:
        assert add(1, 2, 3, k=4) == (6, os.getpid(), {"k": 4})
    finally:
        ctx.set_client_mode(True)
    assert ctx.client_mode is True


def test_client_mode_can_be_patched_as_projects_tests_do() -> None:
    with mock.patch.object(ctx, "client_mode", False):
        assert add(1, 1)[1] == os.getpid()
    assert ctx.client_mode is True


def test_helper_command_is_oslo_privsep_argv(conf: object) -> None:
    cfg.CONF([], project="compat-test")
    conf.set_override("helper_command", None, group="compat_unit")  # type: ignore[attr-defined]
    with mock.patch.object(cfg.CONF, "config_file", ["/etc/a.conf", "/etc/b.conf"]), \
            mock.patch.object(cfg.CONF, "config_dir", ["/etc/a.d"]):
        command = ctx.helper_command("/tmp/s")
    assert command == ["sudo", "privsep-helper", "--config-file", "/etc/a.conf", "--config-file",
                       "/etc/b.conf", "--config-dir", "/etc/a.d", "--privsep_context",
                       f"{__name__}.ctx", "--privsep_sock_path", "/tmp/s"]


def test_configured_helper_command_and_init_root_helper(conf: object) -> None:
    priv_context.init(root_helper=["sudo", "nova-rootwrap", "/etc/nova/rootwrap.conf"])
    try:
        assert ctx.helper_command("/s")[:4] == ["sudo", "nova-rootwrap",
                                                "/etc/nova/rootwrap.conf", "privsep-helper"]
        conf.set_override("helper_command", "helper --x", group="compat_unit")  # type: ignore[attr-defined]
        assert ctx.helper_command("/s") == ["helper", "--x", "--privsep_context",
                                            f"{__name__}.ctx", "--privsep_sock_path", "/s"]
    finally:
        priv_context.init(root_helper=["sudo"])


def test_helper_command_needs_the_pypath_of_the_context() -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_p", capabilities=[])
    with pytest.raises(AssertionError):
        context.helper_command("/s")


def test_config_narrows_capabilities(conf: object) -> None:
    conf.set_override("capabilities", ["CAP_CHOWN"], group="compat_unit")  # type: ignore[attr-defined]
    assert ctx.daemon_config().capabilities == {caps.CAP_CHOWN}


def test_config_cannot_widen_capabilities(conf: object) -> None:
    conf.set_override("capabilities", ["CAP_SYS_ADMIN"], group="compat_unit")  # type: ignore[attr-defined]
    with pytest.raises(PolicyError):
        ctx.daemon_config()


def test_oslo_privsep_options_are_registered_per_section(conf: object) -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_opts",
                                       capabilities=[capabilities.CAP_KILL], logger_name="mine")
    group = cfg.CONF["compat_opts"]
    assert (group.logger_name, group.log_daemon_traceback) == ("mine", False)
    assert list(group.capabilities) == [int(caps.CAP_KILL)]
    assert context.daemon_config().capabilities == {caps.CAP_KILL}
    assert context.daemon_config().logger_name == "mine"
    names = {opt.name for _, opts in priv_context._list_opts() for opt in opts}
    assert names == {"user", "group", "capabilities", "thread_pool_size", "helper_command",
                     "logger_name", "log_daemon_traceback"}


def test_capability_names_and_numbers_match_linux() -> None:
    assert capabilities.CAP_NET_ADMIN == 12  # type: ignore[attr-defined]
    assert capabilities.CAPS_BYNAME["CAP_SYS_ADMIN"] == 21
    assert capabilities.CAPS_BYVALUE[0] == "CAP_CHOWN"
    assert priv_context.CapNameOrInt()("CAP_NET_RAW") == 13
    assert priv_context.CapNameOrInt()("12") == 12
    effective, permitted, _ = capabilities.get_caps()
    assert set(effective) <= set(permitted)


def test_privsep_timeout_is_a_leastpriv_call_timeout() -> None:
    assert issubclass(comm.PrivsepTimeout, CallTimeout)
    assert issubclass(comm.PrivsepTimeout, TimeoutError)


def test_start_with_a_channel_already_there_starts_nothing() -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_s", capabilities=[])
    context.channel = object()
    with mock.patch.object(daemon, "ForkingClientChannel") as forking:
        context.start(priv_context.Method.FORK)
    assert not forking.called


def test_start_looks_the_channel_class_up_by_name_so_fixtures_can_replace_it() -> None:
    context = priv_context.PrivContext(__name__, cfg_section="compat_r", capabilities=[])

    class Refusing(daemon._ClientChannel):
        def __init__(self, context: object) -> None:
            raise RuntimeError("no helper in unit tests")

    with mock.patch.object(daemon, "RootwrapClientChannel", Refusing), \
            pytest.raises(RuntimeError):
        context.start()
    assert context.channel is None


def test_contexts_sharing_a_section_keep_their_own_capabilities(conf: object) -> None:
    # os-vif's vif_plug and vif_plug_test share [vif_plug_ovs_privileged]; each constructor sets
    # the section's default, and under oslo.privsep the last one is what every daemon gets.
    narrow = priv_context.PrivContext(__name__, cfg_section="compat_shared",
                                      capabilities=[capabilities.CAP_NET_ADMIN])
    wide = priv_context.PrivContext(__name__, cfg_section="compat_shared",
                                    capabilities=[capabilities.CAP_NET_ADMIN,
                                                  capabilities.CAP_DAC_OVERRIDE])
    assert narrow.daemon_config().capabilities == {caps.CAP_NET_ADMIN}
    assert wide.daemon_config().capabilities == {caps.CAP_NET_ADMIN, caps.CAP_DAC_OVERRIDE}
