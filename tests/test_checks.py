"""The annotation compiler: every type accepting and refusing, on both sides of the channel."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

import msgpack  # type: ignore[import-untyped]  # msgpack ships no type hints
import pytest

from contract_helpers import (
    Color,
    Level,
    Perm,
    Shape,
    UserId,
    contract_for,
    refused,
    refused_from_wire,
    round_trip,
)
from leastpriv import ContractViolation, PolicyError
from leastpriv.contract import (
    AllowNonFinite,
    Contract,
    Match,
)

# ---------------------------------------------------------------------------------------------
# Scalars: exact types, no conversion


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (int, 0), (int, -(2**63)), (bool, True), (bool, False), (float, 1.5), (float, 3),
        (float, -0.0), (str, ""), (str, "é"), (bytes, b"\x00\xff"), (None, None),
        (type(None), None),
    ],
)
def test_scalar_accepts_its_own_type_on_both_sides(annotation: Any, value: Any) -> None:
    contract = contract_for(annotation)
    assert contract.bind((value,), {}) == {"value": value}
    received = round_trip(contract, value)
    assert received == value or (received is value)
    assert type(received) is type(value)


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (int, True), (int, False), (int, 1.0), (int, "1"), (int, Level.LOW),
        (float, True), (float, "1.5"), (float, None),
        (bool, 1), (bool, 0), (bool, "true"),
        (str, b"abc"), (str, 1), (str, None),
        (bytes, "abc"), (bytes, bytearray(b"abc")), (bytes, memoryview(b"abc")),
        (None, 0), (None, ""),
    ],
)
def test_scalar_refuses_other_types_on_both_sides(annotation: Any, value: Any) -> None:
    contract = contract_for(annotation)
    assert refused(contract, value).parameter == "value"
    assert refused_from_wire(contract, value).parameter == "value"


@pytest.mark.parametrize("annotation", [int, float])
def test_integers_outside_what_the_channel_carries_are_refused(annotation: Any) -> None:
    contract = contract_for(annotation)
    assert round_trip(contract, 2**64 - 1) == 2**64 - 1
    assert round_trip(contract, -(2**63)) == -(2**63)
    refused(contract, 2**64)
    refused(contract, -(2**63) - 1)
    refused(contract, 10**5000)  # past Python's int-to-str limit: the message must still build


def test_str_subclass_is_not_str() -> None:
    class Sneaky(str):
        pass

    refused(contract_for(str), Sneaky("x"))


def test_newtype_checks_its_supertype() -> None:
    contract = contract_for(UserId)
    assert round_trip(contract, 1000) == 1000
    refused(contract, "1000")


def test_violation_names_function_parameter_and_rule_and_is_a_value_error() -> None:
    def chown_privileged(uid: int) -> None: ...

    contract = Contract.of(chown_privileged)
    with pytest.raises(ValueError) as caught:
        contract.bind(("0",), {})
    error = caught.value
    assert isinstance(error, ContractViolation)
    assert error.function == contract.function
    assert contract.function.endswith("chown_privileged")
    assert contract.function.startswith(__name__)
    assert error.parameter == "uid"
    assert error.rule


def test_violation_message_does_not_echo_a_huge_value() -> None:
    contract = contract_for(Annotated[bytes, Match(rb"[a-z]+")])
    huge = b"A" * 1_000_000
    assert len(str(refused(contract, huge))) < 400
    assert len(str(refused_from_wire(contract, huge))) < 400


# ---------------------------------------------------------------------------------------------
# Containers


def test_list_round_trips_and_checks_every_item() -> None:
    contract = contract_for(list[int])
    assert contract.bind(([1, 2, 3],), {}) == {"value": [1, 2, 3]}
    assert round_trip(contract, []) == []
    assert refused(contract, [1, True, 3]).rule.startswith("[1]")
    refused(contract, (1, 2))
    refused(contract, {1, 2})
    refused_from_wire(contract, [1, "2"])


def test_variable_tuple_travels_as_a_list_and_comes_back_a_tuple() -> None:
    contract = contract_for(tuple[str, ...])
    assert contract.bind((("a", "b"),), {}) == {"value": ["a", "b"]}
    received = round_trip(contract, ("a", "b"))
    assert received == ("a", "b")
    assert type(received) is tuple
    refused(contract, ["a", "b"])
    refused(contract, ("a", b"b"))


def test_fixed_tuple_checks_length_and_each_position() -> None:
    contract = contract_for(tuple[int, str])
    assert round_trip(contract, (1, "x")) == (1, "x")
    refused(contract, (1,))
    refused(contract, (1, "x", "y"))
    assert refused(contract, ("x", 1)).rule.startswith("[0]")
    refused_from_wire(contract, [1, "x", 2])


def test_empty_tuple_annotation_accepts_only_the_empty_tuple() -> None:
    contract = contract_for(tuple[()])
    assert round_trip(contract, ()) == ()
    refused(contract, (1,))


def test_dict_requires_str_keys_and_checked_values() -> None:
    contract = contract_for(dict[str, int])
    assert round_trip(contract, {"a": 1}) == {"a": 1}
    refused(contract, {1: 1})
    refused(contract, {b"a": 1})
    refused(contract, {"a": "1"})
    refused(contract, [("a", 1)])
    refused_from_wire(contract, {"a": True})


def test_dict_keys_may_be_narrowed_with_markers_or_literals() -> None:
    narrowed = contract_for(dict[Annotated[str, Match("[a-z]+")], int])
    assert round_trip(narrowed, {"ab": 1}) == {"ab": 1}
    refused(narrowed, {"AB": 1})
    literal_keys = contract_for(dict[Literal["uid", "gid"], int])
    assert round_trip(literal_keys, {"uid": 1}) == {"uid": 1}
    refused(literal_keys, {"mode": 1})


def test_nested_containers_rebuild_tuples_and_enums_at_every_depth() -> None:
    contract = contract_for(list[dict[str, tuple[Color, int]]])
    value = [{"a": (Color.RED, 1)}, {}, {"b": (Color.BLUE, 2)}]
    payload = contract.bind((value,), {})
    assert payload == {"value": [{"a": ["red", 1]}, {}, {"b": ["blue", 2]}]}
    assert round_trip(contract, value) == value
    assert refused(contract, [{"a": (Color.RED, 1)}, {"b": ("blue", 2)}]).rule.startswith(
        "[1]['b'][0]")


def test_payload_survives_msgpack_and_comes_back_as_declared() -> None:
    def configure_privileged(
        names: list[str], limits: dict[str, tuple[int, float]], level: Level,
        color: Color | None, blob: bytes, flags: tuple[bool, ...],
    ) -> None: ...

    contract = Contract.of(configure_privileged)
    call = (["a"], {"cpu": (2, 0.5)}, Level.HIGH, None, b"\x00\xff", (True, False))
    body = msgpack.packb(contract.bind(call, {}), use_bin_type=True)
    args, kwargs = contract.unbind(msgpack.unpackb(body, raw=False, strict_map_key=False))
    assert args == []
    assert kwargs == dict(zip(["names", "limits", "level", "color", "blob", "flags"], call,
                              strict=True))
    assert kwargs["level"] is Level.HIGH
    assert type(kwargs["flags"]) is tuple


def test_sequences_from_the_wire_may_be_lists_or_tuples() -> None:
    # Which sequence type the decoder builds is the codec's choice; both are rebuilt as declared.
    assert contract_for(list[int]).unbind({"value": (1, 2)})[1]["value"] == [1, 2]
    assert contract_for(tuple[int, ...]).unbind({"value": [1, 2]})[1]["value"] == (1, 2)


# ---------------------------------------------------------------------------------------------
# Optional, Union, Literal, Enum


# The typing spellings are the subject here, beside the PEP 604 one.
@pytest.mark.parametrize(
    "annotation", [Optional[int], Union[int, None], int | None])  # noqa: UP007, UP045
def test_optional_accepts_none_and_the_type(annotation: Any) -> None:
    contract = contract_for(annotation)
    assert round_trip(contract, None) is None
    assert round_trip(contract, 5) == 5
    refused(contract, "5")
    refused(contract, True)


@pytest.mark.parametrize("annotation", [Union[int, str], int | str])  # noqa: UP007 - as above
def test_union_accepts_each_member_and_nothing_else(annotation: Any) -> None:
    contract = contract_for(annotation)
    assert round_trip(contract, 1) == 1
    assert round_trip(contract, "1") == "1"
    refused(contract, b"1")
    refused(contract, None)
    refused_from_wire(contract, 1.5)


def test_union_rebuilds_enum_members() -> None:
    contract = contract_for(Color | None)
    assert round_trip(contract, Color.BLUE) is Color.BLUE
    assert round_trip(contract, None) is None


def test_literal_compares_type_and_value() -> None:
    contract = contract_for(Literal["up", "down", 1])
    assert round_trip(contract, "up") == "up"
    assert round_trip(contract, 1) == 1
    refused(contract, "sideways")
    refused(contract, True)
    refused(contract, b"up")
    refused(contract, 1.0)
    refused_from_wire(contract, [1])


def test_literal_of_enum_members_travels_by_value() -> None:
    contract = contract_for(Literal[Color.RED])
    assert contract.bind((Color.RED,), {}) == {"value": "red"}
    assert round_trip(contract, Color.RED) is Color.RED
    refused(contract, Color.BLUE)
    refused(contract, "red")


def test_enum_travels_by_value_and_comes_back_as_the_member() -> None:
    contract = contract_for(Color)
    assert contract.bind((Color.BLUE,), {}) == {"value": "blue"}
    assert round_trip(contract, Color.BLUE) is Color.BLUE


def test_enum_caller_must_pass_a_member_not_its_value() -> None:
    refused(contract_for(Color), "blue")
    refused(contract_for(Level), 1)


def test_enum_from_the_wire_must_be_an_exact_member_value() -> None:
    contract = contract_for(Level)
    assert contract.unbind({"value": 2})[1]["value"] is Level.HIGH
    refused_from_wire(contract, 3)
    refused_from_wire(contract, True)  # True == 1, but a bool is not Level's int value
    refused_from_wire(contract, "LOW")
    refused_from_wire(contract, [1])
    refused_from_wire(contract_for(Color), "RED")


def test_flag_enum_combinations_round_trip_and_unknown_bits_are_refused() -> None:
    contract = contract_for(Perm)
    assert round_trip(contract, Perm.READ | Perm.WRITE) == Perm.READ | Perm.WRITE
    assert contract.unbind({"value": 0})[1]["value"] == Perm(0)
    refused_from_wire(contract, 8)
    refused_from_wire(contract, -1)


def test_enum_whose_values_do_not_travel_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        contract_for(Shape)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_refuses_nan_and_infinities_on_both_sides(value: float) -> None:
    for annotation in (float, list[float], float | None):
        contract = contract_for(annotation)
        refused(contract, [value] if annotation == list[float] else value)
        refused_from_wire(contract, [value] if annotation == list[float] else value)


def test_float_takes_nan_and_infinities_when_allowed() -> None:
    contract = contract_for(Annotated[float, AllowNonFinite()])
    assert round_trip(contract, math.inf) == math.inf
    assert math.isnan(round_trip(contract, math.nan))
    assert round_trip(contract, 2) == 2


def test_allowing_non_finite_on_anything_but_float_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        contract_for(Annotated[int, AllowNonFinite()])


# ---------------------------------------------------------------------------------------------
# PathUnder among other markers


def test_a_marker_written_before_path_under_sees_the_path_the_function_receives(
        tmp_path: Any) -> None:
    # PathUnder hands the function the normalised path; a Match written before it must not judge
    # the raw spelling instead: "<root>/./console.log" matches "<root>/[^/]+/console.log" as
    # written, yet the function would receive "<root>/console.log", which does not.
    from leastpriv.contract import PathUnder
    root = str(tmp_path)
    contract = contract_for(Annotated[str, Match(root + r"/[^/]+/console\.log"), PathUnder(root)])
    refused(contract, f"{root}/./console.log")
    refused_from_wire(contract, f"{root}/./console.log")
    assert round_trip(contract, f"{root}/vm1/console.log") == f"{root}/vm1/console.log"


@pytest.mark.parametrize("order", ["one-of-first", "path-under-first"])
def test_one_of_next_to_path_under_takes_the_listed_paths_in_either_order(
        tmp_path: Any, order: str) -> None:
    # PathUnder hands the others a CheckedPath (a str subclass); OneOf's type-exact test must read
    # it as the str it is, or no listed path could ever pass.
    from leastpriv.contract import OneOf, PathUnder
    root = str(tmp_path)
    markers = (OneOf(f"{root}/a"), PathUnder(root))
    contract = contract_for(Annotated[(str, *(markers if order == "one-of-first"
                                             else markers[::-1]))])
    assert round_trip(contract, f"{root}/a") == f"{root}/a"
    refused(contract, f"{root}/b")


# ---------------------------------------------------------------------------------------------
# Negative zero


def test_a_range_that_starts_at_zero_refuses_negative_zero() -> None:
    # -0.0 == 0 passes `lo <= value`, yet str(-0.0) is "-0.0": handed on as a command argument it
    # reads as an option ("-0..."), the very thing a range starting at 0 rules out.
    from leastpriv.contract import Range
    contract = contract_for(Annotated[float, Range(0, 10)])
    refused(contract, -0.0)
    refused_from_wire(contract, -0.0)
    assert round_trip(contract, 0.0) == 0.0
    assert round_trip(contract_for(Annotated[float, Range(-1, 1)]), -0.0) == 0.0


def test_one_of_tells_negative_zero_from_zero() -> None:
    from leastpriv.contract import OneOf
    contract = contract_for(Annotated[float, OneOf(0.0, 2.5)])
    refused_from_wire(contract, -0.0)
    assert math.copysign(1.0, round_trip(contract, 0.0)) == 1.0
    assert math.copysign(1.0, round_trip(contract_for(Annotated[float, OneOf(-0.0)]), -0.0)) < 0
