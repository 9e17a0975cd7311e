"""Call binding: the policy at decoration, Python's call semantics, untrusted payloads."""

from __future__ import annotations
import __future__

import functools
import inspect
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NewType

import pytest

from contract_helpers import Color
from leastpriv import ContractViolation, PolicyError, binding
from leastpriv.contract import (
    Contract,
    PathUnder,
    PolicyWarning,
    Range,
)

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
    exec(compile(source, "<stringified>", "exec",  # noqa: S102 - the test's own source
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
    expected = [(p.name, int(p.kind), binding._NO_DEFAULT if p.default is p.empty else p.default)
                for p in inspect.signature(func).parameters.values()]
    assert binding._signature(func) == expected


def test_a_default_is_checked_in_the_daemon_like_a_value_sent(tmp_path: Path) -> None:
    # Finding 7: a payload that leaves a PathUnder parameter out got its default unchecked, though
    # the file system had changed since decoration (a directory swapped for a symlink out).
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "etc").mkdir()

    def write_privileged(path=f"{root}/sub/f"):  # type: ignore[no-untyped-def]
        """Annotated below: the root is a local name, which a string annotation cannot reach."""

    write_privileged.__annotations__ = {"path": Annotated[str, PathUnder(root)]}
    contract = Contract.of(write_privileged)
    assert contract.unbind({}) == ([], {"path": f"{root}/sub/f"})
    (root / "sub").rename(root / "sub.away")
    (root / "sub").symlink_to(tmp_path / "etc")
    with pytest.raises(ContractViolation):
        contract.unbind({})


def test_a_default_reaches_the_function_as_its_type_declares() -> None:
    def pick_privileged(shape: tuple[int, int] = (1, 2), color: Color = Color.RED) -> None: ...

    assert Contract.of(pick_privileged).unbind({}) == ([], {"shape": (1, 2), "color": Color.RED})


def test_a_contract_names_every_path_under_root_it_holds(tmp_path: Path) -> None:
    # The daemon pins these when it starts, and refuses to start on one that is unsafe.
    logs = NewType("logs", Annotated[str, PathUnder(tmp_path / "logs")])

    def move_privileged(a, b, c, d):  # type: ignore[no-untyped-def]
        """Annotated below: tmp_path is a local name."""

    move_privileged.__annotations__ = {
        "a": Annotated[str, PathUnder(tmp_path / "a", tmp_path / "b")],
        "b": list[Annotated[str, PathUnder(tmp_path / "a")]] | None,
        "c": logs,
        "d": int,
    }
    assert Contract.of(move_privileged).path_roots == (
        str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "logs"))


def test_a_forged_checked_path_is_checked_again_by_its_text(tmp_path: Path) -> None:
    # A CheckedPath carries the root and the relative part leastpriv.fs acts on. One built by hand
    # (for "/", relative "etc/shadow", its text inside the root) must never reach the function as
    # it is: the daemon checks the text again and hands on what it resolved itself.
    from leastpriv.paths import CheckedPath

    root = tmp_path / "root"
    root.mkdir()

    def chmod_privileged(path):  # type: ignore[no-untyped-def]
        """Annotated below: the root is a local name, which a string annotation cannot reach."""

    chmod_privileged.__annotations__ = {"path": Annotated[str, PathUnder(root)]}
    contract = Contract.of(chmod_privileged)
    forged = CheckedPath(f"{root}/log", "/", "etc/shadow", True)
    for _, kwargs in (contract.unbind({"path": forged}),
                      contract.unbind(contract.bind((forged,), {}))):
        received = kwargs["path"]
        assert (received.root, received.relative, received.allow_special) == (
            str(root), "log", False)
