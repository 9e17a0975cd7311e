"""The command knowledge base's argument facts, as the audit and migrate both read them."""

from __future__ import annotations

import pytest

from leastpriv.data import programs
from leastpriv.migrate import catalog, risk


def test_the_shipped_tables_parse_and_name_real_fields() -> None:
    kb = programs.load()
    assert kb.programs["lvcreate"].operands == "names"
    assert kb.programs["dd"].changes and kb.takes_path("dd", "of=")
    assert kb.programs["sh"].runs == "string" and "-c" in kb.programs["sh"].string_options
    assert kb.programs["bash"].script_arguments == "shell"
    assert kb.programs["python3"].script_arguments == "python"
    assert kb.programs["sysctl"].kernel_setting
    assert kb.takes_program("dnsmasq", "--dhcp-script")
    assert not kb.takes_path("dnsmasq", "--dhcp-script")
    assert "-exec" in kb.programs["find"].command_options and kb.takes_value("find", "-name")
    assert "-fprintf" in kb.programs["find"].format_options
    assert kb.programs["find"].runs is None and "-delete" in kb.programs["find"].changes_when
    assert kb.programs["cryptsetup"].subcommands["create"] == ("name", "path")
    assert kb.programs["env"].assignments and kb.loads_code("LD_AUDIT") and kb.loads_code("PATH")
    assert not kb.loads_code("NETWORK_ID")
    assert kb.programs["timeout"].leading_operands == 1 and kb.takes_value("timeout", "-s")


@pytest.mark.parametrize(
    ("command", "program"),
    [("/sbin/mkfs.ext4", "mkfs"), ("python3.11", "python3"), ("/usr/bin/rm", "rm")],
)
def test_lookup_goes_through_basename_and_prefix(command: str, program: str) -> None:
    assert programs.load().program(command).name == program


def test_an_unknown_program_has_no_facts() -> None:
    found = programs.load().program("no-such-tool")
    assert found == programs.Program("no-such-tool")


def test_every_prefix_names_a_program_table() -> None:
    kb = programs.load()
    assert set(kb.prefixes.values()) <= set(kb.programs)


def test_migrate_reads_what_gives_root_from_the_same_data() -> None:
    # One source per fact: awk once disagreed between the audit's tables and migrate's.
    assert programs.load().gives_root() == risk.GIVES_ROOT
    assert risk.gives_root("awk") and programs.load().program("awk").runs == "string"


def test_capability_entries_and_argument_tables_live_in_one_file() -> None:
    kb, commands = programs.load(), catalog.load_catalog()
    assert commands.lookup("lvcreate") is not None and "lvcreate" in kb.programs


@pytest.mark.parametrize(
    "table",
    ['[program.x]\nruns = "sometimes"\n', '[program.x]\noperands = "files"\n',
     '[program.x]\nchanges = "y"\nverb = "z"\n',
     '[program.x]\nscript_arguments = "lua"\n', '[program.x]\nsubcommands = { rm = [] }\n'],
)
def test_a_malformed_table_is_refused(table: str) -> None:
    with pytest.raises(ValueError):
        programs.parse(table)
