"""Unit tests of the capability families (`leastpriv.cap_families`), reached as
`leastpriv.caps.family` and `leastpriv.caps.families`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leastpriv import cap_families, caps
from leastpriv.caps import Capability


@pytest.mark.parametrize(
    ("cap", "family"),
    [
        (caps.CAP_NET_ADMIN, "network"),
        (caps.CAP_NET_RAW, "network"),
        (caps.CAP_CHOWN, "file"),
        (caps.CAP_DAC_OVERRIDE, "file"),
        (caps.CAP_SYS_ADMIN, "sys_admin"),
        (caps.CAP_SYS_PTRACE, "ptrace"),
        (caps.CAP_KILL, "kill"),
        (caps.CAP_SETUID, "identity"),
    ],
)
def test_family_of_a_capability(cap: Capability, family: str) -> None:
    assert caps.family(cap) == family
    assert caps.family(cap.name) == family
    assert caps.family(int(cap)) == family


def test_families_spanned_by_a_set() -> None:
    assert caps.families([caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE]) == {"file"}
    assert caps.families([caps.CAP_CHOWN, caps.CAP_NET_ADMIN]) == {"file", "network"}
    assert caps.families([]) == frozenset()


def test_every_capability_belongs_to_exactly_one_family() -> None:
    members = [cap for family in cap_families._FAMILIES.values() for cap in family]
    assert sorted(members) == sorted(Capability)


def test_the_runtime_loads_the_families_only_when_they_are_asked_for() -> None:
    code = ("import sys, leastpriv; loaded = 'leastpriv.cap_families' in sys.modules; "
            "from leastpriv.caps import family; print(loaded, family('CAP_KILL'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "kill"]
