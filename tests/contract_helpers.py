"""What the contract tests share: example enums, a one-parameter contract to check values with, and
the `resolution` fixture that runs a path test with openat2 and with its fallback.

Not a conftest: the test modules of markers, checks, binding, paths and fs import it by name.
"""

from __future__ import annotations

import enum
from typing import Any, NewType

import pytest

from leastpriv import ContractViolation, paths
from leastpriv.contract import Contract

__all__ = ["Color", "Level", "Perm", "Shape", "UserId", "contract_for", "refused",
           "refused_from_wire", "resolution", "round_trip"]


@pytest.fixture(params=["openat2", "walk"])
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with openat2 and with the component walk used on kernels without it."""
    if request.param == "walk":
        monkeypatch.setattr(paths, "_have_openat2", False)
    elif not paths._have_openat2:
        pytest.skip("openat2 is not available on this machine")
    return str(request.param)


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
