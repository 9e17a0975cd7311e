"""What a filter really allows: the risk notes filled into every Filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from leastpriv.migrate.filters import read_filters
from leastpriv.migrate.model import Filter
from leastpriv.migrate.risk import GIVES_ROOT, assess, gives_root

FIXTURES = Path(__file__).parent / "fixtures" / "filters"


@pytest.fixture(scope="module")
def classes() -> dict[str, Filter]:
    filters, _ = read_filters([FIXTURES / "classes"], root=FIXTURES)
    return {flt.name: flt for flt in filters}


def _text(flt: Filter) -> str:
    return " ".join(flt.risk)


def test_readers_fill_risk_with_assess(classes: dict[str, Filter]) -> None:
    assert all(flt.risk == assess(flt) for flt in classes.values())


def test_unrestricted_command_filter_on_a_root_giving_command_is_flagged(
        classes: dict[str, Filter]) -> None:
    assert "gives root away" in _text(classes["dd"])
    assert "gives root away" not in _text(classes["kpartx"])
    assert "any arguments" in _text(classes["kpartx"])


def test_a_non_root_run_as_user_is_not_called_root(classes: dict[str, Filter]) -> None:
    assert "'nova'" in _text(classes["chown_nova"])
    assert "root" not in _text(classes["chown_nova"])


def test_implicit_privsep_helper_is_flagged(classes: dict[str, Filter]) -> None:
    assert "any context module" in _text(classes["privsep-helper"])


def test_path_prefix_without_trailing_slash_and_the_race_are_flagged(
        classes: dict[str, Filter]) -> None:
    assert "/var/lib/images2/x" in _text(classes["chown_images"])
    assert "symlink" in _text(classes["chown_images"])
    assert "compared by characters" not in _text(classes["chown_slash"])
    assert "'pass'" in _text(classes["chown_slash"])


def test_regexp_unanchored_alternation_and_trailing_wildcard_are_flagged(
        classes: dict[str, Filter]) -> None:
    assert "unanchored alternation" in _text(classes["mode"])
    assert "accepts any suffix" in _text(classes["mode"])
    assert "unanchored" not in _text(classes["sleep"])
    assert "newline" in _text(classes["sleep"])


def test_kill_filter_on_an_interpreter_or_without_signals_is_flagged(
        classes: dict[str, Filter]) -> None:
    assert "interpreter" in _text(classes["kill_python"])
    assert "No signals listed" in _text(classes["kill_plain"])
    assert classes["kill_dnsmasq"].risk == ()


def test_ip_env_and_netns_exec_filters_say_what_they_allow(classes: dict[str, Filter]) -> None:
    assert "ip netns add/delete/monitor" in _text(classes["ip"])
    assert "gives root away" in _text(classes["dnsmasq_env"])
    assert "CONFIG_FILE=" in _text(classes["dnsmasq_env"])
    assert "any network namespace" in _text(classes["ip_exec"])
    assert "carry over" in _text(classes["ionice_1"])


def test_narrow_filters_have_no_risk(classes: dict[str, Filter]) -> None:
    assert classes["read_initiator"].risk == ()
    assert classes["base"].risk == ()


@pytest.mark.parametrize("command", ["python3", "/usr/bin/python3.11", "perl", "mkfs.ext4"])
def test_interpreters_and_command_families_give_root(command: str) -> None:
    assert gives_root(command)


def test_every_root_giving_command_has_a_reason() -> None:
    assert all(reason and not reason.endswith(".") for reason in GIVES_ROOT.values())
    assert gives_root("lvcreate") is None
