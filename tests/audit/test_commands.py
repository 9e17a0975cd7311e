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


def test_a_kernel_setting_is_wide_unless_the_code_fixes_its_key_around_the_callers_value() -> None:
    assert kinds([*fixed("sysctl", "-w"), Elem(P, head=None)]) == ["kernel-setting"]
    # "kernel.{name}=…": a fixed start still lets the caller name kernel.core_pattern.
    assert kinds([*fixed("sysctl", "-w"), Elem(P, head="kernel.")]) == ["kernel-setting"]
    # "net.ipv4.conf.{dev}.forwarding=1" (flowvalue.text says fixed_key).
    assert kinds([*fixed("sysctl", "-w"), Elem(P, head="net.ipv4.conf.", fixed_key=True)]) == []


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
        # -fprint FILE writes FILE; -fprintf FILE FORMAT writes FILE, FORMAT is only its text.
        ([*fixed("find", "/srv", "-fprint"), Elem(P)], ["path-option"]),
        ([*fixed("find", "/srv", "-fprintf"), Elem(P), *fixed("%p\\n")], ["path-option"]),
        ([*fixed("find", "/srv", "-fprintf", "/run/svc/list"), Elem(P)], []),
        ([*fixed("find", "/srv", "-fprintf", "/run/svc/list"), Elem(P), *fixed("-delete")], []),
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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # nova 19's dmcrypt_delete_volume: a device-mapper name, not a path.
        ([*fixed("cryptsetup", "remove"), Elem(P)], ["name-operand"]),
        ([*fixed("cryptsetup", "close", "--deferred"), Elem(P)], ["name-operand"]),
        ([*fixed("cryptsetup", "luksClose"), Elem(P)], ["name-operand"]),
        ([*fixed("cryptsetup", "status"), Elem(P)], []),  # read-only
        # The device of luksFormat, open and luksOpen comes first, that of create second.
        ([*fixed("cryptsetup", "luksFormat", "--type", "luks2"), Elem(P)], ["operand"]),
        ([*fixed("cryptsetup", "--batch-mode", "luksFormat"), Elem(P)], ["operand"]),
        ([*fixed("cryptsetup", "luksOpen"), Elem(P), *fixed("crypt-1")], ["operand"]),
        ([*fixed("cryptsetup", "open", "--type", "plain", "/dev/sdb"), Elem(P)], ["name-operand"]),
        ([*fixed("cryptsetup", "create"), Elem(P), *fixed("/dev/sdb")], ["name-operand"]),
        ([*fixed("cryptsetup", "create", "crypt-1"), Elem(P)], ["operand"]),
        # A cipher or a key size is no path; a key file is one.
        ([*fixed("cryptsetup", "create", "n", "/dev/sdb"), Elem(P, head="--cipher=")],
         ["name-operand"]),
        ([*fixed("cryptsetup", "luksOpen", "--key-file"), Elem(P), *fixed("/dev/sdb", "n")],
         ["path-option"]),
        ([*fixed("dmsetup", "remove", "--retry"), Elem(P)], ["name-operand"]),
        ([*fixed("dmsetup", "rename", "old"), Elem(P)], ["name-operand"]),
        ([*fixed("dmsetup", "create", "n"), Elem(P)], ["operand"]),  # the table file
        ([*fixed("dmsetup", "info"), Elem(P)], []),  # read-only
        ([*fixed("dmsetup", "ls", "--exec"), Elem(P)], ["program"]),
    ],
)
def test_operands_are_judged_per_sub_command(argv: list[Elem], expected: list[str]) -> None:
    assert kinds(argv) == expected


