"""leastpriv.contract: the public import of the markers and Contract, from their modules."""

from __future__ import annotations

from leastpriv import binding, checks, contract, markers


def test_all_is_sorted_and_names_every_export() -> None:
    assert contract.__all__ == sorted(contract.__all__)
    assert all(hasattr(contract, name) for name in contract.__all__)


def test_exports_are_the_objects_of_the_modules_that_define_them() -> None:
    assert contract.Contract is binding.Contract
    assert contract.PolicyWarning is checks.PolicyWarning
    for name in ("AllowNonFinite", "Match", "MaxLen", "OneOf", "PathUnder", "Range"):
        assert getattr(contract, name) is getattr(markers, name)
