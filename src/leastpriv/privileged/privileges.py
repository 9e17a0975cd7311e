"""Dropping a process to exactly the capabilities its context declares (and to a user/group).

`drop_privileges` is what a privileged daemon runs once, before it serves anything. Afterwards:

- effective = permitted = inheritable = the declared set;
- bounding set = the declared set, so no program the daemon runs can gain anything else, not even
  a root-owned command run while the daemon is still uid 0 (oslo.privsep leaves the bounding set
  full, so its shell-outs get all of root back);
- ``no_new_privs`` set, so no setuid-root or file-capability binary can add to that either;
- ambient = the declared set when the daemon runs as a non-root `user`, so the commands it runs keep
  exactly the declared set (without it they would get none); empty while it stays uid 0, where the
  kernel's root rules already hand a command the bounding set, that is the declared set;
- never uid 0 unless asked for by name: uid 0 owns every root-owned file whatever the capability
  sets say, so a process that would stay uid 0 without a `user` that names a uid-0 account
  (``user="root"``) is refused (`ROOT_USER`, `declares_uid0`);
- not dumpable, so no process of the daemon's own uid can ptrace it or read its memory.

It reads ``/proc/self/status`` back and raises unless every set is exactly what was asked for: the
caller turns any exception into a failed start, never into a daemon that runs with more.

Capabilities and credentials are per *thread* on Linux: call this while the process has a single
thread (in a fresh fork child, or at helper start before any thread exists). It checks that and
refuses otherwise — a thread left behind would keep every capability the process started with.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import threading
from collections.abc import Iterable

from leastpriv import caps
from leastpriv.caps import Capability, ProcessCapabilities
from leastpriv.errors import DaemonStartError

# From <linux/prctl.h> and <linux/capability.h>.
_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # 64-bit sets, passed as two 32-bit words

#: The `user` that declares a daemon keeps uid 0 (for commands that check ``euid == 0``, the
#: catalog's ``needs_uid0``). Any other way to stay uid 0 is refused.
ROOT_USER = "root"


def declares_uid0(user: str | None) -> bool:
    """Whether a context's `user` setting declares that its daemon keeps uid 0."""
    return user == ROOT_USER


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


# Loaded once at import: a fork child then needs no dlopen (and no loader lock) to drop.
# CDLL(None) is the running interpreter's own symbol table, which includes the libc it links.
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    """Raise `OSError` with the call's errno when a libc call returned -1."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> int:
    # prctl is variadic: pass every argument as an unsigned long, unused ones as 0, as the man
    # page asks for the options used here.
    args = (ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(0), ctypes.c_ulong(0))
    return _check(_libc.prctl(ctypes.c_int(option), *args), what)


def set_not_dumpable() -> None:
    """No core dump, and no ptrace or /proc/<pid>/mem for processes of this process's uid."""
    _prctl(_PR_SET_DUMPABLE, 0, what="prctl(PR_SET_DUMPABLE, 0)")


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable sets to the given 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)  # pid 0: the calling thread
    data = (_CapData * 2)()
    for word in (0, 1):
        shift = 32 * word
        data[word].effective = (effective >> shift) & 0xFFFFFFFF
        data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        return int(f.read())


def _thread_count() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise DaemonStartError("cannot tell how many threads run: no Threads: in /proc/self/status")


def _resolve_ids(user: str | None, group: str | None) -> tuple[int | None, int | None]:
    """The uid and gid to switch to (None: keep), looked up before anything is dropped."""
    uid = gid = None
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise LookupError(f"unknown user {user!r}") from None
        uid, gid = entry.pw_uid, entry.pw_gid
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise LookupError(f"unknown group {group!r}") from None
    return uid, gid


def _missing(needed: Iterable[Capability], held: frozenset[Capability]) -> list[str]:
    return caps.names(set(needed) - held)