def test_a_sub_command_not_described_keeps_the_programs_operand_kind() -> None:
    kb = programs.parse(
        '[program.tool]\nchanges = "y"\nvalue_options = ["--size"]\n'
        'subcommands = { drop = ["name"], copy = ["name", "path"] }\n'
    )

    def kinds_of(*argv: Elem) -> list[str]:
        return [kind for kind, _, _ in judge(list(argv), kb)]

    assert kinds_of(*fixed("tool", "wipe"), Elem(P)) == ["operand"]
    assert kinds_of(*fixed("tool", "drop", "a"), Elem(P)) == ["name-operand"]  # the last repeats
    assert kinds_of(*fixed("tool", "copy", "--size", "1", "a", "b"), Elem(P)) == ["operand"]
    # The caller chooses the sub-command: the program's kind.
    assert kinds_of(Elem(frozenset(), "tool"), Elem(P), *fixed("a")) == ["operand"]
    with pytest.raises(ValueError):
        programs.parse('[program.tool]\nsubcommands = { drop = ["file"] }\n')


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # After a fixed NAME= the caller's value cannot be env's program: the rest is judged as
        # the argv of the program env runs (nova 20's restart_dnsmasq).
        ([*fixed("env"), Elem(P, head="CONFIG_FILE="), *fixed("dnsmasq", "--strict-order")], []),
        ([*fixed("env"), Elem(P, head="NETWORK_ID="), *fixed("dnsmasq"),
          Elem(P, head="--dhcp-script=")], ["program"]),
        ([*fixed("env"), Elem(P, head="NETWORK_ID="), *fixed("dnsmasq"),
          Elem(P, head="--conf-file=")], ["path-option"]),
        ([*fixed("env"), Elem(P, head="HOME="), *fixed("rm"), Elem(P)], ["operand"]),
        # A variable that makes the program load or run code.
        ([*fixed("env"), Elem(P, head="LD_PRELOAD="), *fixed("ip", "link")], ["program"]),
        ([*fixed("env"), Elem(P, head="PATH=/usr/sbin:"), *fixed("ip", "link")], ["program"]),
        # Without a fixed name the caller may write LD_PRELOAD= or be the program.
        ([*fixed("env"), Elem(P), *fixed("dnsmasq")], ["runs-program"]),
        ([*fixed("env"), Elem(P, head="LC_"), *fixed("dnsmasq")], ["runs-program"]),
        # The value of env's own options is no program.
        ([*fixed("env", "-u", "LANG", "rm"), Elem(P)], ["operand"]),
    ],
)
def test_a_value_after_a_fixed_name_is_an_environment_value(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # A wrapper's own operands before its program are not that program: timeout DURATION,
        # flock FILE, taskset MASK; nor are the values of its options.
        ([*fixed("timeout", "10s", "rm"), Elem(P)], ["operand"]),
        ([*fixed("timeout", "-s", "KILL", "30", "rm"), Elem(P)], ["operand"]),
        ([*fixed("flock", "/run/lock/svc", "rm"), Elem(P)], ["operand"]),
        ([*fixed("flock", "-w", "5", "/run/lock/svc", "rm"), Elem(P)], ["operand"]),
        ([*fixed("taskset", "0x3", "rm"), Elem(P)], ["operand"]),
        ([*fixed("systemd-run", "--unit", "svc-job", "rm"), Elem(P)], ["operand"]),
        # flock FILE -c TEXT runs TEXT with a shell.
        ([*fixed("flock", "/run/lock/svc", "-c"), Elem(P)], ["runs-program"]),
        # A caller value where the wrapper reads its own operand may still shift the program.
        ([*fixed("timeout"), Elem(P), *fixed("rm", "/x")], ["runs-program"]),
    ],
)
def test_a_wrappers_own_operands_are_not_its_program(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # After a fixed script the caller's words are its arguments ($0, $1; sys.argv), not code:
        # the script's commands are judged with them in place.
        ([*fixed("sh", "-c", 'ip link set dev "$1" up', "sh"), Elem(P)], []),
        ([*fixed("bash", "-c", 'rm -f "$1"', "remove"), Elem(P)], ["operand"]),
        ([*fixed("sh", "-c", 'echo "$0"'), Elem(P)], []),
        ([*fixed("bash", "-c", 'ip link show dev "$1"; rm -f "$2"', "x", "eth0"), Elem(P)],
         ["operand"]),
        # Unquoted, the value is split into words: a run of arguments.
        ([*fixed("sh", "-c", "ip link set $1 up", "sh"), Elem(P)], ["argv-tail"]),
        ([*fixed("sh", "-c", '"$1" --version', "sh"), Elem(P)], ["program"]),
        ([*fixed("python3", "-c", "import sys; print(int(sys.argv[1]))"), Elem(P)], []),
        ([*fixed("python3", "-c", "print(1)"), Elem(P)], []),
    ],
)
def test_the_arguments_after_a_fixed_script_are_its_arguments_not_code(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [*fixed("sh", "-c", 'exec "$@"', "sh"), Elem(P, starred=True)],
        [*fixed("bash", "-c", 'eval "$1"', "x"), Elem(P)],
        [*fixed("sh", "-c", 'echo "$(cat "$1")"', "sh"), Elem(P)],
        [*fixed("sh", "-c", 'if [ -n "$1" ]; then rm "$1"; fi', "sh"), Elem(P)],
        [*fixed("sh", "-c", 'echo "$1" > /etc/motd', "sh"), Elem(P)],
        [*fixed("bash", "-c"), Elem(P, head="ls "), *fixed("x")],  # "ls %s" % value: the code
        [*fixed("bash", "-e"), Elem(P), *fixed("-c", "true")],  # before the script: an option
        [*fixed("python3", "-c", "import os, sys; os.system(sys.argv[1])"), Elem(P)],
        [*fixed("python3", "-c", "import sys; exec(sys.argv[1])"), Elem(P)],
        # The caller's text piped into a shell; a command run in the caller's directory; a
        # builtin loaded from the caller's file; modules imported from the caller's directory.
        [*fixed("sh", "-c", 'echo "$1" | sh', "sh"), Elem(P)],
        [*fixed("sh", "-c", 'cd "$1" && make install', "sh"), Elem(P)],
        [*fixed("bash", "-c", 'enable -f "$1" x', "sh"), Elem(P)],
        [*fixed("sh", "-c", 'umask "$1"; touch /run/svc/flag', "sh"), Elem(P)],
        [*fixed("python3", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import svc"),
         Elem(P)],
    ],
)
def test_a_fixed_script_that_runs_its_arguments_or_is_not_read_stays_code(
    argv: list[Elem]
) -> None:
    assert kinds(argv) == ["command-string"]


