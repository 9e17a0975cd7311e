"""Linux capabilities: names, kernel numbers and families.

Shared by the runtime (which capabilities a context declares) and the static tools (which family a
capability belongs to, how broad a context is). The syscalls that change a process's capability
sets live on the privileged side (`leastpriv.privileged.privileges`), not here.

    >>> from leastpriv import caps
    >>> caps.CAP_NET_ADMIN
    <Capability.CAP_NET_ADMIN: 12>
    >>> caps.family(caps.CAP_NET_ADMIN)
    'network'

No "all capabilities" value exists, on purpose: a context names each capability it needs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple


class Capability(enum.IntEnum):
    """A Linux capability, numbered as in the kernel's ``include/uapi/linux/capability.h``."""

    CAP_CHOWN = 0
    CAP_DAC_OVERRIDE = 1
    CAP_DAC_READ_SEARCH = 2
    CAP_FOWNER = 3
    CAP_FSETID = 4
    CAP_KILL = 5
    CAP_SETGID = 6
    CAP_SETUID = 7
    CAP_SETPCAP = 8
    CAP_LINUX_IMMUTABLE = 9
    CAP_NET_BIND_SERVICE = 10
    CAP_NET_BROADCAST = 11
    CAP_NET_ADMIN = 12
    CAP_NET_RAW = 13
    CAP_IPC_LOCK = 14
    CAP_IPC_OWNER = 15
    CAP_SYS_MODULE = 16
    CAP_SYS_RAWIO = 17
    CAP_SYS_CHROOT = 18
    CAP_SYS_PTRACE = 19
    CAP_SYS_PACCT = 20
    CAP_SYS_ADMIN = 21
    CAP_SYS_BOOT = 22
    CAP_SYS_NICE = 23
    CAP_SYS_RESOURCE = 24
    CAP_SYS_TIME = 25
    CAP_SYS_TTY_CONFIG = 26
    CAP_MKNOD = 27
    CAP_LEASE = 28
    CAP_AUDIT_WRITE = 29
    CAP_AUDIT_CONTROL = 30
    CAP_SETFCAP = 31
    CAP_MAC_OVERRIDE = 32
    CAP_MAC_ADMIN = 33
    CAP_SYSLOG = 34
    CAP_WAKE_ALARM = 35
    CAP_BLOCK_SUSPEND = 36
    CAP_AUDIT_READ = 37
    CAP_PERFMON = 38
    CAP_BPF = 39
    CAP_CHECKPOINT_RESTORE = 40


CAP_CHOWN = Capability.CAP_CHOWN
CAP_DAC_OVERRIDE = Capability.CAP_DAC_OVERRIDE
CAP_DAC_READ_SEARCH = Capability.CAP_DAC_READ_SEARCH
CAP_FOWNER = Capability.CAP_FOWNER
CAP_FSETID = Capability.CAP_FSETID
CAP_KILL = Capability.CAP_KILL
CAP_SETGID = Capability.CAP_SETGID
CAP_SETUID = Capability.CAP_SETUID
CAP_SETPCAP = Capability.CAP_SETPCAP
CAP_LINUX_IMMUTABLE = Capability.CAP_LINUX_IMMUTABLE
CAP_NET_BIND_SERVICE = Capability.CAP_NET_BIND_SERVICE
CAP_NET_BROADCAST = Capability.CAP_NET_BROADCAST
CAP_NET_ADMIN = Capability.CAP_NET_ADMIN
CAP_NET_RAW = Capability.CAP_NET_RAW
CAP_IPC_LOCK = Capability.CAP_IPC_LOCK
CAP_IPC_OWNER = Capability.CAP_IPC_OWNER
CAP_SYS_MODULE = Capability.CAP_SYS_MODULE
CAP_SYS_RAWIO = Capability.CAP_SYS_RAWIO
CAP_SYS_CHROOT = Capability.CAP_SYS_CHROOT
CAP_SYS_PTRACE = Capability.CAP_SYS_PTRACE
CAP_SYS_PACCT = Capability.CAP_SYS_PACCT
CAP_SYS_ADMIN = Capability.CAP_SYS_ADMIN
CAP_SYS_BOOT = Capability.CAP_SYS_BOOT
CAP_SYS_NICE = Capability.CAP_SYS_NICE
CAP_SYS_RESOURCE = Capability.CAP_SYS_RESOURCE
CAP_SYS_TIME = Capability.CAP_SYS_TIME
CAP_SYS_TTY_CONFIG = Capability.CAP_SYS_TTY_CONFIG
CAP_MKNOD = Capability.CAP_MKNOD
CAP_LEASE = Capability.CAP_LEASE
CAP_AUDIT_WRITE = Capability.CAP_AUDIT_WRITE
CAP_AUDIT_CONTROL = Capability.CAP_AUDIT_CONTROL
CAP_SETFCAP = Capability.CAP_SETFCAP
CAP_MAC_OVERRIDE = Capability.CAP_MAC_OVERRIDE
CAP_MAC_ADMIN = Capability.CAP_MAC_ADMIN
CAP_SYSLOG = Capability.CAP_SYSLOG
CAP_WAKE_ALARM = Capability.CAP_WAKE_ALARM
CAP_BLOCK_SUSPEND = Capability.CAP_BLOCK_SUSPEND
CAP_AUDIT_READ = Capability.CAP_AUDIT_READ
CAP_PERFMON = Capability.CAP_PERFMON
CAP_BPF = Capability.CAP_BPF
CAP_CHECKPOINT_RESTORE = Capability.CAP_CHECKPOINT_RESTORE

