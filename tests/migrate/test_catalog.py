"""The command → capability catalog: consistent data, lookups, and coverage of real filter files."""

from __future__ import annotations

from pathlib import Path

import pytest

from leastpriv import caps
from leastpriv.migrate.catalog import CONFIDENCES, Catalog, load_catalog, parse_catalog
from leastpriv.migrate.filters import find_filter_files, read_filter_file

REAL = Path(__file__).parent / "fixtures" / "filters" / "real"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_catalog_is_large_enough(catalog: Catalog) -> None:
    assert len(catalog) >= 60
    assert len(list(catalog)) == len(catalog)


def test_every_entry_is_complete_and_valid(catalog: Catalog) -> None:
    for entry in catalog:
        assert entry.reason.strip(), entry.command
        assert entry.confidence in CONFIDENCES, entry.command
        assert caps.names(entry.capabilities) == sorted(entry.capabilities, key=caps.parse)
        assert len(set(entry.capabilities)) == len(entry.capabilities)


def test_no_name_or_alias_appears_twice(catalog: Catalog) -> None:
    names = [name for entry in catalog for name in (entry.command, *entry.aliases)]
    assert len(names) == len(set(names))


def test_every_command_of_the_real_filter_files_is_catalogued(catalog: Catalog) -> None:
    files = find_filter_files(REAL)
    commands = {flt.command for path in files for flt in read_filter_file(path, root=REAL)[0]}
    assert len(commands) > 90
    assert sorted(command for command in commands if catalog.lookup(command) is None) == []


def test_lookup_uses_basenames_and_aliases(catalog: Catalog) -> None:
    assert catalog.lookup("/sbin/lvcreate") is catalog.lookup("lvcreate")
    assert catalog.lookup("lvcreate").command == "lvm"
    assert catalog.lookup("mkfs.ext4").command == "mkfs"
    assert "CAP_CHOWN" in catalog.lookup("/bin/chown").capabilities


def test_unknown_commands_are_not_guessed(catalog: Catalog) -> None:
    assert catalog.lookup("no-such-tool") is None
    assert "no-such-tool" not in catalog


def test_peer_uid_checks_are_marked(catalog: Catalog) -> None:
    assert catalog.lookup("iscsiadm").needs_uid0
    assert catalog.lookup("multipathd").needs_uid0
    assert catalog.lookup("sysctl").needs_uid0
    assert not catalog.lookup("ip").needs_uid0


def test_replacements_are_named_where_they_exist(catalog: Catalog) -> None:
    assert "pyroute2" in catalog.lookup("brctl").replacement
    assert "os.chown" in catalog.lookup("chown").replacement
    assert "os.kill" in catalog.lookup("kill").replacement


@pytest.mark.parametrize("text", [
    '[[command]]\ncommand = "x"\ncapabilities = ["CAP_NOPE"]\nreason = "r"\nconfidence = "high"',
    '[[command]]\ncommand = "x"\ncapabilities = ["chown"]\nreason = "r"\nconfidence = "high"',
    '[[command]]\ncommand = "x"\nreason = "r"\nconfidence = "sure"',
    '[[command]]\ncommand = "x"\nconfidence = "high"',
    '[[command]]\ncommand = "x"\nreason = "r"\nconfidence = "high"\ncolour = "red"',
    '[[command]]\ncommand = "x"\nreason = "r"\nconfidence = "high"\n'
    '[[command]]\ncommand = "y"\naliases = ["x"]\nreason = "r"\nconfidence = "high"',
])
def test_malformed_catalog_data_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_catalog(text)