@pytest.mark.parametrize(
    "code",
    [
        "import sys; open(sys.argv[1], 'w').write('1')",
        # fileinput.input() reads (and with inplace=True rewrites) the files of sys.argv[1:].
        "import fileinput\nfor line in fileinput.input(inplace=True): print(line.upper())",
    ],
)
def test_a_python_script_reading_its_arguments_is_judged_as_acting_on_them(code: str) -> None:
    assert kinds([*fixed("python3", "-c", code), Elem(P)]) == ["operand"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # sed's script is code: its e command and s///e run programs, w writes any file.
        ([*fixed("sed"), Elem(P), *fixed("/etc/svc.conf")], ["command-string"]),
        ([*fixed("sed", "-i", "-e"), Elem(P), *fixed("/etc/svc.conf")], ["command-string"]),
        ([*fixed("sed", "-n"), Elem(P, head="--expression="), *fixed("/etc/svc.conf")],
         ["command-string"]),
        # A script file is a script.
        ([*fixed("sed", "-e", "s/a/b/", "-f"), Elem(P), *fixed("/etc/svc.conf")],
         ["command-string"]),
        # The file it edits is a path; so is a file after a fixed script given by -e.
        ([*fixed("sed", "-i", "s/a/b/"), Elem(P)], ["operand"]),
        ([*fixed("sed", "-i", "-e", "s/a/b/"), Elem(P)], ["operand"]),
        ([*fixed("sed", "-i", "s/a/b/", "/etc/svc.conf"), Elem(P, head="/srv/")], ["operand"]),
        # One more file to run on, and the caller's word can be --expression=1e PROGRAM.
        ([*fixed("sed", "-i", "s/a/b/", "/etc/svc.conf"), Elem(P)], ["command-string"]),
        ([*fixed("sed", "-i", "s/a/b/", "--", "/etc/svc.conf"), Elem(P)], ["operand"]),
        # --sandbox refuses e, r and w: the script only edits the fixed file.
        ([*fixed("sed", "--sandbox", "-i"), Elem(P), *fixed("/etc/svc.conf")], []),
    ],
)
def test_seds_script_is_code_and_its_files_are_paths(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # An option, not a sub-command, chooses what the operands are: multipath -f NAME flushes a
        # map by its name; multipath DEVICE makes one over a device.
        ([*fixed("multipath", "-f"), Elem(P)], ["name-operand"]),
        ([*fixed("multipath", "-r"), Elem(P)], ["operand"]),
        ([*fixed("multipath", "-ll"), Elem(P)], []),  # read-only
        # losetup -f (--find) takes no value: the file after it is the operand it binds.
        ([*fixed("losetup", "-f", "--show"), Elem(P)], ["operand"]),
        ([*fixed("losetup", "-f"), Elem(P)], ["operand"]),
        ([*fixed("losetup", "-d"), Elem(P)], ["operand"]),
        # An offset or size limit is no path.
        ([*fixed("losetup", "-o"), Elem(P), *fixed("/dev/loop0", "/var/lib/svc/disk")],
         ["name-operand"]),
    ],
)
def test_an_option_can_choose_the_kind_of_the_operands(
    argv: list[Elem], expected: list[str]
) -> None:
    assert kinds(argv) == expected
