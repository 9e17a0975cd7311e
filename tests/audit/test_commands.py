"""Judging one argument list against the command knowledge base, without the walker."""

from __future__ import annotations

import pytest

from leastpriv.audit.commands import judge
from leastpriv.audit.flowvalue import Elem
from leastpriv.data import programs

P = frozenset({"p"})


def fixed(*words: str) -> list[Elem]:
    return [Elem(frozenset(), word) for word in words]


def kinds(argv: list[Elem]) -> list[str]:
    return [kind for kind, _, _ in judge(argv, programs.load())]


def test_a_caller_run_of_arguments_is_a_tail_for_any_program() -> None:
    assert kinds([*fixed("xbtool"), Elem(P, starred=True)]) == ["argv-tail"]


def test_one_identifier_of_a_program_that_changes_nothing_is_not_a_reach() -> None:
    assert kinds([*fixed("ip", "link", "set", "dev"), Elem(P), *fixed("up")]) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([*fixed("env", "LC_ALL=C", "rm"), Elem(P)], ["operand"]),  # judged as rm
        ([*fixed("env"), Elem(P)], ["runs-program"]),  # the caller names the program
        ([*fixed("sh", "-c"), Elem(P)], ["command-string"]),
        ([*fixed("ip", "netns", "exec"), Elem(P), *fixed("ip", "link")], []),
    ],
)
def test_wrappers_are_judged_by_what_they_run(argv: list[Elem], expected: list[str]) -> None:
    assert kinds(argv) == expected


def test_a_kernel_setting_is_wide_unless_its_key_starts_fixed() -> None:
    assert kinds([*fixed("sysctl", "-w"), Elem(P, head=None)]) == ["kernel-setting"]
    assert kinds([*fixed("sysctl", "-w"), Elem(P, head="net.ipv4.conf.")]) == []


def test_a_path_given_as_an_option_value_is_a_path_option() -> None:
    assert kinds([*fixed("haproxy", "-f"), Elem(P)]) == ["path-option"]
    assert kinds([*fixed("dd", "if=/dev/zero"), Elem(P, head="of=")]) == ["path-option"]


def test_names_of_lvm_commands_are_name_operands_and_read_only_words_count_anywhere() -> None:
    assert kinds([*fixed("lvremove", "-f"), Elem(P)]) == ["name-operand"]
    assert kinds([*fixed("pvcreate"), Elem(P)]) == ["operand"]
    assert kinds([*fixed("parted", "--script"), Elem(P), *fixed("print")]) == []
