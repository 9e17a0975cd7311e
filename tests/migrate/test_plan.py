"""The plan: commands joined with the catalog, contexts per capability set, names, contracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leastpriv.migrate import filters as filter_files
from leastpriv.migrate import render
from leastpriv.migrate.callsites import find_call_sites
from leastpriv.migrate.model import CommandEntry
from leastpriv.migrate.plan import (
    Param,
    context_name,
    function_name,
    infer_contract,
    plan_from,
    unique_name,
)

FIXTURE = Path(__file__).parent / "fixtures" / "projects" / "rootwrapped"


class HandCatalog:
    """A catalog of hand-written entries: the plan must use only what it answers."""

    def __init__(self, *entries: CommandEntry) -> None:
        self.entries = {entry.command: entry for entry in entries}

    def lookup(self, command: str) -> CommandEntry | None:
        return self.entries.get(command)


LVM = ("CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE")
CATALOG = HandCatalog(
    CommandEntry("chown", ("CAP_CHOWN",), "chown(2)", "high", replacement="os.chown"),
    CommandEntry("ip", ("CAP_NET_ADMIN",), "netlink", "high", replacement="pyroute2"),
    CommandEntry("lvcreate", LVM, "dm ioctls", "medium"),
    CommandEntry("lvextend", LVM, "dm ioctls", "medium"),
    CommandEntry("lvs", LVM, "dm ioctls", "medium"),
    CommandEntry("rm", (), "root-owned files", "high", needs_uid0=True),
)


def make_plan(root: Path = FIXTURE, catalog=CATALOG):
    filters, problems = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    scan = find_call_sites(root, filters, jobs=1)
    return plan_from(root=root.as_posix(), project="demo", filters=filters, problems=problems,
                     calls=scan.calls, skipped=scan.skipped, catalog=catalog)


@pytest.fixture(scope="module")
def plan():
    return make_plan()


def _function(plan, name):
    return next(f for c in plan.contexts for f in c.functions if f.name == name)


def test_a_command_missing_from_the_catalog_needs_review_and_gets_no_context(plan):
    frob = next(c for c in plan.commands if c.command == "frobnicate")
    assert frob.entry is None
    assert any(r.subject == "frobnicate" for r in plan.review)
    assert all(f.command != "frobnicate" for c in plan.contexts for f in c.functions)


def test_rootwraps_implicit_privsep_helper_filter_is_not_a_project_command(plan):
    assert "privsep-helper" not in {c.command for c in plan.commands}


def test_one_context_per_distinct_capability_set(plan):
    by_name = {c.name: c for c in plan.contexts}
    assert by_name["file_owner"].capabilities == ("CAP_CHOWN",)
    assert by_name["net_admin"].capabilities == ("CAP_NET_ADMIN",)
    assert by_name["sys_admin_block"].capabilities == ("CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN")
    lvm = {f.name for f in by_name["sys_admin_block"].functions}
    assert lvm == {"create_logical_volume_privileged", "extend_logical_volume_privileged",
                   "list_logical_volumes_privileged"}


def test_a_uid0_command_gets_its_own_context_with_a_warning(plan):
    uid0 = next(c for c in plan.contexts if c.needs_uid0)
    assert uid0.name == "no_caps_uid0"
    assert [f.command for f in uid0.functions] == ["rm"]
    assert "uid 0" in uid0.warning


def test_call_sites_with_the_same_shape_share_one_function_with_oneof(plan):
    link = _function(plan, "set_link_up_privileged")
    assert len(link.call_sites) == 2
    assert link.argv[:2] == ("link", "set")
    state = link.argv[3]
    assert isinstance(state, Param) and state.marker == "OneOf"
    assert "'down', 'up'" in state.annotation


def test_a_path_built_under_a_config_directory_becomes_pathunder_that_option(plan):
    chown = _function(plan, "chown_console_log_privileged")
    uid, path = chown.params
    assert uid.marker == "Match"
    assert (path.marker, path.root_constant, path.root_origin) == (
        "PathUnder", "INSTANCES_PATH", "CONF.instances_path")


def test_env_prefix_becomes_the_environment_not_the_program(plan):
    lvs = _function(plan, "list_logical_volumes_privileged")
    assert Path(lvs.program).name == "lvs" and lvs.program.startswith("/")
    assert lvs.environment == (("LC_ALL", "C"),)
    assert lvs.argv[:3] == ("--noheadings", "-o", "name")


def test_a_filter_with_an_absolute_path_fixes_the_program_path():
    filters, _ = filter_files.read_filters(filter_files.find_filter_files(FIXTURE), root=FIXTURE)
    catalog = HandCatalog(CommandEntry("frobnicate", ("CAP_KILL",), "r", "low"))
    frob = next(f for c in make_plan(catalog=catalog).contexts for f in c.functions
                if f.command == "frobnicate")
    assert frob.program == "/usr/local/bin/frobnicate"
    assert [f.name for f in frob.filters] == ["frobnicate"]
    assert filters  # the fixture's filter file was read


@pytest.mark.parametrize(("command", "argv", "sources", "expected"), [
    ("chown", ("chown", None, None), ("chown", "uid", "console_log_path"),
     "chown_console_log_privileged"),
    ("ip", ("ip", "link", "set", None, "up"), ("ip", "link", "set", "dev", "up"),
     "set_link_up_privileged"),
    ("lvcreate", ("lvcreate", "-n", None), ("lvcreate", "-n", "name"),
     "create_logical_volume_privileged"),
    ("qemu-img", ("qemu-img", "info", None), ("qemu-img", "info", "path"),
     "info_qemu_img_privileged"),
    ("weird-tool", ("weird-tool",), ("weird-tool",), "run_weird_tool_privileged"),
    ("rm", ("rm", "-f", None), ("rm", "-f", "path"), "remove_file_privileged"),
])
def test_function_names_come_from_the_command_and_its_literal_args(
    command, argv, sources, expected
):
    assert function_name(command, argv, sources) == expected


def test_names_are_made_unique():
    taken = {"remove_file_privileged", "remove_file_2_privileged"}
    assert unique_name("remove_file_privileged", taken) == "remove_file_3_privileged"


@pytest.mark.parametrize(("name", "source", "command", "marker", "fragment"), [
    ("path", "os.path.join('/var/lib/demo/images', name)", "rm", "PathUnder", "IMAGES_DIR"),
    ("vg_name", "self.vg_name", "lvs", "Match", "[A-Za-z0-9_]"),
    ("instance_uuid", "instance.uuid", "x", "Match", "[0-9a-fA-F]{8}"),
    ("device", "device", "ip", "Match", "{0,14}"),
    ("size", "size_str", "lvcreate", "Match", "[0-9]+"),
    ("ip_address", "port['ip']", "arping", "Match", "[0-9a-fA-F.:]+"),
    # manila's ovs-vsctl external-ids: a MAC (17 characters) and a port's UUID, not interfaces.
    ("port_mac", "port['mac_address']", "ovs-vsctl", "Match", "(:[0-9a-fA-F]{2}){5}"),
    ("port_id", "port['id']", "ovs-vsctl", "Match", "[0-9a-fA-F]{8}"),
    # os-brick's blkid, mdadm and nvme id-ns take a device node.
    ("device_path", "device_path", "blkid", "PathUnder", "DEV_DIR, allow_special=True"),
    ("dev_path", "self.dev_path", "cryptsetup", "PathUnder", "DEV_DIR, allow_special=True"),
])
def test_contracts_are_inferred_from_the_operand(name, source, command, marker, fragment):
    param = infer_contract(name, source, project="demo", command=command)
    assert param.marker == marker
    assert fragment in param.annotation + (param.root_constant or "")


def test_no_identifier_contract_lets_an_operand_start_with_a_dash():
    import re

    for name in ("vg_name", "device", "size", "uid", "mode", "thing"):
        annotation = infer_contract(name, name, project="demo", command="ip").annotation
        regex = re.search(r'Match\(r"(.*)"\)', annotation).group(1)
        assert not re.fullmatch(regex, "--config=/tmp/evil")


@pytest.mark.parametrize(("capabilities", "uid0", "expected"), [
    (("CAP_CHOWN",), False, "file_owner"),
    (("CAP_NET_ADMIN",), False, "net_admin"),
    (("CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"), False, "sys_admin_block"),
    (("CAP_SYS_PTRACE", "CAP_KILL"), False, "kill_sys_ptrace"),
    ((), True, "no_caps_uid0"),
])
def test_context_names(capabilities, uid0, expected):
    assert context_name(capabilities, needs_uid0=uid0) == expected


def test_json_has_the_stable_version_1_shape(plan):
    data = json.loads(render.to_json(plan))
    assert data["version"] == 1 and data["root"] == FIXTURE.as_posix()
    assert set(data["filters"][0]) == {"path", "line", "name", "class", "command", "run_as",
                                       "args", "risk"}
    assert {"path", "line", "function", "command", "via", "filter"} <= set(data["call_sites"][0])
    assert {"command", "capabilities", "needs_uid0", "confidence", "replacement", "filters",
            "call_sites"} <= set(data["commands"][0])
    context = data["plan"]["contexts"][0]
    assert {"name", "capabilities", "functions"} <= set(context)
    assert {"name", "command", "call_sites"} <= set(context["functions"][0])
    assert all(not Path(site["path"]).is_absolute() for site in data["call_sites"])


def test_json_is_deterministic(plan):
    assert render.to_json(plan) == render.to_json(make_plan())


def test_markdown_has_summary_commands_contexts_functions_and_review(plan):
    text = render.to_markdown(plan)
    order = [text.index(h) for h in ("## Status", "## Commands", "## Suggested contexts",
                                     "## Suggested functions", "## Needs review")]
    assert order == sorted(order)
    assert "### `chown_console_log_privileged`" in text


def test_the_part_after_a_slash_the_caller_wrote_is_one_name_not_a_path(tmp_path):
    # os-brick: ln --symbolic --force '/dev/mapper/%s' % self.dev_name LINK
    import re

    (tmp_path / "crypt.py").write_text(
        "def link(execute, dev_name, link):\n"
        "    execute('ln', '-s', '/dev/mapper/%s' % dev_name, link, run_as_root=True)\n")
    plan = make_plan(tmp_path, HandCatalog(CommandEntry("ln", ("CAP_DAC_OVERRIDE",), "r", "high")))
    (function,) = [f for c in plan.contexts for f in c.functions]
    template = function.argv[1]
    assert template.parts[0] == "/dev/mapper/"
    regex = re.search(r'Match\(r"(.*)"\)', template.parts[1].annotation).group(1)
    assert re.fullmatch(regex, "crypt-volume-0001")
    assert not any(re.fullmatch(regex, bad) for bad in ("../../etc/shadow", "..", "a/b", "-x"))
