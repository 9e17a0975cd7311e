"""Reading filter files as oslo.rootwrap 7.10 does, and matching command lines per class."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from leastpriv.migrate.filters import (
    IMPLICIT_PATH,
    find_filter_files,
    match,
    read_filter_file,
    read_filters,
    read_rootwrap_conf,
)
from leastpriv.migrate.model import Filter

FIXTURES = Path(__file__).parent / "fixtures" / "filters"
REAL = FIXTURES / "real"


def _read(*parts: str) -> tuple[list[Filter], list]:
    return read_filters([FIXTURES.joinpath(*parts)], root=FIXTURES)


def _by_name(filters: list[Filter]) -> dict[str, Filter]:
    return {flt.name: flt for flt in filters}


def _messages(problems: list, line: int | None = None) -> str:
    return " | ".join(p.message for p in problems if line is None or p.line == line)


@pytest.fixture(scope="module")
def classes() -> dict[str, Filter]:
    return _by_name(_read("classes")[0])


# -- reading --------------------------------------------------------------------------------------


def test_every_class_is_read_with_the_command_it_really_runs(classes: dict[str, Filter]) -> None:
    assert {flt.cls for flt in classes.values()} >= {
        "CommandFilter", "RegExpFilter", "PathFilter", "KillFilter", "ReadFileFilter", "IpFilter",
        "EnvFilter", "ChainingFilter", "IpNetnsExecFilter", "ChainingRegExpFilter"}
    assert classes["kill_dnsmasq"].command == "kill"
    assert classes["kill_dnsmasq"].run_as == "root"
    assert classes["kill_dnsmasq"].args == ("/usr/sbin/dnsmasq", "-9", "-HUP")
    assert classes["read_initiator"].command == "cat"
    assert classes["read_initiator"].args == ("/etc/iscsi/initiatorname.iscsi",)
    assert classes["dnsmasq_env"].command == "dnsmasq"
    assert classes["dnsmasq_env"].exec_path == "env"
    assert classes["chown_nova"].command == "chown"
    assert classes["chown_nova"].run_as == "nova"
    assert classes["ip_exec"].command == "ip"


def test_quirks_read_exactly_as_oslo_rootwrap_loads_them() -> None:
    # Expected values observed by running oslo_rootwrap.wrapper.load_filters on this directory.
    filters, _ = _read("quirks")
    assert [(f.name, f.cls, f.exec_path, f.run_as, f.args) for f in filters] == [
        ("from_default", "CommandFilter", "true", "root", ()),
        ("ploop", "RegExpFilter", "ploop", "root", ("ploop", "info", ".*")),
        ("upper_name", "CommandFilter", "ls", "root", ()),
        ("privsep", "PathFilter", "privsep-helper", "root",
         ("--config-file", r"/etc/(?!\.\.).*", "--privsep_context", "neutron.privileged.default")),
        ("commented", "CommandFilter", "kpartx", "root  # inline comments are kept", ()),
        ("repeat", "RegExpFilter", "dd", "root", ("dd", "a{1", "3}")),
        ("trailing", "CommandFilter", "mv", "root", ("",)),
        ("privsep-helper", "CommandFilter", "privsep-helper", "root", ()),
    ]


def test_each_entry_reports_the_line_it_starts_on() -> None:
    lines = {f.name: f.line for f in _read("quirks")[0]}
    assert lines["privsep"] == 9  # a continued entry: its first line
    assert lines["ploop"] == 16  # the replacing definition, kept in the first one's place
    assert lines["privsep-helper"] == 0


def test_quirks_are_reported_with_their_lines() -> None:
    _, problems = _read("quirks")
    assert "duplicate name 'ploop'" in _messages(problems, 16)
    assert "inline comment" in _messages(problems, 13)
    assert "a{1,3}" in _messages(problems, 14)
    assert "unknown filter class 'NoSuchFilter'" in _messages(problems, 15)
    assert "[DEFAULT]" in _messages(problems, 3)
    assert "empty field" in _messages(problems, 17)


def test_malformed_lines_are_problems_and_the_rest_is_still_read() -> None:
    filters, problems = _read("broken", "malformed.filters")
    assert [f.name for f in filters] == ["ls", "mv", "privsep-helper"]
    assert {p.line for p in problems} == {3, 4}
    assert all(p.path == "broken/malformed.filters" for p in problems)


@pytest.mark.parametrize("name", ["binary.filters", "nosection.filters", "noheader.filters",
                                  "lowercase-section.filters"])
def test_files_rootwrap_cannot_load_give_problems_not_crashes(name: str) -> None:
    filters, problems = read_filter_file(FIXTURES / "broken" / name, root=FIXTURES)
    assert problems
    assert filters == []


def test_implicit_privsep_helper_is_appended_last() -> None:
    filters, _ = read_filters([], root=FIXTURES)
    assert [(f.path, f.line, f.name, f.cls, f.command) for f in filters] == [
        (IMPLICIT_PATH, 0, "privsep-helper", "CommandFilter", "privsep-helper")]
    assert match(filters, ["privsep-helper", "--privsep_context", "anything.at.all"]) is not None


def test_directories_read_every_non_dot_file_without_needing_a_suffix() -> None:
    names = {f.name for f in _read("classes")[0]}
    assert "fromsuffixless" in names
    assert "hidden" not in names


def test_directory_files_are_reported_in_sorted_order() -> None:
    paths = [f.path for f in _read("classes")[0] if f.path != IMPLICIT_PATH]
    assert paths == sorted(paths)


def test_a_missing_path_is_a_problem() -> None:
    filters, problems = read_filters([FIXTURES / "no-such-dir"], root=FIXTURES)
    assert [f.name for f in filters] == ["privsep-helper"]
    assert problems[0].path == "no-such-dir"


def _configparser_view(path: Path) -> list[tuple[str, list[str]]]:
    parser = configparser.RawConfigParser(strict=False)
    parser.read(path, encoding="utf-8")
    items = parser.items("Filters")
    return [(name, [part.strip() for part in value.split(",")]) for name, value in items]


@pytest.mark.parametrize("path", sorted([*REAL.rglob("*.filters"), FIXTURES / "classes" /
                                          "all-classes.filters", FIXTURES / "quirks" /
                                          "quirks.filters"]), ids=lambda p: p.name)
def test_names_and_fields_agree_with_configparser(path: Path) -> None:
    try:
        expected = _configparser_view(path)
    except configparser.NoSectionError:
        pytest.skip("no [Filters] section (reported as a problem)")
    filters, _ = read_filter_file(path, root=FIXTURES)
    known = [(name, fields) for name, fields in expected if fields[0] != "NoSuchFilter"]
    assert [f.name for f in filters] == [name for name, _ in known]
    assert [(f.cls, *_fields_of(f)) for f in filters] == [tuple(fields) for _, fields in known]


def _fields_of(flt: Filter) -> tuple[str, ...]:
    """The comma-separated fields after the class, rebuilt from a Filter."""
    if flt.cls == "KillFilter":
        return (flt.run_as, *flt.args)
    if flt.cls == "ReadFileFilter":
        return flt.args
    return (flt.exec_path, flt.run_as, *flt.args)


def test_real_filter_files_are_found_in_a_tree() -> None:
    found = [p.relative_to(REAL).as_posix() for p in find_filter_files(REAL)]
    assert "cinder/volume.filters" in found
    assert "ironic/ironic-utils.filters" in found
    assert not any(p.endswith(("rootwrap.conf", "README")) for p in found)


def test_files_in_a_rootwrap_d_directory_need_no_suffix(tmp_path: Path) -> None:
    (tmp_path / "etc" / "proj" / "rootwrap.d").mkdir(parents=True)
    (tmp_path / "etc" / "proj" / "rootwrap.d" / "volume").write_text("[Filters]\n")
    (tmp_path / "etc" / "proj" / "rootwrap.d" / ".swp").write_text("[Filters]\n")
    assert find_filter_files(tmp_path) == [tmp_path / "etc" / "proj" / "rootwrap.d" / "volume"]


def test_real_neutron_file_reads_its_continued_privsep_entry() -> None:
    filters, _ = read_filter_file(REAL / "neutron" / "rootwrap.filters", root=REAL)
    privsep = _by_name(filters)["privsep"]
    assert privsep.args == ("--config-file", r"/etc/(?!\.\.).*", "--privsep_context",
                            "neutron.privileged.default", "--privsep_sock_path", "/")


# -- rootwrap.conf --------------------------------------------------------------------------------


def test_rootwrap_conf_splits_filters_path_and_exec_dirs() -> None:
    conf = read_rootwrap_conf(REAL / "nova" / "rootwrap.conf", root=REAL)
    assert conf.path == "nova/rootwrap.conf"
    assert conf.filters_path == ("/etc/nova/rootwrap.d", "/usr/share/nova/rootwrap")
    assert "/usr/sbin" in conf.exec_dirs


def test_rootwrap_conf_values_are_not_stripped_as_rootwrap(tmp_path: Path) -> None:
    conf_file = tmp_path / "rootwrap.conf"
    conf_file.write_text("[DEFAULT]\nfilters_path=/etc/a, /etc/b\n")
    conf = read_rootwrap_conf(conf_file, root=tmp_path)
    assert conf.filters_path == ("/etc/a", " /etc/b")
    assert conf.exec_dirs == ()


# -- matching -------------------------------------------------------------------------------------


def _only(classes: dict[str, Filter], name: str) -> list[Filter]:
    return [classes[name]]


@pytest.mark.parametrize(("name", "argv", "matches"), [
    ("kpartx", ["kpartx", "-a", "/dev/x"], True),
    ("kpartx", ["/sbin/kpartx"], False),
    ("chown_nova", ["/bin/chown", "x"], True),
    ("chown_nova", ["chown", None], True),
    ("tunctl", ["tunctl", "-b", "-t", "tap0"], True),
    ("tunctl", ["tunctl", "-b", "-t"], False),
    ("sleep", ["sleep", "10"], True),
    ("sleep", ["sleep", "10\n"], True),  # '$' matches before a final newline
    ("sleep", ["sleep", None], False),
    ("tunctl", ["tunctl", "-b", "-t", None], True),  # '.*' accepts an unknown value
    ("mode", ["chmod", "644xyz", "/var/lib/x/y"], True),  # unanchored alternation
    ("mode", ["chmod", "600", "/var/lib/x/y"], False),
    ("chown_images", ["chown", "nova", "/var/lib/images/a"], True),
    ("chown_images", ["chown", "nova", "/var/lib/images2/a"], True),  # prefix by characters
    ("chown_images", ["chown", "nova", "/var/lib/images/../../etc/shadow"], False),
    ("chown_images", ["chown", "nova", "relative/path"], False),
    ("chown_images", ["chown", "root", "/var/lib/images/a"], False),
    ("chown_images", ["chown", None, "/var/lib/images/a"], False),
    ("chown_slash", ["chown", None, "/var/lib/instances/x"], True),  # 'pass' accepts anything
    ("kill_dnsmasq", ["kill", "-9", "123"], True),
    ("kill_dnsmasq", ["kill", "-15", "123"], False),
    ("kill_dnsmasq", ["kill", "123"], False),  # signals listed, none given
    ("kill_dnsmasq", ["kill", None, "123"], False),
    ("kill_dnsmasq", ["kill", "-HUP", None], True),
    ("kill_plain", ["kill", "123"], True),
    ("kill_plain", ["kill", "-9", "123"], False),
    ("kill_plain", ["/bin/kill", "123"], False),
    ("read_initiator", ["cat", "/etc/iscsi/initiatorname.iscsi"], True),
    ("read_initiator", ["cat", "/etc/shadow"], False),
    ("ip", ["ip", "link", "set", "tap0", "up"], True),
    ("ip", ["ip", "netns", "monitor"], True),
    ("ip", ["ip", "netns", "exec", "ns", "bash"], False),
    ("ip", ["ip", "net", "e", "ns", "bash"], False),
    ("ip", ["ip", None, "exec"], False),
    ("ip", ["ip", "link", None, "up"], True),
    ("ip", ["/sbin/ip", "link"], False),
    ("dnsmasq_env", ["env", "CONFIG_FILE=/x", "NETWORK_ID=1", "dnsmasq", "--any"], True),
    ("dnsmasq_env", ["CONFIG_FILE=/x", "NETWORK_ID=1", "dnsmasq"], True),
    ("dnsmasq_env", ["env", "CONFIG_FILE=/x", "NETWORK_ID=1", "LD_PRELOAD=/x", "dnsmasq"], False),
    ("dnsmasq_env", ["env", "CONFIG_FILE=/x", "dnsmasq", "a", "b"], False),
    ("dnsmasq_env", ["env", None, "NETWORK_ID=1", "dnsmasq"], False),
    ("base", ["cat", "x"], False),  # ChainingFilter never matches
])
def test_match_follows_each_class(classes: dict[str, Filter], name: str,
                                  argv: list[str | None], matches: bool) -> None:
    assert (match(_only(classes, name), argv) is not None) is matches


def test_chaining_filters_need_the_rest_to_match_another_root_filter(
        classes: dict[str, Filter]) -> None:
    filters = [classes["ip_exec"], classes["ionice_1"], classes["ip"], classes["dd"],
               classes["chown_nova"]]
    assert match(filters, ["ip", "netns", "exec", "qr-1", "dd", "if=/x"]) is classes["ip_exec"]
    assert match(filters, ["ip", "netns", "exec", "qr-1", "/bin/dd"]) is classes["ip_exec"]
    assert match(filters, ["ip", "netns", "exec", "qr-1", "rm", "-rf"]) is None
    assert match(filters, ["ip", "netns", "exec", "qr-1"]) is None
    # A chained command must match a filter with the same run-as user (chown_nova runs as nova).
    assert match(filters, ["ip", "netns", "exec", "qr-1", "chown", "x"]) is None
    assert match(filters, ["ionice", "-c3", "-n7", "dd", "of=/x"]) is classes["ionice_1"]
    assert match(filters, ["ionice", "-c3", "-n7"]) is None
    assert match(filters, ["ionice", "-c9", "-n7", "dd"]) is None


def test_the_first_matching_filter_wins(classes: dict[str, Filter]) -> None:
    filters = [classes["chown_images"], classes["chown_nova"]]
    assert match(filters, ["chown", "nova", "/var/lib/images/x"]) is classes["chown_images"]
    assert match(filters, ["chown", "nova", "/etc/x"]) is classes["chown_nova"]
    assert match(filters, []) is None


def test_a_bad_regex_denies_instead_of_raising() -> None:
    flt = Filter("f", 1, "bad", "RegExpFilter", "x", "x", "root", ("x", "(unclosed"))
    assert match([flt], ["x", "(unclosed"]) is None
