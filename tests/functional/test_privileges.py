"""Real privilege drops, each in a forked child that reports back through a pipe.

The child calls `drop_privileges` (which changes the whole process for good, so never in the test
process itself), tries things, writes a JSON report and leaves with `os._exit`; the parent asserts.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import secrets
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import requires_root
from leastpriv import caps
from leastpriv.caps import Capability, ProcessCapabilities
from leastpriv.errors import DaemonStartError
from leastpriv.privileged import privileges
from leastpriv.privileged.privileges import describe, drop_privileges
from system_users import made_user

FILES = [caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE]
CLONE_NEWNET = 0x40000000
OTHER_UID = 4242  # any uid but root's: the target of the chown tests

Report = dict[str, Any]


def in_child(body: Callable[[], Report]) -> Report:
    """Run `body` in a forked child; return its report, or its exception as ``{"error": …}``."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest, whatever happens
        status = 1
        try:
            os.close(read_fd)
            try:
                report: Report = {"result": body()}
            except Exception as exc:
                report = {"error": type(exc).__name__, "message": str(exc),
                          "errno": getattr(exc, "errno", None), "after": snapshot()}
            with os.fdopen(write_fd, "w") as out:
                json.dump(report, out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd) as reply:
        text = reply.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, f"child failed to report: {text!r}"
    return json.loads(text)


def sets(pc: ProcessCapabilities) -> Report:
    return {
        "effective": caps.names(pc.effective),
        "permitted": caps.names(pc.permitted),
        "inheritable": caps.names(pc.inheritable),
        "bounding": caps.names(pc.bounding),
        "ambient": caps.names(pc.ambient),
        "no_new_privs": pc.no_new_privs,
        "uid": pc.uid,
        "gid": pc.gid,
    }


def snapshot() -> Report:
    return sets(caps.read_process_capabilities())


def command_sets() -> Report:
    """The sets of a command this process runs. /bin/cat, which a non-root user can execute."""
    out = subprocess.run(["/bin/cat", "/proc/self/status"], capture_output=True, text=True,
                         check=True).stdout
    return sets(caps.parse_process_status(out))


def exactly(declared: list[Capability], *, ambient: bool, uid: int = 0, gid: int = 0) -> Report:
    names = caps.names(declared)
    return {"effective": names, "permitted": names, "inheritable": names, "bounding": names,
            "ambient": names if ambient else [], "no_new_privs": True, "uid": uid, "gid": gid}


