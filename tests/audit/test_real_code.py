"""The audit on real OpenStack releases: the facts issue 3 promises, checked on the unpacked wheels.

Set LEASTPRIV_REAL_CODE to a directory holding the unpacked releases, one per project
(``$LEASTPRIV_REAL_CODE/nova/nova/...``, ``.../neutron``, ``.../os_brick``, ``.../os_vif``,
``.../cinder``, ``.../manila``), as scripts/dev fetches them.
Without it these tests skip: CI does not download OpenStack.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from leastpriv.audit import audit
from leastpriv.audit.model import AuditResult
from leastpriv.audit.visitor import scan_module

_ROOT = os.environ.get("LEASTPRIV_REAL_CODE")


@functools.cache
def _audit(project: str) -> AuditResult:
    if not _ROOT:
        pytest.skip("LEASTPRIV_REAL_CODE is not set: no unpacked OpenStack releases to audit")
    tree = Path(_ROOT, project)
    if not tree.is_dir():
        pytest.skip(f"{tree} is missing: unpack the {project} wheel there")
    return audit(tree)


def _flagged(result: AuditResult, rule: str) -> set[str]:
    return {f.symbol for f in result.findings if f.rule == rule}


def test_nova_has_one_broad_sys_admin_context() -> None:
    result = _audit("nova")
    (context,) = result.contexts
    assert context.capabilities == (
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_NET_ADMIN",
        "CAP_SYS_ADMIN",
    )
    assert context.id in _flagged(result, "LPS101") & _flagged(result, "LPS102")


def test_nova_entrypoints_are_found_and_resolved_to_its_context() -> None:
    result = _audit("nova")
    assert 50 <= len(result.entrypoints) <= 70
    assert all(e.context == "nova.privsep.sys_admin_pctxt" for e in result.entrypoints)


def test_nova_writefile_and_chmod_are_wide_file_contracts() -> None:
    flagged = _flagged(_audit("nova"), "LPS203")
    assert {"nova.privsep.path.writefile", "nova.privsep.path.chmod"} <= flagged


def test_nova_starts_privsep_through_rootwrap() -> None:
    result = _audit("nova")
    assert any(f.path == "nova/cmd/compute.py" for f in result.findings if f.rule == "LPS303")
    assert any(f.path.endswith(".filters") for f in result.findings if f.rule == "LPS302")


def test_neutron_default_context_is_broad_and_execute_process_is_arbitrary() -> None:
    result = _audit("neutron")
    default = next(c for c in result.contexts if c.id == "neutron.privileged.default")
    assert len(default.capabilities) == 5
    assert default.id in _flagged(result, "LPS101")
    assert "neutron.privileged.agent.linux.utils.execute_process" in _flagged(result, "LPS204")


def test_os_brick_execute_root_is_arbitrary_and_rootwrap_calls_are_reported() -> None:
    result = _audit("os_brick")
    assert "os_brick.privileged.rootwrap.execute_root" in _flagged(result, "LPS204")
    run_as_root = [f for f in result.findings if f.rule == "LPS301" and "run_as_root" in f.message]
    assert len(run_as_root) >= 60


def test_os_vif_net_admin_context_is_not_broad() -> None:
    result = _audit("os_vif")
    net_only = [c for c in result.contexts if c.capabilities == ("CAP_NET_ADMIN",)]
    assert net_only
    assert not {c.id for c in net_only} & _flagged(result, "LPS101")


def test_nova_idmapshift_ploop_and_daxio_act_on_any_path_but_read_only_commands_do_not() -> None:
    flagged = _flagged(_audit("nova"), "LPS203")
    assert {
        "nova.privsep.idmapshift.shift",
        "nova.privsep.libvirt.ploop_resize",
        "nova.privsep.libvirt.ploop_restore_descriptor",
        "nova.privsep.libvirt.cleanup_vpmem",
    } <= flagged
    read_only = {
        "nova.privsep.qemu.privileged_qemu_img_info",
        "nova.privsep.fs.blockdev_size",
        "nova.privsep.fs.blockdev_flush",
    }
    assert not read_only & flagged


def test_neutron_read_file_is_followed_into_neutron_common_utils() -> None:
    # The entrypoint only calls neutron.common.utils.read_file, which opens the caller's path.
    flagged = _flagged(_audit("neutron"), "LPS203")
    assert "neutron.privileged.agent.linux.utils.read_file" in flagged


def test_neutron_write_to_tempfile_reaches_its_sink_only_through_the_directory() -> None:
    _audit("neutron")  # skips when the tree is missing
    module = "neutron/privileged/agent/linux/utils.py"
    facts = scan_module(
        Path(_ROOT or "", "neutron", module).read_text(),
        path=module,
        module="neutron.privileged.agent.linux.utils",
        is_package=False,
    )
    (entrypoint,) = [e for e in facts.entrypoints if e.name == "write_to_tempfile"]
    assert [flow.params for flow in entrypoint.flows] == [("_path",)]


def test_cinder_nvmet_dispatch_by_name_is_arbitrary_execution() -> None:
    # Shape G: getattr(instance, method_name)(...) and getattr(nvmet, cls_name).setup(...).
    flagged = _flagged(_audit("cinder"), "LPS204")
    assert {
        "cinder.privsep.targets.nvmet.do_privsep_call",
        "cinder.privsep.targets.nvmet._privsep_setup",
    } <= flagged


def test_cinder_cgroup_names_inside_fixed_settings_are_not_findings() -> None:
    result = _audit("cinder")
    wide = _flagged(result, "LPS203") | _flagged(result, "LPS204") | _flagged(result, "LPS208")
    assert not {"cinder.privsep.cgroup.cgroup_create", "cinder.privsep.cgroup.cgroup_limit"} & wide


def test_manila_lvm_names_are_unconfined_operands_not_paths() -> None:
    # Shape I: volume names and sizes get LPS208, not LPS203's "confine the path".
    result = _audit("manila")
    names = {f"manila.privsep.lvm.{n}" for n in ("lvremove", "lvcreate", "lvrename", "lvextend")}
    assert names <= _flagged(result, "LPS208")
    assert not names & _flagged(result, "LPS203")


def test_manila_dd_paths_given_as_option_values_are_wide_file_contracts() -> None:
    # Shape D: dd if=SRC of=DST.
    flagged = _flagged(_audit("manila"), "LPS203")
    assert {"manila.privsep.os.data_definition", "manila.privsep.os.rmdir"} <= flagged
    assert "manila.privsep.lustre.lfs_quota" not in flagged
