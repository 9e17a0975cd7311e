"""Contracts: every type and marker accepting and refusing, on both sides of the channel."""

from __future__ import annotations
import __future__

import enum
import functools
import inspect
import math
import os
import pathlib
import re
import threading
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NewType, Optional, Union

import msgpack  # type: ignore[import-untyped]  # msgpack ships no type hints
import pytest

from leastpriv import ContractViolation, PolicyError, contract
from leastpriv.contract import (
    Contract,
    Match,
    MaxLen,
    OneOf,
    PathUnder,
    PolicyWarning,
    Range,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm(enum.Flag):
    READ = 4
    WRITE = 2
    EXEC = 1


class Shape(enum.Enum):
    POINT = (0, 0)


UserId = NewType("UserId", int)


def contract_for(annotation: Any, *, strict: bool = True) -> Contract:
    """The contract of a one-parameter function ``f(value: annotation)``."""

    def f(value):  # type: ignore[no-untyped-def]
        return value

    f.__annotations__ = {"value": annotation}
    return Contract.of(f, strict=strict)


def round_trip(contract: Contract, value: Any) -> Any:
    """What the function receives when a caller passes `value`: bind, then unbind."""
    args, kwargs = contract.unbind(contract.bind((value,), {}))
    return kwargs["value"] if kwargs else args[0]


def refused(contract: Contract, value: Any) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        contract.bind((value,), {})
    return caught.value


def refused_from_wire(contract: Contract, wire_value: Any) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        contract.unbind({"value": wire_value})
    return caught.value


# ---------------------------------------------------------------------------------------------
# Scalars: exact types, no conversion


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (int, 0), (int, -(2**63)), (bool, True), (bool, False), (float, 1.5), (float, 3),
        (float, math.inf), (str, ""), (str, "é"), (bytes, b"\x00\xff"), (None, None),
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


# ---------------------------------------------------------------------------------------------
# Markers


def test_range_is_inclusive_at_both_ends() -> None:
    contract = contract_for(Annotated[int, Range(1000, 65533)])
    assert round_trip(contract, 1000) == 1000
    assert round_trip(contract, 65533) == 65533
    refused(contract, 999)
    refused(contract, 65534)
    refused_from_wire(contract, 0)
    refused(contract, True)


def test_float_range_refuses_nan_and_infinity_outside() -> None:
    contract = contract_for(Annotated[float, Range(0, 1)])
    assert round_trip(contract, 0.5) == 0.5
    assert round_trip(contract, 1) == 1
    refused(contract, math.nan)
    refused(contract, math.inf)
    refused(contract, -0.0001)


@pytest.mark.parametrize(
    ("annotation", "good", "bad"),
    [
        (Annotated[str, MaxLen(3)], "abc", "abcd"),
        (Annotated[bytes, MaxLen(2)], b"ab", b"abc"),
        (Annotated[list[int], MaxLen(1)], [1], [1, 2]),
        (Annotated[tuple[int, ...], MaxLen(1)], (1,), (1, 2)),
        (Annotated[dict[str, int], MaxLen(1)], {"a": 1}, {"a": 1, "b": 2}),
    ],
)
def test_maxlen_bounds_every_sized_type(annotation: Any, good: Any, bad: Any) -> None:
    contract = contract_for(annotation)
    assert round_trip(contract, good) == good
    refused(contract, bad)
    refused_from_wire(contract, contract_for(annotation.__origin__).bind((bad,), {})["value"])


def test_oneof_accepts_only_listed_values() -> None:
    contract = contract_for(Annotated[str, OneOf("ext4", "xfs")])
    assert round_trip(contract, "xfs") == "xfs"
    refused(contract, "btrfs")
    refused_from_wire(contract, "vfat")


def test_oneof_on_int_refuses_bool_even_when_equal() -> None:
    contract = contract_for(Annotated[int, OneOf(0, 1)])
    assert round_trip(contract, 1) == 1
    refused(contract, True)


def test_oneof_on_enum_narrows_members() -> None:
    contract = contract_for(Annotated[Color, OneOf(Color.RED)])
    assert round_trip(contract, Color.RED) is Color.RED
    refused(contract, Color.BLUE)
    refused_from_wire(contract, "blue")


def test_match_is_a_full_match() -> None:
    contract = contract_for(Annotated[str, Match(r"[a-z]+")])
    assert round_trip(contract, "tap") == "tap"
    refused(contract, "tap0")
    refused(contract, "0tap")
    refused(contract, "")
    refused_from_wire(contract, "TAP")


def test_match_refuses_a_trailing_newline_that_dollar_would_allow() -> None:
    contract = contract_for(Annotated[str, Match(r"^[a-z]+$")])
    refused(contract, "tap\n")
    assert re.match(r"^[a-z]+$", "tap\n") is not None  # the trick this refuses


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", "a\u2028b", "a\x85b"])
def test_match_refuses_line_breaks_and_nul_even_when_the_pattern_matches_them(value: str) -> None:
    contract = contract_for(Annotated[str, Match(r"[^/]+")])
    assert re.fullmatch(r"[^/]+", value) is not None
    refused(contract, value)


def test_match_allows_newlines_when_asked_but_never_nul() -> None:
    contract = contract_for(Annotated[str, Match(r"(?s).+", allow_newlines=True)])
    assert round_trip(contract, "line one\nline two") == "line one\nline two"
    refused(contract, "a\x00b")


def test_match_with_bytes_pattern_checks_bytes() -> None:
    contract = contract_for(Annotated[bytes, Match(rb"[0-9a-f]{4}")])
    assert round_trip(contract, b"beef") == b"beef"
    refused(contract, b"beefy")
    refused(contract, b"be\nf")
    refused(contract, "beef")


def test_markers_apply_inside_containers() -> None:
    contract = contract_for(list[Annotated[int, Range(0, 7)]])
    assert round_trip(contract, [0, 7]) == [0, 7]
    assert refused(contract, [0, 8]).rule.startswith("[1]")


def test_markers_combine_in_order() -> None:
    contract = contract_for(Annotated[str, MaxLen(15), Match(r"[a-z][a-z0-9]*")])
    assert round_trip(contract, "tap0") == "tap0"
    refused(contract, "tap" + "0" * 20)
    refused(contract, "0tap")


@pytest.mark.parametrize(
    "annotation",
    [
        Annotated[str, Range(0, 1)],
        Annotated[bool, Range(0, 1)],
        Annotated[int, MaxLen(3)],
        Annotated[int, Match("1")],
        Annotated[bytes, Match("a")],
        Annotated[str, Match(b"a")],
        Annotated[int, PathUnder("/tmp")],
        Annotated[bytes, PathUnder("/tmp")],
        Annotated[int, OneOf("a")],
        Annotated[int, OneOf(True)],
        Annotated[list[int], OneOf(1)],
        Annotated[int | None, Range(0, 1)],
    ],
)
def test_marker_on_a_type_it_cannot_apply_to_is_a_policy_error(annotation: Any) -> None:
    with pytest.raises(PolicyError):
        contract_for(annotation)


def test_misused_marker_stays_a_policy_error_without_strict() -> None:
    with pytest.raises(PolicyError):
        contract_for(Annotated[str, Range(0, 1)], strict=False)


@pytest.mark.parametrize(
    "make",
    # The wrongly typed arguments are the subject: markers must refuse them at run time too.
    [
        lambda: Range(2, 1), lambda: Range(True, 2), lambda: Range(0, math.nan),
        lambda: Range("0", 1),  # type: ignore[arg-type]
        lambda: MaxLen(-1),
        lambda: MaxLen(1.5),  # type: ignore[arg-type]
        lambda: OneOf(), lambda: OneOf([1]), lambda: Match("("),
        lambda: Match(5),  # type: ignore[arg-type]
        lambda: PathUnder(), lambda: PathUnder("relative/root"), lambda: PathUnder(""),
        lambda: PathUnder("/a\x00b"),
        lambda: PathUnder(5),  # type: ignore[arg-type]
    ],
)
def test_malformed_marker_is_a_policy_error(make: Callable[[], object]) -> None:
    with pytest.raises(PolicyError):
        make()


def test_metadata_that_is_not_a_marker_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        contract_for(Annotated[str, "must be under /var/lib"])


def test_marker_class_instead_of_instance_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        contract_for(Annotated[int, Range])


# ---------------------------------------------------------------------------------------------
# PathUnder against a real file system


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "instances"
    (path / "vm1").mkdir(parents=True)
    (path / "vm1" / "console.log").write_text("")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("")
    return path


def path_contract(*roots: Path) -> Contract:
    return contract_for(Annotated[str, PathUnder(*roots)])


def test_path_inside_root_is_accepted_on_both_sides(root: Path) -> None:
    contract = path_contract(root)
    target = str(root / "vm1" / "console.log")
    assert contract.bind((target,), {}) == {"value": target}
    assert round_trip(contract, target) == target


def test_path_is_normalised_before_it_reaches_the_function(root: Path) -> None:
    contract = path_contract(root)
    messy = f"/{root}//vm1/./other/../console.log/"
    assert round_trip(contract, messy) == str(root / "vm1" / "console.log")


def test_dotdot_escape_is_refused(root: Path, outside: Path) -> None:
    contract = path_contract(root)
    escaping = f"{root}/vm1/../../outside/secret"
    assert os.path.exists(escaping)
    refused(contract, escaping)
    refused_from_wire(contract, escaping)
    refused(contract, f"{root}/..")


def test_symlinked_directory_leading_out_is_refused(root: Path, outside: Path) -> None:
    (root / "vm2").symlink_to(outside)
    contract = path_contract(root)
    refused(contract, str(root / "vm2" / "secret"))
    refused(contract, str(root / "vm2" / "not-yet-created"))
    refused_from_wire(contract, str(root / "vm2" / "secret"))


def test_planted_final_symlink_leading_out_is_refused(root: Path, outside: Path) -> None:
    (root / "vm1" / "disk").symlink_to(outside / "secret")
    contract = path_contract(root)
    refused(contract, str(root / "vm1" / "disk"))
    refused_from_wire(contract, str(root / "vm1" / "disk"))


def test_dangling_final_symlink_leading_out_is_refused(root: Path, outside: Path) -> None:
    # Writing through it would create the file outside the root.
    (root / "vm1" / "new.log").symlink_to(outside / "created-by-root")
    refused(path_contract(root), str(root / "vm1" / "new.log"))


def test_symlink_that_stays_inside_is_accepted(root: Path) -> None:
    (root / "current").symlink_to(root / "vm1")
    (root / "vm1" / "latest.log").symlink_to("console.log")
    contract = path_contract(root)
    assert round_trip(contract, str(root / "current" / "console.log")) == str(
        root / "current" / "console.log")
    assert round_trip(contract, str(root / "vm1" / "latest.log")) == str(
        root / "vm1" / "latest.log")


def test_symlink_to_the_root_itself_is_refused(root: Path) -> None:
    (root / "vm1" / "up").symlink_to(root)
    refused(path_contract(root), str(root / "vm1" / "up"))


def test_path_that_does_not_exist_yet_is_accepted(root: Path) -> None:
    contract = path_contract(root)
    assert round_trip(contract, str(root / "vm1" / "new.log")) == str(root / "vm1" / "new.log")
    assert round_trip(contract, str(root / "vm9" / "a" / "b")) == str(root / "vm9" / "a" / "b")


def test_root_that_is_a_symlink_accepts_paths_through_it(root: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    contract = path_contract(alias)
    assert round_trip(contract, str(alias / "vm1" / "console.log")) == str(
        alias / "vm1" / "console.log")
    # A path must be inside a root as written, too: the function only ever sees the declared name.
    refused(contract, str(root / "vm1" / "x"))


def test_root_created_after_the_contract_is_honoured(tmp_path: Path, outside: Path) -> None:
    late = tmp_path / "late"
    contract = path_contract(late)
    assert round_trip(contract, str(late / "a")) == str(late / "a")
    late.mkdir()
    (late / "link").symlink_to(outside)
    refused(contract, str(late / "link" / "secret"))


@pytest.mark.parametrize("value", ["relative/path", "", "vm1/console.log", "./x"])
def test_relative_path_is_refused(root: Path, value: str) -> None:
    refused(path_contract(root), value)


def test_nul_in_path_is_refused(root: Path) -> None:
    refused(path_contract(root), f"{root}/vm1\x00/console.log")
    refused_from_wire(path_contract(root), f"{root}/vm1/console.log\x00")


def test_sibling_with_the_root_as_prefix_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root2").mkdir()
    contract = path_contract(tmp_path / "root")
    refused(contract, str(tmp_path / "root2" / "file"))
    refused(contract, str(tmp_path / "root2"))
    refused(contract, str(tmp_path / "rootfile"))


def test_root_itself_is_not_under_itself(root: Path) -> None:
    refused(path_contract(root), str(root))
    refused(path_contract(root), f"{root}/")


def test_any_of_several_roots_is_accepted(root: Path, outside: Path, tmp_path: Path) -> None:
    contract = path_contract(root, outside)
    assert round_trip(contract, str(outside / "secret")) == str(outside / "secret")
    assert round_trip(contract, str(root / "vm1")) == str(root / "vm1")
    refused(contract, str(tmp_path / "other"))


def test_symlink_loop_in_a_directory_is_refused(root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    refused(path_contract(root), str(root / "loop" / "file"))


def test_a_fifo_inside_the_root_is_checked_without_opening_it(root: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: a check that opened what it checks
    # would let anybody who can plant one hang the daemon. The check examines it, never opens it.
    os.mkfifo(root / "pipe")
    checked: list[object] = []
    worker = threading.Thread(
        target=lambda: checked.append(round_trip(path_contract(root), str(root / "pipe"))),
        daemon=True)
    worker.start()
    worker.join(10)
    assert checked == [str(root / "pipe")]


def test_a_path_below_a_regular_file_is_taken_as_written(root: Path) -> None:
    (root / "file").write_text("")
    assert round_trip(path_contract(root), str(root / "file" / "x")) == str(root / "file" / "x")


def test_path_under_accepts_pathlike_roots(root: Path) -> None:
    marker = PathUnder(pathlib.PurePosixPath(str(root)))
    assert marker.roots == (str(root),)


def test_path_lists_are_checked_item_by_item(root: Path, outside: Path) -> None:
    contract = contract_for(list[Annotated[str, PathUnder(root)]])
    assert round_trip(contract, [f"{root}/a/../b"]) == [f"{root}/b"]
    assert refused(contract, [str(root / "a"), str(outside / "secret")]).rule.startswith("[1]")


# ---------------------------------------------------------------------------------------------
# Policy at decoration


def _no_annotation_privileged(path, uid: int) -> None: ...  # type: ignore[no-untyped-def]


def _var_args_privileged(*paths: str) -> None: ...


def _var_kwargs_privileged(**options: str) -> None: ...


def _any_privileged(value: Any) -> None: ...


def _object_privileged(value: object) -> None: ...


def _list_of_any_privileged(value: list[Any]) -> None: ...


def _dict_of_object_privileged(value: dict[str, object]) -> None: ...


def _optional_any_privileged(value: Any | None) -> None: ...


def _bare_list_privileged(value: list) -> None: ...  # type: ignore[type-arg]


def _bare_typing_dict_privileged(value: typing.Dict) -> None: ...  # type: ignore[type-arg] # noqa: UP006 - the bare alias is the subject


def _path_object_privileged(value: Path) -> None: ...


def _set_privileged(value: set[int]) -> None: ...


def _callable_privileged(value: Callable[[], None]) -> None: ...


def _int_keys_privileged(value: dict[int, str]) -> None: ...


def _bad_default_privileged(mode: Annotated[int, Range(0, 0o777)] = 0o4755) -> None: ...


def _unresolvable_privileged(value: NoSuchType) -> None: ...  # type: ignore[name-defined] # noqa: F821 - the missing name is the subject


@pytest.mark.parametrize(
    ("func", "parameter"),
    [
        (_no_annotation_privileged, "path"),
        (_var_args_privileged, "paths"),
        (_var_kwargs_privileged, "options"),
        (_any_privileged, "value"),
        (_object_privileged, "value"),
        (_list_of_any_privileged, "value"),
        (_dict_of_object_privileged, "value"),
        (_optional_any_privileged, "value"),
        (_bare_list_privileged, "value"),
        (_bare_typing_dict_privileged, "value"),
        (_path_object_privileged, "value"),
        (_set_privileged, "value"),
        (_callable_privileged, "value"),
        (_int_keys_privileged, "value"),
        (_bad_default_privileged, "mode"),
    ],
)
def test_strict_policy_refuses_what_cannot_be_checked(
        func: Callable[..., None], parameter: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Contract.of(func)
    assert func.__name__ in str(caught.value)
    assert repr(parameter) in str(caught.value)


def test_unresolvable_annotation_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        Contract.of(_unresolvable_privileged)


def test_return_annotation_is_not_checked() -> None:
    def anything_privileged(uid: int) -> Any: ...

    assert Contract.of(anything_privileged).bind((1,), {}) == {"uid": 1}


def test_string_annotations_from_future_import_are_resolved() -> None:
    source = (
        "from typing import Annotated\n"
        "from leastpriv.contract import Range\n"
        "def set_mtu_privileged(mtu: Annotated[int, Range(68, 9000)]) -> None: ...\n"
    )
    namespace: dict[str, Any] = {"__name__": "stringified"}
    exec(compile(source, "<stringified>", "exec",
                 flags=__future__.annotations.compiler_flag, dont_inherit=True), namespace)
    func = namespace["set_mtu_privileged"]
    assert isinstance(func.__annotations__["mtu"], str)
    contract = Contract.of(func)
    assert contract.bind((1500,), {}) == {"mtu": 1500}
    with pytest.raises(ContractViolation):
        contract.bind((10,), {})


def test_relaxed_policy_warns_and_passes_offending_parameters_unchecked() -> None:
    def legacy(path, count: int, *extra, **options):  # type: ignore[no-untyped-def]
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        contract = Contract.of(legacy, strict=False)
    assert {type(w.message) for w in caught} == {PolicyWarning}
    assert len(caught) == 3
    assert contract.unchecked == {"path", "extra", "options"}
    payload = contract.bind((b"anything", 2, "x", "y"), {"flag": True})
    assert payload == {"path": b"anything", "count": 2, "extra": ["x", "y"],
                       "options": {"flag": True}}
    assert contract.unbind(payload) == ([b"anything", 2, "x", "y"], {"flag": True})
    with pytest.raises(ContractViolation):
        contract.bind(("p", "2"), {})


def test_relaxed_policy_still_checks_annotated_parameters() -> None:
    def legacy(value: Any, uid: int):  # type: ignore[no-untyped-def]
        pass

    with pytest.warns(PolicyWarning):
        contract = Contract.of(legacy, strict=False)
    assert contract.unchecked == {"value"}
    assert contract.unbind({"value": object, "uid": 3}) == ([], {"value": object, "uid": 3})
    with pytest.raises(ContractViolation):
        contract.unbind({"value": 1, "uid": "3"})


def test_relaxed_policy_refuses_keywords_that_collide_with_parameters() -> None:
    def legacy(path: str, **options):  # type: ignore[no-untyped-def]
        pass

    with pytest.warns(PolicyWarning):
        contract = Contract.of(legacy, strict=False)
    for options in ({"path": "/other"}, {1: "x"}, ["x"]):
        with pytest.raises(ContractViolation):
            contract.unbind({"path": "/p", "options": options})


# ---------------------------------------------------------------------------------------------
# bind: Python's call semantics


def _signature_privileged(a: int, /, b: str, c: bytes = b"", *, d: bool = False) -> None: ...


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((1,), {}),
        ((1, "b", b"c", True), {}),
        ((1,), {"a": 1, "b": "b"}),
        ((1, "b"), {"b": "b"}),
        ((1, "b"), {"e": 1}),
        ((1,), {"c": b"", "d": True}),
    ],
)
def test_arguments_that_do_not_fit_the_signature_raise_type_error_like_a_call(
        args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        _signature_privileged(*args, **kwargs)
    with pytest.raises(TypeError):
        Contract.of(_signature_privileged).bind(args, kwargs)


def test_bind_applies_defaults_and_accepts_keywords() -> None:
    contract = Contract.of(_signature_privileged)
    assert contract.bind((1, "b"), {}) == {"a": 1, "b": "b", "c": b"", "d": False}
    assert contract.bind((1,), {"d": True, "b": "x"}) == {"a": 1, "b": "x", "c": b"", "d": True}


def test_unbind_puts_positional_only_parameters_in_args() -> None:
    contract = Contract.of(_signature_privileged)
    args, kwargs = contract.unbind(contract.bind((7, "b"), {"d": True}))
    assert args == [7]
    assert kwargs == {"b": "b", "c": b"", "d": True}
    _signature_privileged(*args, **kwargs)


def test_unbind_fills_missing_defaults() -> None:
    contract = Contract.of(_signature_privileged)
    assert contract.unbind({"a": 1, "b": "x"}) == ([1], {"b": "x", "c": b"", "d": False})


# ---------------------------------------------------------------------------------------------
# unbind: untrusted payloads


@pytest.mark.parametrize(
    "payload",
    [
        None, [], [1, "b"], "a=1", b"\x80", 42, {("a",): 1},
        {"b": "x"},                                  # required 'a' missing
        {"a": 1},                                    # required 'b' missing
        {"a": 1, "b": "x", "e": 1},                  # unknown parameter
        {"a": 1, "b": "x", b"c": b""},               # bytes key
        {"a": 1, "b": "x", 3: 4},                    # int key
        {"a": "1", "b": "x"},                        # wrong type
        {"a": 1, "b": "x", "d": 1},                  # int for bool
        {"a": 1, "b": "x", "c": "text"},             # str for bytes
        {"a": [1], "b": "x"},                        # list for int
        {"a": {"nested": 1}, "b": "x"},
    ],
)
def test_unbind_refuses_malformed_payloads(payload: Any) -> None:
    with pytest.raises(ContractViolation):
        Contract.of(_signature_privileged).unbind(payload)


def test_unbind_names_the_missing_parameter() -> None:
    with pytest.raises(ContractViolation) as caught:
        Contract.of(_signature_privileged).unbind({"a": 1})
    assert caught.value.parameter == "b"


def test_unbind_names_the_wrong_parameter() -> None:
    with pytest.raises(ContractViolation) as caught:
        Contract.of(_signature_privileged).unbind({"a": 1, "b": "x", "c": 3})
    assert caught.value.parameter == "c"


def test_unbind_does_not_echo_a_huge_unknown_key() -> None:
    with pytest.raises(ContractViolation) as caught:
        Contract.of(_signature_privileged).unbind({"a": 1, "b": "x", "k" * 100_000: 1})
    assert len(caught.value.parameter) < 100


def test_contract_of_a_no_argument_function_takes_an_empty_payload() -> None:
    def ping_privileged() -> None: ...

    contract = Contract.of(ping_privileged)
    assert contract.bind((), {}) == {}
    assert contract.unbind({}) == ([], {})
    with pytest.raises(ContractViolation):
        contract.unbind({"x": 1})
    with pytest.raises(TypeError):
        contract.bind((1,), {})


def _kinds_privileged(a: int, b: int = 2, /, c: str = "c", *rest: int, d: int,
                      e: int = 5, **extra: int) -> None:
    pass


def _wrapping(func: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        func(*args, **kwargs)

    return wrapper


class _CallableObject:
    def __call__(self, x: int, *, y: str = "y") -> None:
        pass


@pytest.mark.parametrize("func", [
    _kinds_privileged, _signature_privileged, _wrapping(_signature_privileged),
    functools.partial(_kinds_privileged, 1), _CallableObject(), lambda: None,
])
def test_signature_is_read_as_inspect_reads_it(func: Callable[..., None]) -> None:
    expected = [(p.name, int(p.kind), contract._NO_DEFAULT if p.default is p.empty else p.default)
                for p in inspect.signature(func).parameters.values()]
    assert contract._signature(func) == expected
