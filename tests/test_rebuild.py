"""Exceptions across the channel: encoded by the daemon (`leastpriv.wire`), rebuilt in the caller
(`leastpriv.unprivileged.rebuild`)."""

from __future__ import annotations

import errno
import sys
import types

import pytest

from leastpriv import wire
from leastpriv.errors import ContractViolation, ProtocolError, RemoteError
from leastpriv.unprivileged import rebuild


class LocalFailure(Exception):
    """A class loaded in this test module: it must come back as itself."""


class TwoArgFailure(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type, tuple[int, str]]:
        return (type(self), (self.code, self.detail))


def round_trip(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as raised:
        encoded = raised
    return rebuild.decode_exception(wire.unpackb(wire.packb(wire.encode_exception(encoded))))


def test_file_not_found_keeps_errno_strerror_and_filename() -> None:
    rebuilt = round_trip(FileNotFoundError(errno.ENOENT, "No such file", "/nope"))
    assert type(rebuilt) is FileNotFoundError
    assert (rebuilt.errno, rebuilt.strerror, rebuilt.filename) == (errno.ENOENT, "No such file",
                                                                  "/nope")


def test_permission_error_from_generic_oserror_stays_catchable() -> None:
    rebuilt = round_trip(OSError(errno.EPERM, "Operation not permitted", "/f", None, "/g"))
    assert isinstance(rebuilt, PermissionError)
    assert rebuilt.filename2 == "/g"


def test_loaded_class_comes_back_as_itself_with_list_args() -> None:
    rebuilt = round_trip(LocalFailure([1, 2], (3,)))
    assert type(rebuilt) is LocalFailure
    assert rebuilt.args == ([1, 2], (3,))
    assert type(rebuilt.args[0]) is list


def test_class_with_reduce_is_rebuilt_from_its_constructor_args() -> None:
    rebuilt = round_trip(TwoArgFailure(7, "bad"))
    assert type(rebuilt) is TwoArgFailure and (rebuilt.code, rebuilt.detail) == (7, "bad")
    violation = round_trip(ContractViolation("m.f_privileged", "path", "outside root"))
    assert type(violation) is ContractViolation and violation.parameter == "path"


def test_class_not_loaded_in_caller_becomes_remote_error_with_traceback() -> None:
    encoded = wire.encode_exception(LocalFailure("boom"))
    encoded["module"] = "some_module_never_imported_here"
    rebuilt = rebuild.decode_exception(encoded)
    assert type(rebuilt) is RemoteError
    assert rebuilt.class_name == "some_module_never_imported_here.LocalFailure"
    assert rebuilt.message == "boom"


def test_remote_error_carries_the_daemon_traceback_text() -> None:
    def inner() -> None:
        raise LocalFailure("deep")

    try:
        inner()
    except LocalFailure as exc:
        encoded = wire.encode_exception(exc)
    encoded["module"] = "not.loaded"
    rebuilt = rebuild.decode_exception(encoded)
    assert isinstance(rebuilt, RemoteError) and "inner" in rebuilt.remote_traceback


def test_non_exception_names_are_not_rebuilt() -> None:
    encoded = wire.encode_exception(LocalFailure("x"))
    encoded["module"], encoded["qualname"] = "os", "system"
    assert type(rebuild.decode_exception(encoded)) is RemoteError


def test_unsendable_exception_args_become_remote_error() -> None:
    rebuilt = round_trip(LocalFailure(object()))
    assert type(rebuilt) is RemoteError


def test_error_reply_that_is_not_a_map_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        rebuild.decode_exception(["not", "a", "map"])


def test_looking_up_the_named_class_runs_no_code_of_the_callers_modules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A module's lazy __getattr__ (leastpriv.caps hands on `family` that way, importing
    # leastpriv.cap_families; six.moves imports whatever it names) would import what a reply names.
    ran: list[str] = []

    def lazy(name: str) -> object:
        ran.append(name)
        return LocalFailure

    lazy_module = types.ModuleType("lazy_module")
    lazy_module.__getattr__ = lazy  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "lazy_module", lazy_module)
    encoded = wire.encode_exception(LocalFailure("x"))
    encoded["module"], encoded["qualname"] = "lazy_module", "Anything"
    assert type(rebuild.decode_exception(encoded)) is RemoteError
    assert ran == []