def drop_privileges(
    capabilities: Iterable[Capability],
    *,
    user: str | None = None,
    group: str | None = None,
    umask: int = 0o022,
) -> ProcessCapabilities:
    """Drop this process to exactly `capabilities`, optionally as `user`/`group`; return the result.

    Raises, before changing anything: `DaemonStartError` when more than one thread runs, when the
    process would be uid 0 afterwards without `user` naming a uid-0 account, or when it does not
    hold a declared capability (or one the drop itself needs), `LookupError` for an unknown `user`
    or `group`, `ValueError` for a bad `umask`. Raises `OSError` when a system call
    fails and `DaemonStartError` when the sets read back are not exactly the declared ones; the
    process is then half-dropped and must exit, never carry on.
    """
    declared = frozenset(caps.parse(cap) for cap in capabilities)
    wanted = caps.to_mask(declared)
    if not 0 <= umask <= 0o777:
        raise ValueError(f"umask out of range: {umask:#o}")

    # -- Check everything first, so that a refusal leaves the process as it was. --
    # Both counts: threading sees Python threads, /proc also sees threads started by C code.
    if threading.active_count() != 1 or _thread_count() != 1:
        raise DaemonStartError(
            "drop_privileges must run while the process is single-threaded: capabilities and "
            "credentials are per thread, and another thread would keep its own"
        )
    uid, gid = _resolve_ids(user, group)
    # Any of the three: a saved uid 0 would let the daemon switch back to it at will.
    if uid is None and 0 in os.getresuid():
        raise DaemonStartError(
            "refusing to run the daemon as uid 0, which owns every root-owned file whatever its "
            "capabilities: name an unprivileged user (the context's or the configuration's "
            f"`user`), or declare user={ROOT_USER!r} if its commands check for uid 0"
        )
    before = caps.read_process_capabilities()
    # A capability outside the permitted set cannot be regained, and one outside the bounding set
    # could not be kept in the inheritable set or handed to a command.
    if missing := _missing(declared, before.permitted & before.bounding):
        raise DaemonStartError(
            f"cannot hold {', '.join(missing)}: this process does not have it "
            "(not in its permitted or bounding set)"
        )
    # What the drop itself uses, each one given up at the end unless declared.
    needs: set[Capability] = set()
    # A caller that holds nothing (a project's tests run by a user, under compat's
    # UnprivilegedPrivsepFixture) cannot shrink the bounding set, which takes CAP_SETPCAP, and
    # need not: with nothing permitted, no uid 0 and no_new_privs, no exec can take a capability
    # from it (setuid bits and file capabilities are ignored). Its bounding set is left as it is.
    keep_bounding = not declared and not before.permitted and 0 not in os.getresuid()
    if before.bounding - declared and not keep_bounding:
        needs.add(caps.CAP_SETPCAP)  # PR_CAPBSET_DROP
    # Ids the process has already need no change, and no capability (a daemon that starts another
    # as its own user, say).
    change_gid = gid is not None and (os.getresgid() != (gid, gid, gid) or os.getgroups() != [gid])
    if change_gid:
        needs.add(caps.CAP_SETGID)  # setgroups, setresgid
    if uid is not None and uid != os.geteuid():
        needs.add(caps.CAP_SETUID)  # setresuid
    if missing := _missing(needs, before.permitted):
        raise DaemonStartError(f"cannot drop privileges: the process lacks {', '.join(missing)}")

    # -- Act. The order matters: each step uses a capability that a later step gives up. --
    # 1. no_new_privs first: it needs nothing and only ever narrows; from here on no exec can add.
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, what="prctl(PR_SET_NO_NEW_PRIVS)")
    os.umask(umask)
    # 2. Work with everything still permitted in effective (a process may start with a smaller
    #    effective set, e.g. a helper with file capabilities).
    _capset(caps.to_mask(before.permitted), caps.to_mask(before.permitted), 0)
    # 3. Bounding set down to the declared set while CAP_SETPCAP is still effective. Every number
    #    the kernel knows (cap_last_cap), not only those in our catalog, so a newer kernel's
    #    capabilities are dropped too.
    for cap in range(0 if keep_bounding else _last_cap() + 1):
        if not wanted >> cap & 1 and _prctl(_PR_CAPBSET_READ, cap, what="prctl(PR_CAPBSET_READ)"):
            _prctl(_PR_CAPBSET_DROP, cap, what=f"prctl(PR_CAPBSET_DROP, {cap})")
    # 4. Groups, gid, then uid: setgroups and setresgid need CAP_SETGID in the effective set, and
    #    the switch away from uid 0 empties the effective set, so they come before setresuid.
    #    Supplementary groups are exactly [gid], not the user's groups from /etc/group
    #    (initgroups): a group grants file access just as a capability does, so the daemon gets
    #    only the group it was configured with; name that group with `group=` to have its access.
    #    PR_SET_KEEPCAPS keeps the permitted set across the switch away from uid 0 (the kernel
    #    clears effective and ambient regardless; steps 5 and 6 set them again).
    if change_gid and gid is not None:  # change_gid implies a gid; said again for the type
        os.setgroups([gid])
        os.setresgid(gid, gid, gid)
    if uid is not None:
        _prctl(_PR_SET_KEEPCAPS, 1, what="prctl(PR_SET_KEEPCAPS, 1)")
        # All three ids, so the saved uid cannot be used to switch back to root.
        os.setresuid(uid, uid, uid)
        _prctl(_PR_SET_KEEPCAPS, 0, what="prctl(PR_SET_KEEPCAPS, 0)")
    # 5. Everything else goes now, CAP_SETPCAP/SETUID/SETGID included unless declared. Inheritable
    #    too: the kernel allows raising an ambient capability only when it is also inheritable.
    _capset(wanted, wanted, wanted)
    # 6. Ambient: only a non-root daemon needs it; for uid 0 the kernel clears it at exec anyway
    #    and gives the command the bounding set, which is the declared set by now. Raise after the
    #    uid switch, which clears the ambient set.
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, what="prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    root = os.geteuid() == 0
    if not root:
        for cap in sorted(declared):
            _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, cap, what=f"ambient raise {cap.name}")

    # 7. Not dumpable: a process of the daemon's own uid must not ptrace it or read its memory.
    #    Changing credentials usually clears the flag already; say so rather than rely on it.
    set_not_dumpable()

    # (A kept bit this catalog does not know reads back as a difference: refused, not kept.)
    bounding = caps.to_mask(before.bounding) if keep_bounding else wanted
    return _verify(wanted, 0 if root else wanted, uid, gid, bounding=bounding)