def setns(path: str) -> None:
    """Enter the network namespace at `path` (os.setns exists only from Python 3.12)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


@pytest.fixture
def system_user() -> Iterator[pwd.struct_passwd]:
    with made_user(f"lp-test-{secrets.token_hex(4)}") as name:
        yield pwd.getpwnam(name)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"lp-test-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    path = tmp_path / "console.log"
    path.write_text("log\n")
    os.chown(path, 0, 0)
    return path


# -- what a daemon declared root (user="root") holds --------------------------------------------

@requires_root
def test_root_drop_leaves_exactly_the_declared_sets_and_no_new_privs() -> None:
    def body() -> Report:
        returned = sets(drop_privileges(FILES, user="root"))
        return {"returned": returned, "read": snapshot()}

    report = in_child(body)["result"]
    assert report["read"] == exactly(FILES, ambient=False)
    assert report["returned"] == report["read"]


@requires_root
def test_command_run_by_a_root_daemon_holds_only_the_declared_set() -> None:
    # The bounding set is what limits it: uid 0 exec would otherwise get every capability.
    report = in_child(lambda: (drop_privileges(FILES, user="root"), command_sets())[1])["result"]
    assert report == exactly(FILES, ambient=False)


@requires_root
def test_empty_declared_set_leaves_nothing() -> None:
    report = in_child(lambda: (drop_privileges([], user="root"), snapshot())[1])["result"]
    assert report == exactly([], ambient=False)


@requires_root
@pytest.mark.parametrize(("declared", "owner"), [(FILES, OTHER_UID), ([caps.CAP_DAC_OVERRIDE], 0)])
def test_chown_needs_cap_chown(root_file: Path, declared: list[Capability], owner: int) -> None:
    def body() -> Report:
        drop_privileges(declared, user="root")
        try:
            os.chown(root_file, OTHER_UID, -1)
        except OSError as exc:
            return {"errno": exc.errno}
        return {"errno": 0}

    report = in_child(body)["result"]
    assert report["errno"] == (0 if owner == OTHER_UID else 1)  # 1: EPERM
    assert root_file.stat().st_uid == owner


@requires_root
@pytest.mark.parametrize("declared", [[caps.CAP_NET_ADMIN], [caps.CAP_NET_RAW]])
def test_link_up_in_a_netns_needs_cap_net_admin(netns: str, declared: list[Capability]) -> None:
    # `ip -n NS …` calls setns(2), which needs CAP_SYS_ADMIN: a daemon holding only CAP_NET_ADMIN
    # gets EPERM from it. So the child enters the namespace before it drops, as a daemon serving
    # one namespace would, and runs plain `ip link` afterwards.
    def body() -> Report:
        setns(f"/run/netns/{netns}")
        drop_privileges(declared, user="root")
        result = subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], capture_output=True)
        return {"returncode": result.returncode}

    report = in_child(body)["result"]
    shown = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "lo"], capture_output=True,
                           text=True, check=True).stdout
    flags = shown.split("<", 1)[1].split(">", 1)[0].split(",")
    if caps.CAP_NET_ADMIN in declared:
        assert report["returncode"] == 0
        assert "UP" in flags
    else:
        assert report["returncode"] != 0
        assert "UP" not in flags


@requires_root
def test_ip_netns_exec_style_setns_needs_more_than_cap_net_admin(netns: str) -> None:
    # Why the test above enters the namespace before dropping: `ip -n` cannot, after.
    def body() -> Report:
        drop_privileges([caps.CAP_NET_ADMIN], user="root")
        result = subprocess.run(["/usr/sbin/ip", "-n", netns, "link", "set", "lo", "up"],
                                capture_output=True)
        return {"returncode": result.returncode}

    assert in_child(body)["result"]["returncode"] != 0


@requires_root
@pytest.mark.parametrize("umask", [None, 0o077])
def test_umask_is_applied(tmp_path: Path, umask: int | None) -> None:
    path = tmp_path / "created"

    def body() -> Report:
        if umask is None:
            drop_privileges([caps.CAP_DAC_OVERRIDE], user="root")
        else:
            drop_privileges([caps.CAP_DAC_OVERRIDE], user="root", umask=umask)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))
        return {}

    in_child(body)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~(0o022 if umask is None else umask)


# -- a daemon running as a user ------------------------------------------------------------------

@requires_root
def test_user_drop_switches_ids_and_keeps_the_declared_set_in_ambient(
    system_user: pwd.struct_passwd,
) -> None:
    def body() -> Report:
        drop_privileges(FILES, user=system_user.pw_name)
        return {"sets": snapshot(), "uids": os.getresuid(), "gids": os.getresgid(),
                "groups": os.getgroups()}

    report = in_child(body)["result"]
    uid, gid = system_user.pw_uid, system_user.pw_gid
    assert report["sets"] == exactly(FILES, ambient=True, uid=uid, gid=gid)
    assert report["uids"] == [uid, uid, uid]
    assert report["gids"] == [gid, gid, gid]
    assert report["groups"] == [gid]


@requires_root
def test_command_run_by_a_user_daemon_holds_exactly_the_declared_set(
    system_user: pwd.struct_passwd, root_file: Path,
) -> None:
    # Without the ambient set a non-root command would hold nothing; /bin/chown shows it can use
    # what it holds: DAC_OVERRIDE to reach a file under a 0700 root directory, CHOWN to chown it.
    def body() -> Report:
        drop_privileges(FILES, user=system_user.pw_name)
        chown = subprocess.run(["/bin/chown", str(OTHER_UID), str(root_file)], capture_output=True)
        return {"sets": command_sets(), "chown": chown.returncode}

    report = in_child(body)["result"]
    assert report["sets"] == exactly(FILES, ambient=True, uid=system_user.pw_uid,
                                     gid=system_user.pw_gid)
    assert report["chown"] == 0
    assert root_file.stat().st_uid == OTHER_UID


@requires_root
def test_group_alone_switches_gid_and_stays_declared_root(system_user: pwd.struct_passwd) -> None:
    group_name = subprocess.run(["id", "-gn", system_user.pw_name], capture_output=True, text=True,
                                check=True).stdout.strip()

    def body() -> Report:
        drop_privileges([caps.CAP_CHOWN], user="root", group=group_name)
        return {"sets": snapshot(), "groups": os.getgroups()}

    report = in_child(body)["result"]
    assert report["sets"] == exactly([caps.CAP_CHOWN], ambient=False, gid=system_user.pw_gid)
    assert report["groups"] == [system_user.pw_gid]


# -- refusals: each before anything changed --------------------------------------------------------

@requires_root
def test_staying_uid0_without_declaring_it_is_refused_before_anything_changed() -> None:
    report = in_child(lambda: (drop_privileges(FILES), {})[1])
    assert report["error"] == "DaemonStartError"
    assert_untouched(report)


@requires_root
def test_a_saved_uid0_counts_as_uid0() -> None:
    # Effective uid 4242 but saved uid 0: the process could switch back to root at will.
    def body() -> Report:
        os.setresuid(0, OTHER_UID, 0)
        drop_privileges(FILES)
        return {}

    report = in_child(body)
    assert report["error"] == "DaemonStartError"
    assert report["after"]["permitted"] != []  # refused before the drop


@requires_root
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_dropped_process_is_not_dumpable(user: str) -> None:
    pr_get_dumpable = 3
    libc = ctypes.CDLL(None, use_errno=True)
    report = in_child(lambda: (drop_privileges(FILES, user=user), {"dumpable": libc.prctl(
        pr_get_dumpable, 0, 0, 0, 0)})[1])
    assert report["result"] == {"dumpable": 0}


@pytest.mark.parametrize(("user", "declared"), [("root", True), (None, False), ("nobody", False),
                                                ("toor", False)])
def test_only_user_root_declares_uid0(user: str | None, declared: bool) -> None:
    assert privileges.declares_uid0(user) is declared


def assert_untouched(report: Report) -> None:
    """The refused child still holds what the test process holds: nothing was dropped."""
    before = snapshot()
    assert report["after"] == before
    assert not report["after"]["no_new_privs"]


@requires_root
def test_capability_the_process_lacks_is_refused_by_name() -> None:
    lacking = sorted(set(Capability) - caps.read_process_capabilities().permitted)
    # This machine's root lacks CAP_SYS_RESOURCE; where root holds everything, take one away first.
    missing = lacking[0] if lacking else caps.CAP_SYS_RESOURCE

    def body() -> Report:
        if not lacking:
            drop_privileges(set(Capability) - {missing}, user="root")
        drop_privileges([caps.CAP_CHOWN, missing], user="root")
        return {}

    report = in_child(body)
    assert report["error"] == "DaemonStartError"
    assert missing.name in report["message"]
    assert caps.CAP_CHOWN.name not in report["message"]
    if lacking:
        assert_untouched(report)


@requires_root
@pytest.mark.parametrize("option", ["user", "group"])
def test_unknown_user_or_group_is_refused_by_name(option: str) -> None:
    name = f"lp-test-absent-{secrets.token_hex(4)}"
    report = in_child(lambda: (drop_privileges(FILES, **{option: name}), {})[1])
    assert report["error"] == "LookupError"
    assert name in report["message"]
    assert_untouched(report)


@requires_root
def test_second_thread_alive_is_refused() -> None:
    def body() -> Report:
        release = threading.Event()
        other = threading.Thread(target=release.wait)
        other.start()
        try:
            drop_privileges(FILES, user="root")
        finally:
            release.set()
            other.join()
        return {}

    report = in_child(body)
    assert report["error"] == "DaemonStartError"
    assert_untouched(report)


@requires_root
@pytest.mark.parametrize(
    ("option", "needed"),
    [({}, caps.CAP_SETPCAP), ({"user": "nobody"}, caps.CAP_SETUID)],
)
def test_capability_the_drop_itself_needs_is_refused_by_name(
    option: dict[str, str], needed: Capability,
) -> None:
    # A second drop from a process already narrowed to FILES: narrowing the bounding set further
    # needs CAP_SETPCAP, switching to another uid needs CAP_SETUID (and CAP_SETGID).
    def body() -> Report:
        drop_privileges(FILES, user="root")
        drop_privileges([caps.CAP_CHOWN], **{"user": "root", **option})
        return {}

    report = in_child(body)
    assert report["error"] == "DaemonStartError"
    assert needed.name in report["message"]
    assert report["after"] == exactly(FILES, ambient=False)


def test_sets_that_differ_from_the_declared_ones_fail_the_read_back() -> None:
    # The last step of every drop; here on a process that dropped nothing, so nothing matches.
    with pytest.raises(DaemonStartError):
        privileges._verify(caps.to_mask(FILES), 0, None, None)


@requires_root
def test_umask_out_of_range_is_refused() -> None:
    report = in_child(lambda: (drop_privileges(FILES, umask=0o1000), {})[1])
    assert report["error"] == "ValueError"
    assert_untouched(report)


# -- the log line ----------------------------------------------------------------------------------

def test_describe_names_every_set_on_one_line() -> None:
    pc = ProcessCapabilities(
        effective=frozenset(FILES), permitted=frozenset(FILES), inheritable=frozenset(FILES),
        bounding=frozenset(FILES), ambient=frozenset(), no_new_privs=True, uid=0, gid=7,
    )
    both = "CAP_CHOWN,CAP_DAC_OVERRIDE"
    assert describe(pc) == (
        f"eff={both} prm={both} inh={both} bnd={both} amb=none nnp=1 uid=0 gid=7"
    )
