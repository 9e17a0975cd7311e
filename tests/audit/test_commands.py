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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The starting point of find -delete is a tree it empties (manila's find).
        ([*fixed("find"), Elem(P), *fixed("-mindepth", "1", "-delete")], ["operand"]),
        # One word in a starting point or action position can be the action -delete itself.
        ([*fixed("find", "/var/lib/svc", "-type", "f"), Elem(P)], ["operand"]),
        # A test's value only chooses among the files under the fixed starting points.
        ([*fixed("find", "/var/lib/svc", "-mindepth"), Elem(P), *fixed("-delete")], []),
        ([*fixed("find", "/var/lib/svc", "!", "-path"), Elem(P), *fixed("-delete")], []),
        # Behind a fixed directory the word cannot be an action; without -delete find only lists.
        ([*fixed("find"), Elem(P, head="/srv/"), *fixed("-type", "f")], []),
        ([*fixed("find"), Elem(P, head="/srv/"), *fixed("-delete")], ["operand"]),
        # -fprint FILE writes FILE.
        ([*fixed("find", "/srv", "-fprint"), Elem(P)], ["path-option"]),
        # What follows -exec up to ';' is a command: judged as one.
        ([*fixed("find", "/srv", "-exec"), Elem(P), *fixed("{}", ";")], ["program"]),
        ([*fixed("find", "/srv", "-execdir", "chmod"), Elem(P), *fixed("{}", "+")], ["operand"]),
        ([*fixed("find", "/srv", "-exec", "grep", "-l"), Elem(P), *fixed("{}", ";")], []),
        # A starting point of find -exec rm is a tree it changes.
        ([*fixed("find"), Elem(P, head="/srv/"), *fixed("-exec", "rm", "{}", ";")], ["operand"]),
        # A run of arguments can add "-exec PROG ;"; so can two free words before a ';'.
        ([*fixed("find", "/srv"), Elem(P, starred=True)], ["argv-tail"]),
        ([*fixed("find"), Elem(P), Elem(P), *fixed("-exec", "rm", "{}", ";")],
         ["runs-program", "operand"]),
        # Two free words with nothing after them cannot end an -exec: two paths or -delete.
        ([*fixed("find"), Elem(P), Elem(P)], ["operand"]),
    ],
)
def test_only_the_words_after_find_exec_are_a_command(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [*fixed("bash"), Elem(P)],  # a script file is code
        [*fixed("python3"), Elem(P)],
        [*fixed("awk"), Elem(P), *fixed("/etc/fixed")],
        [*fixed("sh", "-c"), Elem(P)],
    ],
)
def test_the_operands_of_an_interpreter_stay_code(argv: list[Elem]) -> None:
    assert kinds(argv) == ["command-string"]