def _verify(wanted: int, ambient: int, uid: int | None, gid: int | None, *,
            bounding: int | None = None) -> ProcessCapabilities:
    """Read the sets back from the kernel and raise unless each is exactly as asked (the bounding
    set: `wanted`, unless given)."""
    with open("/proc/self/status", encoding="ascii") as status:
        text = status.read()
    # Raw masks, so that a bit this catalog does not know still counts as a difference.
    expected = {"effective": wanted, "permitted": wanted, "inheritable": wanted,
                "bounding": wanted if bounding is None else bounding, "ambient": ambient}
    got = caps.status_masks(text)
    wrong = [f"{name} {got[name]:#x} != {mask:#x}" for name, mask in expected.items()
             if got[name] != mask]
    result = caps.parse_process_status(text)
    if not result.no_new_privs:
        wrong.append("no_new_privs not set")
    if _prctl(_PR_GET_DUMPABLE, what="prctl(PR_GET_DUMPABLE)") != 0:
        wrong.append("still dumpable")
    if 0 in os.getresuid() and uid != 0:
        wrong.append("uid 0 kept without being declared")
    if uid is not None and os.getresuid() != (uid, uid, uid):
        wrong.append(f"uids {os.getresuid()} != {uid}")
    if gid is not None and (os.getresgid() != (gid, gid, gid) or os.getgroups() != [gid]):
        wrong.append(f"gids {os.getresgid()} groups {os.getgroups()} != {gid}")
    if wrong:
        raise DaemonStartError(f"privileges not dropped to the declared set: {'; '.join(wrong)}")
    return result


def describe(pc: ProcessCapabilities) -> str:
    """One line for the log: ``eff=CAP_A,CAP_B prm=… inh=… bnd=… amb=… nnp=1 uid=0 gid=0``."""

    def names(capabilities: frozenset[Capability]) -> str:
        return ",".join(caps.names(capabilities)) or "none"

    return (
        f"eff={names(pc.effective)} prm={names(pc.permitted)} inh={names(pc.inheritable)} "
        f"bnd={names(pc.bounding)} amb={names(pc.ambient)} nnp={int(pc.no_new_privs)} "
        f"uid={pc.uid} gid={pc.gid}"
    )
