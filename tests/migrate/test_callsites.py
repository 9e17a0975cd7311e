"""The run-as-root call-site finder, on a small fake project written in real syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from leastpriv.migrate.callsites import find_call_sites, scan_file
from leastpriv.migrate.model import Filter

FIXTURE = Path(__file__).parent / "fixtures" / "projects" / "rootwrapped"


@pytest.fixture(scope="module")
def scan():
    return find_call_sites(FIXTURE, jobs=1)


def _at(scan, path: str, line: int):
    found = [call for call in scan.calls if call.site.path == path and call.site.line == line]
    assert len(found) == 1, [c.site for c in scan.calls if c.site.path == path]
    return found[0]


def test_run_as_root_true_through_a_project_wrapper_is_found_with_its_literal_argv(scan):
    call = _at(scan, "demo/virt/console.py", 13)
    assert call.site.via == "run_as_root"
    assert call.site.command == "chown"
    assert call.site.argv == ("chown", None, None)
    assert call.site.function == "demo.virt.console.ConsoleLog.chown_console_log"
    assert call.callee == "utils.execute"


def test_a_name_bound_to_a_path_keeps_what_it_was_built_from(scan):
    call = _at(scan, "demo/virt/console.py", 13)
    assert call.sources[2] == "console_log"
    assert call.origins[2].startswith("os.path.join(CONF.instances_path")


def test_self_execute_with_literal_args(scan):
    call = _at(scan, "demo/volume/lvm.py", 12)
    assert call.site.argv == ("lvcreate", "-n", None, None, "-L", None)
    assert call.site.function == "demo.volume.lvm.LVM.create_volume"


def test_starred_literal_list_is_expanded_through_a_class_constant_prefix(scan):
    call = _at(scan, "demo/volume/lvm.py", 21)
    assert call.site.argv == ("env", "LC_ALL=C", "lvs", "--noheadings", "-o", "name", None)
    assert call.site.command == "lvs"  # env VAR=value prog runs prog


def test_starred_local_list_is_expanded(scan):
    call = _at(scan, "demo/network/link.py", 10)
    assert call.site.argv == ("ip", "link", "set", None, "up")


def test_a_literal_list_as_first_argument_is_the_argv(scan):
    assert _at(scan, "demo/network/link.py", 15).site.argv == ("ip", "link", "set", None, "down")


def test_run_as_root_in_a_kwargs_dict_is_found(scan):
    call = _at(scan, "demo/volume/lvm.py", 26)
    assert (call.site.via, call.site.command) == ("kwargs", "frobnicate")


def test_run_as_root_in_a_dict_call_is_found_once(scan):
    call = _at(scan, "demo/volume/lvm.py", 29)
    assert (call.site.via, call.site.command) == ("kwargs", "lvextend")


def test_a_root_helper_string_is_found(scan):
    call = _at(scan, "demo/utils.py", 8)
    assert (call.site.via, call.site.command, call.site.argv) == ("root_helper", None, ())
    assert call.site.function == "demo.utils.get_root_helper"


def test_a_sudo_shell_string_is_found_with_formatted_words_unknown(scan):
    call = _at(scan, "demo/network/link.py", 19)
    assert call.site.via == "sudo"
    assert call.site.argv == ("ip", "addr", "flush", "dev", None)


def test_a_sudo_argv_list_skips_sudo_options(scan):
    call = _at(scan, "demo/network/link.py", 23)
    assert (call.site.via, call.site.argv) == ("sudo", ("ip", "route", "show"))


def test_a_starred_argument_of_unknown_content_leaves_the_command_unknown(scan):
    call = _at(scan, "demo/volume/lvm.py", 32)
    assert call.site.command is None and call.site.argv == (None,)


def test_run_as_root_false_docstrings_and_kwarg_plumbing_are_not_call_sites(scan):
    lines = {(c.site.path, c.site.line) for c in scan.calls}
    assert ("demo/network/link.py", 27) not in lines  # run_as_root=False
    assert ("demo/utils.py", 17) not in lines  # a docstring that mentions sudo
    assert not [line for path, line in lines if path == "demo/utils.py" and line in (12, 13)]


def test_a_file_that_does_not_parse_is_reported_not_fatal(scan):
    assert [s.path for s in scan.skipped] == ["demo/broken.py"]
    assert scan.skipped[0].line == 1


def test_a_file_without_trigger_words_is_not_parsed(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("def broken(:\n")  # would be reported if it were parsed
    result = scan_file(tmp_path, path)
    assert result.calls == [] and result.skipped is None


def test_each_call_site_gets_the_filter_its_argv_matches():
    chown = Filter("x.filters", 1, "chown", "CommandFilter", "chown", "chown", "root", ())
    ip = Filter("x.filters", 2, "ip", "IpFilter", "ip", "ip", "root", ())
    scan = find_call_sites(FIXTURE, [chown, ip], jobs=1)
    by_line = {(c.site.path, c.site.line): c.site.filter for c in scan.calls}
    assert by_line[("demo/virt/console.py", 13)] == "chown"
    assert by_line[("demo/network/link.py", 10)] == "ip"
    assert by_line[("demo/volume/lvm.py", 12)] is None  # no lvcreate filter given


def test_parallel_and_serial_scans_agree(tmp_path):
    for index in range(70):  # above map_files' serial threshold
        (tmp_path / f"m{index}.py").write_text(f"execute('rm', 'f{index}', run_as_root=True)\n")
    serial = find_call_sites(tmp_path, jobs=1).sites
    parallel = find_call_sites(tmp_path, jobs=2).sites
    assert serial == parallel and len(serial) == 70


def test_a_list_appended_to_after_it_is_bound_is_an_argv_of_unknown_length(tmp_path):
    # cinder's LIO target: optional_args = [] then optional_args.append(...) before the call.
    (tmp_path / "lio.py").write_text(
        "def create(execute, path, port):\n"
        "    optional_args = []\n"
        "    if port:\n"
        "        optional_args.append('-p%s' % port)\n"
        "    args = ['cinder-rtstool', 'create', path] + optional_args\n"
        "    execute(*args, run_as_root=True)\n"
    )
    (call,) = find_call_sites(tmp_path).calls
    assert call.site.argv[:3] == ("cinder-rtstool", "create", None)
    assert call.sources[-1] == "*"


def test_items_added_with_no_branch_between_binding_and_call_are_known(tmp_path):
    # os-brick's and cinder's deactivate_lv: cmd = [...]; cmd.append(lv_path), then the call.
    (tmp_path / "lvm.py").write_text(
        "def deactivate(execute, lv_path, permanent, flags):\n"
        "    cmd = ['lvchange', '-a', 'n']\n"
        "    cmd.append(lv_path)\n"
        "    cmd += ['-K']\n"
        "    cmd.extend(['--yes', lv_path])\n"
        "    execute(*cmd, run_as_root=True)\n"
        "    cmd = ['lvchange', '-a', 'y']\n"
        "    if permanent:\n"
        "        cmd += ['-k', 'n']\n"
        "    cmd.append(lv_path)\n"
        "    execute(*cmd, run_as_root=True)\n"
        "    cmd = ['lvs']\n"
        "    cmd.extend(flags)\n"
        "    execute(*cmd, run_as_root=True)\n"
    )
    known, branched, unknown = find_call_sites(tmp_path).calls
    assert known.site.argv == ("lvchange", "-a", "n", None, "-K", "--yes", None)
    assert known.sources[3] == "lv_path" and "*" not in known.sources
    # Literal items under ``if permanent:`` are there or not as the name says, not unknown.
    assert branched.sources[3:] == ("<if permanent>", "lv_path")
    assert [(index, part.condition, part.test, part.items) for index, part in branched.optional] \
        == [(3, "permanent", "truthy", ("-k", "n"))]
    assert unknown.sources == ("lvs", "*")
