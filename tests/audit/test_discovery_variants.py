"""Discovery: every way of declaring a context or an entrypoint in `discovery_variants_tree`.

The OpenStack projects the audit was built on declare their contexts and entrypoints in a few
shapes (``default = priv_context.PrivContext(...)`` in ``privileged/__init__.py``,
``@privileged.default.entrypoint``). The fixture tree writes them every other way Python and
oslo.privsep allow -- aliases, re-export chains, factories, positional arguments, capabilities
built from lists, the call form, class bodies, encodings -- and this test lists what the audit
must find there: each context with its capabilities, each entrypoint with its context.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

from leastpriv.audit import AuditOptions, audit
from leastpriv.audit.model import AuditResult

TREE = Path(__file__).parent / "fixtures" / "discovery_variants_tree"
_PEP695 = "netagent/enc/pep695.py"  # parses from Python 3.12 on

_P = "netagent.privileged"
_DEFAULT = "netagent.privsep.default"
_F = f"{_P}.factory"

CONTEXTS = {
    _DEFAULT: ("CAP_DAC_OVERRIDE", "CAP_NET_ADMIN"),  # capabilities in a tuple variable
    f"{_P}.net": ("CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"),  # list + list
    f"{_P}.admin": ("CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"),  # [*l, ...]
    f"{_P}.dac": ("CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"),  # integers
    f"{_P}.chown": ("CAP_CHOWN",),  # every argument positional
    f"{_P}.default": ("CAP_NET_BIND_SERVICE",),  # a = b = PrivContext(...)
    f"{_P}.storage": ("CAP_MKNOD", "CAP_SYS_ADMIN"),  # a list of another module
    f"{_P}.raw": ("CAP_NET_RAW",),  # a, b = PrivContext(...), PrivContext(...)
    f"{_P}.kill": ("CAP_KILL",),
    f"{_F}.mount": ("CAP_SYS_ADMIN",),  # made by a factory function
    f"{_F}.firewall": ("CAP_NET_ADMIN", "CAP_NET_RAW"),  # the factory called with keywords
    f"{_F}.CONTEXTS['sysctl']": ("CAP_SYS_ADMIN",),  # a dict value
    f"{_F}.Contexts.trace": ("CAP_SYS_PTRACE",),  # a class attribute
    "netagent.agent.privileged.agent_ctx": ("CAP_NET_BROADCAST",),  # a second `privileged`
    f"{_P}.custom.traced": ("CAP_KILL", "CAP_SYS_PTRACE"),  # made by a subclass of PrivContext
    "nsplugin.privileged.plugin": ("CAP_NET_ADMIN",),  # a namespace package
}

_A = "netagent.agent"
_M = f"{_A}.methods"
ENTRYPOINTS = {
    f"{_F}.set_sysctl": f"{_F}.CONTEXTS['sysctl']",  # @CONTEXTS["sysctl"].entrypoint
    f"{_F}.read_environ": f"{_F}.Contexts.trace",
    f"{_F}.bind_mount": f"{_F}.mount",
    f"{_A}.linux.ip_lib.set_link_up": _DEFAULT,  # from project import privsep
    f"{_A}.linux.ip_lib.set_link_down": _DEFAULT,  # a re-export chain of three modules
    f"{_A}.linux.route.add_route": f"{_P}.net",  # import project.privileged as priv
    f"{_A}.linux.route.delete_route": f"{_P}.net",  # under @lockutils.synchronized
    f"{_A}.linux.route.flush_routes": f"{_P}.net",  # entrypoint_with_timeout(timeout=30)
    f"{_A}.linux.route.replace_route": f"{_P}.admin",  # over a functools.wraps decorator
    f"{_A}.linux.tc.add_qdisc": f"{_A}.privileged.agent_ctx",  # from .. import privileged
    f"{_A}.linux.tc.del_qdisc": f"{_P}.raw",
    f"{_A}.linux.tc.kill_pid": f"{_P}.kill",
    f"{_A}.relative.read_file": f"{_P}.dac",  # from .. import privileged
    f"{_A}.relative.set_mtu": f"{_P}.net",  # entrypoint = ctx.entrypoint
    f"{_A}.relative.set_address": f"{_P}.admin",  # w = ctx.entrypoint_with_timeout(10)
    f"{_A}.call_form.chown_file": f"{_P}.chown",  # f = ctx.entrypoint(f)
    f"{_A}.call_form.unlink": f"{_P}.default",  # g = ctx.entrypoint(_g)
    f"{_A}.call_form.set_perms": f"{_P}.default",  # ctx.entrypoint_with_timeout(5)(_h)
    # An entrypoint's id is the name oslo.privsep sends, module + function name, wherever the
    # function is defined; one whose id a module-level function has is listed under its place.
    f"{_M}.add_port": f"{_P}.net",  # an instance method of Bridge
    f"{_M}.create": f"{_P}.net",  # a class method
    f"{_M}.Bridge.delete": f"{_P}.net",  # a static method
    f"{_M}.flush": f"{_P}.net",  # nested in a function
    f"{_M}.delete": f"{_P}.net",  # the module-level function of the same name
    f"{_A}.conditional.make_node": f"{_P}.storage",  # try-import, annotated alias
    f"{_A}.conditional.add_rule": f"{_F}.firewall",  # imported under `if`
    f"{_A}.conditional.set_hostname": f"{_P}.default",  # the chained assignment's 2nd name
    "netagent.common.utils.run_ip": f"{_P}.net",  # NET = _net, _net re-exported
    "netagent.common.utils.read_pid": _DEFAULT,  # DEFAULT = privsep.default
    "netagent.cmd.utils.run_ip": _DEFAULT,  # the same module and function names
    "netagent.enc.modern.set_state": _DEFAULT,  # match, walrus, PEP 604, `/`
    "netagent.enc.modern.wait_link": _DEFAULT,  # async def
    "netagent.enc.pep695.set_alias": _DEFAULT,  # PEP 695 (3.12)
    "netagent.enc.bom.remove_file": _DEFAULT,  # a UTF-8 byte-order mark
    "netagent.enc.crlf.truncate": _DEFAULT,  # CRLF line endings
    "netagent.enc.tabs.write_file": _DEFAULT,  # tabs
    "netagent.enc.latin1.append_line": _DEFAULT,  # an encoding cookie
    "nsplugin.ops.net.set_up": "nsplugin.privileged.plugin",  # a namespace package
    f"{_A}.linux.bridge.add_bridge": f"{_P}.net",  # @as_root, imported from another module
    f"{_A}.linux.bridge.del_bridge": f"{_P}.admin",  # @decorators.as_admin
    f"{_A}.linux.vlan.add_vlan": f"{_P}.net",  # @as_root, re-exported by a package
    "netagent.build.image.write_image": _DEFAULT,  # a package named build
    f"{_P}.custom.signal_process": f"{_P}.custom.traced",
    f"{_A}.star.set_forwarding": f"{_P}.net",  # from netagent.privileged import *
    f"{_A}.star.unmount": f"{_F}.mount",  # @netagent.privileged.factory.mount.entrypoint
}
# oslo.privsep sends ``func.__module__ + "." + func.__name__`` and the daemon imports that name,
# so an entrypoint defined in a class or a function body can never be called there: LPS207.
NOT_MODULE_LEVEL = {f"{_M}.add_port", f"{_M}.create", f"{_M}.delete", f"{_M}.flush"}
if sys.version_info < (3, 12):
    del ENTRYPOINTS["netagent.enc.pep695.set_alias"]


@cache
def _result() -> AuditResult:
    return audit(TREE, AuditOptions(jobs=1))


@pytest.mark.parametrize("context_id", sorted(CONTEXTS))
def test_context_is_found_with_its_capabilities(context_id: str) -> None:
    found = {c.id: c.capabilities for c in _result().contexts}
    assert tuple(sorted(found.get(context_id, ("<not found>",)))) == CONTEXTS[context_id]


@pytest.mark.parametrize("entrypoint_id", sorted(ENTRYPOINTS))
def test_entrypoint_is_found_with_its_context(entrypoint_id: str) -> None:
    found = {e.id: e.context for e in _result().entrypoints}
    assert entrypoint_id in found
    assert found[entrypoint_id] == ENTRYPOINTS[entrypoint_id]


@pytest.mark.parametrize("entrypoint_id", sorted(NOT_MODULE_LEVEL))
def test_entrypoint_outside_module_level_is_reported(entrypoint_id: str) -> None:
    assert entrypoint_id in {f.symbol for f in _result().findings if f.rule == "LPS207"}


def test_nothing_else_is_taken_for_a_context_or_an_entrypoint() -> None:
    result = _result()
    assert {c.id for c in result.contexts} - set(CONTEXTS) == set()
    assert {e.id for e in result.entrypoints} - set(ENTRYPOINTS) == set()
    lps207 = sorted(f.symbol for f in result.findings if f.rule == "LPS207")
    assert lps207 == sorted(NOT_MODULE_LEVEL)  # not the module-level `delete`


def test_calls_by_place_and_by_name_reach_each_entrypoint() -> None:
    callers = {e.id: {c.caller for c in e.callers} for e in _result().entrypoints}
    assert callers[f"{_M}.Bridge.delete"] == {f"{_A}.callers.remove_bridge"}
    assert callers[f"{_M}.delete"] == {f"{_A}.callers.remove_link"}


def test_only_newer_syntax_than_the_interpreter_reads_is_skipped() -> None:
    expected = {_PEP695} if sys.version_info < (3, 12) else set()
    assert {s.path for s in _result().skipped} == expected


def test_context_rules_see_the_capabilities_of_a_list_of_another_module() -> None:
    # netagent.privileged.storage holds STORAGE_CAPS of netagent.privileged.capsets.
    sys_admin = {f.symbol for f in _result().findings if f.rule == "LPS102"}
    assert f"{_P}.storage" in sys_admin
