"""Markers: each one accepting and refusing, PathUnder against a real file system."""

from __future__ import annotations

import math
import os
import pathlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest

from contract_helpers import (
    Color,
    contract_for,
    refused,
    refused_from_wire,
    round_trip,
)
from leastpriv import ContractViolation, PolicyError
from leastpriv.contract import (
    Contract,
    Match,
    MaxLen,
    OneOf,
    PathUnder,
    Range,
)
from leastpriv.paths import CheckedPath

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


def test_oneof_is_type_exact_where_the_type_takes_several() -> None:
    floats = contract_for(Annotated[float, OneOf(1.0, 2.5)])
    assert round_trip(floats, 1.0) == 1.0
    refused(floats, 1)
    refused_from_wire(floats, 1)
    mixed = contract_for(Annotated[int | bool, OneOf(True, 2)])
    refused(mixed, 1)
    refused_from_wire(mixed, 1)
    assert round_trip(mixed, True) is True



def test_oneof_on_enum_narrows_members() -> None:
    contract = contract_for(Annotated[Color, OneOf(Color.RED)])
    assert round_trip(contract, Color.RED) is Color.RED
    refused(contract, Color.BLUE)
    refused_from_wire(contract, "blue")


@pytest.mark.parametrize("value", ["\u0661\u0662\u0663", "\uff11", "12\u00b3"])
def test_match_classes_are_ascii_only(value: str) -> None:
    # int("\u0661\u0662\u0663") is 123: a Unicode \d would let a number through in disguise.
    contract = contract_for(Annotated[str, Match(r"\d+")])
    refused(contract, value)
    refused_from_wire(contract, value)
    assert round_trip(contract, "123") == "123"


def test_match_of_a_compiled_pattern_is_ascii_too_unless_asked() -> None:
    refused(contract_for(Annotated[str, Match(re.compile(r"\w+"))]), "\u00e9t\u00e9")
    unicode = contract_for(Annotated[str, Match(r"\w+", unicode=True)])
    assert round_trip(unicode, "\u00e9t\u00e9") == "\u00e9t\u00e9"


def test_match_is_anchored_at_both_ends_even_with_alternation() -> None:
    contract = contract_for(Annotated[str, Match("eth0|eth1")])
    for value in ("eth0x", "xeth1", "eth0\n"):
        refused(contract, value)
    assert round_trip(contract, "eth1") == "eth1"


def test_violation_shows_the_part_of_a_long_value_that_broke_the_rule() -> None:
    long_name = "a" * 100
    broken = refused(contract_for(Annotated[str, Match("[a-z]+")]), long_name + ";reboot")
    assert ";reboot" in broken.rule
    newline = refused(contract_for(Annotated[str, Match("[a-z;]+")]),
                      long_name + "\nsecond line" + "b" * 100)
    assert repr("a\nsecond line")[1:-1] in newline.rule
    assert len(newline.rule) < 300


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


def test_a_symlink_inside_the_root_is_refused_even_when_it_stays_inside(root: Path) -> None:
    # Where a symlink leads is only known at the moment it is read; the function's own use comes
    # later. So no symlink is taken at all, wherever it points.
    (root / "current").symlink_to(root / "vm1")
    (root / "vm1" / "latest.log").symlink_to("console.log")
    contract = path_contract(root)
    refused(contract, str(root / "current" / "console.log"))
    refused_from_wire(contract, str(root / "vm1" / "latest.log"))


def test_symlink_to_the_root_itself_is_refused(root: Path) -> None:
    (root / "vm1" / "up").symlink_to(root)
    refused(path_contract(root), str(root / "vm1" / "up"))


def test_path_that_does_not_exist_yet_is_accepted(root: Path) -> None:
    contract = path_contract(root)
    assert round_trip(contract, str(root / "vm1" / "new.log")) == str(root / "vm1" / "new.log")
    assert round_trip(contract, str(root / "vm9" / "a" / "b")) == str(root / "vm9" / "a" / "b")


def test_a_root_that_is_a_symlink_is_refused(root: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    refused(path_contract(alias), str(alias / "vm1" / "console.log"))


def test_a_root_below_a_symlinked_directory_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "via").symlink_to(tmp_path)
    refused(path_contract(tmp_path / "via" / "instances"),
            str(tmp_path / "via" / "instances" / "vm1" / "console.log"))


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


def test_a_fifo_inside_the_root_is_refused_without_opening_it(root: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: a check that opened what it checks
    # would let anybody who can plant one hang the daemon. The check examines it, never opens it.
    os.mkfifo(root / "pipe")
    outcome: list[object] = []

    def check() -> None:
        try:
            outcome.append(round_trip(path_contract(root), str(root / "pipe")))
        except ContractViolation as violation:
            outcome.append(violation)

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(10)
    assert [type(item) for item in outcome] == [ContractViolation]


def test_special_files_are_accepted_when_the_contract_allows_them(root: Path) -> None:
    os.mkfifo(root / "pipe")
    contract = contract_for(Annotated[str, PathUnder(root, allow_special=True)])
    assert round_trip(contract, str(root / "pipe")) == str(root / "pipe")


def test_the_function_receives_a_checked_path_that_locates_it_beneath_its_root(
        root: Path) -> None:
    received = round_trip(path_contract(root), f"{root}/vm1/./console.log")
    assert type(received) is CheckedPath
    assert (received.root, received.relative) == (str(root), "vm1/console.log")
    assert contract_for(str).bind((received,), {}) == {"value": str(root / "vm1/console.log")}


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
