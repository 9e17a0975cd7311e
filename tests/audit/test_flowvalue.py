"""How text built from fixed text and caller values is read: fixed kinds, options, keys, numbers."""

from __future__ import annotations

import pytest

from leastpriv.audit.flowvalue import NOTHING, Value, formatted, percent, text

CALLER = Value(frozenset({"x"}))
CONSTANT = Value(const="/var/lib/svc")


@pytest.mark.parametrize(
    ("fmt", "slots", "templated"),
    [
        ("/proc/sys/net/ipv6/conf/%s/disable_ipv6", [CALLER], True),
        ("/run/svc/%s.pid", [CALLER], False),  # a fixed extension, not a fixed file
        ("/etc/%s", [CALLER], False),
        ("%s/x", [CALLER], False),  # nothing fixed before the caller's value
        ("/a/../%s/x", [CALLER], False),  # ".." in the fixed text
        ("%s/%s/pid", [NOTHING, CALLER], True),  # a module constant first: the code's directory
        ("--pid-file=/var/lib/svc/%s/pid", [CALLER], True),  # the path after the option
    ],
)
def test_a_caller_value_between_a_fixed_directory_and_a_fixed_name_is_a_fixed_kind(
    fmt: str, slots: list[Value], templated: bool
) -> None:
    assert percent(fmt, slots, CALLER).templated is templated


def test_an_option_before_a_path_is_its_head_and_numbers_carry_no_label() -> None:
    assert percent("--config=%s", [CALLER], CALLER).head == "--config="
    assert percent("of=%s", [CALLER], CALLER).head == "of="
    assert percent("/var/run/svc/%d.pid", [CALLER], CALLER) == Value(const="/var/run/svc/0.pid")
    assert formatted("{:d}G", [CALLER], CALLER).labels == frozenset()


def test_named_and_positional_fields_take_their_own_values() -> None:
    value = formatted("/sys/class/mdev_bus/{0}/types/{1}/create", [CALLER, CONSTANT], NOTHING)
    assert value.labels == {"x"} and value.templated
    assert percent("--conf-file=%(conf)s", [], CALLER).labels == {"x"}


@pytest.mark.parametrize(
    ("pieces", "fixed_key"),
    [
        (["net.ipv4.conf.", CALLER, ".forwarding=1"], True),
        (["net.ipv4.ip_forward=", CALLER], True),
        ([NOTHING, "=", CALLER], True),  # the key is the code's (checked, or a constant)
        (["kernel.", CALLER, "=1"], False),  # the caller ends the key: kernel.core_pattern
        ([CALLER, "=1"], False),
        ([CALLER], False),
        (["net.ipv4.conf.", CALLER, ".", CALLER, "=1"], False),
    ],
)
def test_a_kernel_key_is_fixed_only_when_the_caller_sits_inside_fixed_dotted_words(
    pieces: list[str | Value], fixed_key: bool
) -> None:
    assert text(pieces).fixed_key is fixed_key


def test_a_quoted_value_is_one_word_of_the_template() -> None:
    quoted = Value(frozenset({"d"}), quoted=True)
    value = text(["ip link show ", quoted])
    assert value.labels == {"d"}
    assert value.template is not None and "\0" not in value.template


def test_text_without_caller_values_is_a_constant_when_every_part_is_known() -> None:
    assert text(["/etc/", Value(const="svc"), ".conf"]) == Value(const="/etc/svc.conf")
    assert text(["/etc/", NOTHING]).const is None