# The families (`family`, `families`) are the tools' (audit, migrate) and live in
# `leastpriv.cap_families`, loaded at their first use: the exec helper and its daemon never read
# them.
if TYPE_CHECKING:
    from leastpriv.cap_families import families as families
    from leastpriv.cap_families import family as family


def __getattr__(name: str) -> object:
    if name in ("family", "families"):
        from leastpriv import cap_families

        return getattr(cap_families, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse(value: Capability | int | str) -> Capability:
    """A `Capability` from an int, a `Capability`, or a name with or without ``CAP_`` (any case).

    Raises `ValueError` for anything that names no capability.
    """
    if isinstance(value, Capability):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a capability: {value!r}")
    if isinstance(value, int):
        return Capability(value)
    if isinstance(value, str):
        name = value.strip().upper()
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        try:
            return Capability[name]
        except KeyError:
            raise ValueError(f"not a capability: {value!r}") from None
    raise ValueError(f"not a capability: {value!r}")


def to_mask(capabilities: Iterable[Capability | int | str]) -> int:
    """The kernel bit mask (as in ``/proc/<pid>/status``) of `capabilities`."""
    mask = 0
    for cap in capabilities:
        mask |= 1 << parse(cap)
    return mask


def from_mask(mask: int) -> frozenset[Capability]:
    """The known capabilities whose bits are set in `mask`."""
    return frozenset(cap for cap in Capability if mask >> cap & 1)


def names(capabilities: Iterable[Capability | int | str]) -> list[str]:
    """Sorted ``CAP_*`` names of `capabilities`, in kernel order."""
    return [cap.name for cap in sorted({parse(cap) for cap in capabilities})]


# -- Reading a process's capability sets ---------------------------------------------------------
# Read from /proc/<pid>/status rather than capget(2): it works for any pid, shows the bounding and
# ambient sets and NoNewPrivs too (capget shows neither), and is what an operator checks by hand.

_SET_FIELDS: dict[str, str] = {
    "effective": "CapEff",
    "permitted": "CapPrm",
    "inheritable": "CapInh",
    "bounding": "CapBnd",
    "ambient": "CapAmb",
}


class ProcessCapabilities(NamedTuple):
    """The capability sets, ``no_new_privs`` flag and effective uid/gid of one process."""

    effective: frozenset[Capability]
    permitted: frozenset[Capability]
    inheritable: frozenset[Capability]
    bounding: frozenset[Capability]
    ambient: frozenset[Capability]
    no_new_privs: bool
    uid: int
    gid: int


def _status_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def status_masks(text: str) -> dict[str, int]:
    """The raw masks of ``/proc/<pid>/status`` text, keyed ``effective`` … ``ambient``.

    Raw, so bits the kernel knows and this catalog does not are kept: a check that a set is
    exactly something must compare these, not the `Capability` sets.
    """
    fields = _status_fields(text)
    try:
        return {name: int(fields[field], 16) for name, field in _SET_FIELDS.items()}
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a /proc/<pid>/status text with capability sets: {exc}") from None


def parse_process_status(text: str) -> ProcessCapabilities:
    """A `ProcessCapabilities` from the text of ``/proc/<pid>/status``."""
    masks = status_masks(text)
    fields = _status_fields(text)
    try:
        # Uid:/Gid: real, effective, saved and filesystem ids; access goes by the effective one.
        uid = int(fields["Uid"].split()[1])
        gid = int(fields["Gid"].split()[1])
        # NoNewPrivs exists since Linux 4.10; leastpriv needs it, so its absence is an error.
        no_new_privs = fields["NoNewPrivs"] == "1"
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"not a /proc/<pid>/status text with Uid/Gid/NoNewPrivs: {exc}") from None
    return ProcessCapabilities(
        effective=from_mask(masks["effective"]),
        permitted=from_mask(masks["permitted"]),
        inheritable=from_mask(masks["inheritable"]),
        bounding=from_mask(masks["bounding"]),
        ambient=from_mask(masks["ambient"]),
        no_new_privs=no_new_privs,
        uid=uid,
        gid=gid,
    )


def read_process_capabilities(pid: int | str = "self") -> ProcessCapabilities:
    """The capability sets of process `pid` (default: this one), read from ``/proc/<pid>/status``.

    Capabilities are per thread; ``/proc/<pid>/status`` shows the process's main thread.
    """
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return parse_process_status(status.read())
