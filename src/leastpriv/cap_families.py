"""Capability families: which kind of resource each capability guards (the tools' view).

The audit calls a context broad when its capabilities span two families (LPS101); `leastpriv
migrate --stubs` groups by them. Reached as `leastpriv.caps.family` and `leastpriv.caps.families`,
which load this module at their first use: the exec helper and its daemon never do.
"""

from __future__ import annotations

from collections.abc import Iterable

from leastpriv import caps

# Families group capabilities that guard one kind of resource. A context whose capabilities span
# two families can do two unrelated kinds of harm; the audit (LPS101) reports it.
_FAMILIES: dict[str, tuple[caps.Capability, ...]] = {
    "file": (
        caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE, caps.CAP_DAC_READ_SEARCH, caps.CAP_FOWNER,
        caps.CAP_FSETID, caps.CAP_LINUX_IMMUTABLE, caps.CAP_MKNOD, caps.CAP_LEASE,
    ),
    "network": (caps.CAP_NET_BIND_SERVICE, caps.CAP_NET_BROADCAST, caps.CAP_NET_ADMIN,
                caps.CAP_NET_RAW),
    "sys_admin": (caps.CAP_SYS_ADMIN,),
    "ptrace": (caps.CAP_SYS_PTRACE,),
    "kill": (caps.CAP_KILL,),
    "identity": (caps.CAP_SETUID, caps.CAP_SETGID, caps.CAP_SETPCAP, caps.CAP_SETFCAP),
    "ipc": (caps.CAP_IPC_LOCK, caps.CAP_IPC_OWNER),
    "kernel": (
        caps.CAP_SYS_MODULE, caps.CAP_SYS_RAWIO, caps.CAP_SYS_BOOT, caps.CAP_SYS_TIME,
        caps.CAP_SYS_TTY_CONFIG, caps.CAP_WAKE_ALARM, caps.CAP_BLOCK_SUSPEND, caps.CAP_BPF,
        caps.CAP_PERFMON,
    ),
    "process": (caps.CAP_SYS_CHROOT, caps.CAP_SYS_PACCT, caps.CAP_SYS_NICE, caps.CAP_SYS_RESOURCE,
                caps.CAP_CHECKPOINT_RESTORE),
    "audit": (caps.CAP_AUDIT_WRITE, caps.CAP_AUDIT_CONTROL, caps.CAP_AUDIT_READ, caps.CAP_SYSLOG),
    "mac": (caps.CAP_MAC_OVERRIDE, caps.CAP_MAC_ADMIN),
}
_FAMILY_OF: dict[caps.Capability, str] = {
    cap: name for name, members in _FAMILIES.items() for cap in members
}


def family(cap: caps.Capability | int | str) -> str:
    """The family name of `cap` (``"file"``, ``"network"``, ``"sys_admin"``, …)."""
    return _FAMILY_OF[caps.parse(cap)]


def families(capabilities: Iterable[caps.Capability | int | str]) -> frozenset[str]:
    """The set of families `capabilities` span."""
    return frozenset(family(cap) for cap in capabilities)


