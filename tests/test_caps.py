"""The capability catalog and the reader of /proc/<pid>/status."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from leastpriv import caps
from leastpriv.caps import Capability

KERNEL_HEADER = Path("/usr/include/linux/capability.h")


def test_catalog_numbers_are_the_kernels() -> None:
    assert caps.CAP_CHOWN == 0
    assert caps.CAP_NET_ADMIN == 12
    assert caps.CAP_SYS_ADMIN == 21
    assert caps.CAP_SYS_RESOURCE == 24
    assert caps.CAP_CHECKPOINT_RESTORE == 40
    assert sorted(Capability) == list(range(len(Capability))), "numbers are contiguous from 0"


@pytest.mark.skipif(not KERNEL_HEADER.exists(), reason="needs the kernel headers (linux-libc-dev)")
def test_catalog_matches_the_kernel_header() -> None:
    defined = {
        name: int(number)
        for name, number in re.findall(r"^#define (CAP_\w+)\s+(\d+)\s*$", KERNEL_HEADER.read_text(),
                                       re.MULTILINE)
        if name != "CAP_LAST_CAP"
    }
    assert {cap.name: cap.value for cap in Capability} == defined


def test_catalog_knows_every_capability_of_the_running_kernel() -> None:
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    assert last_cap <= max(Capability)


def test_module_constants_are_the_enum_members() -> None:
    for cap in Capability:
        assert getattr(caps, cap.name) is cap


def test_no_all_capabilities_value_exists() -> None:
    assert not any(hasattr(caps, name) for name in ("ALL", "CAP_ALL", "ALL_CAPABILITIES"))


@pytest.mark.parametrize("value", ["CAP_NET_ADMIN", "net_admin", "  cap_net_admin ", 12,
                                   caps.CAP_NET_ADMIN])
def test_parse_accepts_names_numbers_and_members(value: object) -> None:
    assert caps.parse(value) is caps.CAP_NET_ADMIN  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["CAP_ALL", "", "net admin", 41, -1, True, 1.0, None])
def test_parse_refuses_what_names_no_capability(value: object) -> None:
    with pytest.raises(ValueError):
        caps.parse(value)  # type: ignore[arg-type]


def test_masks_round_trip() -> None:
    chosen = [caps.CAP_CHOWN, caps.CAP_NET_ADMIN, caps.CAP_CHECKPOINT_RESTORE]
    mask = caps.to_mask(chosen)
    assert mask == 1 | 1 << 12 | 1 << 40
    assert caps.from_mask(mask) == frozenset(chosen)
    assert caps.to_mask([]) == 0
    assert caps.from_mask(0) == frozenset()


def test_from_mask_ignores_bits_the_catalog_does_not_know() -> None:
    assert caps.from_mask(1 << 63 | 1) == {caps.CAP_CHOWN}


def test_names_are_sorted_in_kernel_order_without_duplicates() -> None:
    assert caps.names(["net_admin", caps.CAP_CHOWN, 12]) == ["CAP_CHOWN", "CAP_NET_ADMIN"]


STATUS = """\
Name:\tleastpriv-helper
Umask:\t0022
State:\tS (sleeping)
Tgid:\t4242
Pid:\t4242
Uid:\t1000\t1001\t1002\t1003
Gid:\t2000\t2001\t2002\t2003
Groups:\t2001
Threads:\t1
CapInh:\t0000000000001001
CapPrm:\t0000000000001001
CapEff:\t0000000000001000
CapBnd:\t0000010000001001
CapAmb:\t0000000000000001
NoNewPrivs:\t1
Seccomp:\t0
"""


def test_parse_process_status_reads_every_set_and_the_effective_ids() -> None:
    pc = caps.parse_process_status(STATUS)
    assert pc == caps.ProcessCapabilities(
        effective=frozenset({caps.CAP_NET_ADMIN}),
        permitted=frozenset({caps.CAP_CHOWN, caps.CAP_NET_ADMIN}),
        inheritable=frozenset({caps.CAP_CHOWN, caps.CAP_NET_ADMIN}),
        bounding=frozenset({caps.CAP_CHOWN, caps.CAP_NET_ADMIN, caps.CAP_CHECKPOINT_RESTORE}),
        ambient=frozenset({caps.CAP_CHOWN}),
        no_new_privs=True,
        uid=1001,
        gid=2001,
    )


def test_status_masks_keep_unknown_bits() -> None:
    text = STATUS.replace("CapBnd:\t0000010000001001", "CapBnd:\t8000000000000000")
    assert caps.status_masks(text)["bounding"] == 1 << 63
    assert caps.parse_process_status(text).bounding == frozenset()


def test_no_new_privs_zero_reads_false() -> None:
    assert not caps.parse_process_status(STATUS.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0")) \
        .no_new_privs


@pytest.mark.parametrize("drop", ["CapAmb:", "NoNewPrivs:", "Uid:"])
def test_parse_process_status_refuses_text_without_a_field(drop: str) -> None:
    text = "".join(line for line in STATUS.splitlines(keepends=True) if not line.startswith(drop))
    with pytest.raises(ValueError):
        caps.parse_process_status(text)


def test_read_process_capabilities_of_this_process_matches_its_ids() -> None:
    pc = caps.read_process_capabilities()
    assert pc.uid == os.geteuid()
    assert pc.gid == os.getegid()
    assert pc.effective <= pc.permitted
    assert pc == caps.read_process_capabilities(os.getpid())


def test_read_process_capabilities_of_a_missing_process_raises() -> None:
    with pytest.raises(FileNotFoundError):
        caps.read_process_capabilities(2**22 + 1)  # above the kernel's pid_max limit
