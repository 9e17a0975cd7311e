"""One probe trial: run a command in fresh namespaces with exactly one capability set.

Run as ``python -m leastpriv.probe.sandbox`` with a JSON trial on stdin (see `Trial`); the
parent is `leastpriv.probe.runner`, which only ever starts it as root. Three processes:

1. **this process** unshares the network, mount, PID, IPC and UTS namespaces, forks the first
   process of the new PID namespace, waits for it, and prints ``{"exit": N}`` on stdout;
2. **pid 1 of the new namespace** builds the sandbox (below), refuses unless the namespaces
   really are new (their inodes differ from the host's, which the parent passed in), runs the
   trial's setup commands as root, forks the command, waits, and exits with its status;
3. **the command's process** drops to the trial's capability set with `drop_privileges`
   (bounding = effective = permitted = inheritable = ambient for a non-root uid, no_new_privs, so
   a setuid ``mount`` gains nothing) as ``nobody`` or as uid 0, then execs the command.

The sandbox, so that the command never touches the host's interfaces or files: a new network
namespace (no interface but its own ``lo``); every mount of the host re-mounted read-only in the
new mount namespace (a per-mount flag: the host's own mounts stay as they were); fresh tmpfs on
``/tmp`` (the command's working directory, where setup makes its files), ``/run`` and
``/var/tmp``; a tmpfs ``/dev`` with only null, zero, full, random, urandom and net/tun (a
read-only mount does not stop writes to a device node; a tap lives in the sandbox's namespace);
a fresh, read-only ``/proc`` of the new PID namespace with only ``/proc/sys/net`` writable (it
belongs to the new network namespace); a PID namespace, so ``kill`` reaches only the sandbox's
own processes, all of which die with its pid 1.

What it does not stop: a trial that holds ``CAP_SYS_ADMIN`` could re-mount a host mount
read-write. The sandbox stops mistakes and stray operands, not a hostile command; probe only
commands you would run as root anyway.
"""

from __future__ import annotations

import ctypes
import grp
import json
import os
import pwd
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from leastpriv import caps
from leastpriv.privileged.privileges import ROOT_USER, drop_privileges
from leastpriv.probe import call

# From <linux/sched.h> and <linux/mount.h>.
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
# Per-mount flags to keep when re-mounting a mount read-only (mountinfo's option names).
_KEPT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC}

NAMESPACES = ("net", "mnt", "pid", "ipc", "uts")
EXIT_REFUSED = 125  # the sandbox could not be built or verified: nothing was run
EXIT_NOT_FOUND = 127
PID_PLACEHOLDER = "{pid}"  # in argv: the pid of a root-owned process started by setup
SCRATCH = "/tmp"  # noqa: S108 - a fresh tmpfs over it, in the sandbox's own mount namespace
# /dev/net/tun: a tap made through it lives in the sandbox's network namespace.
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9),
            "net/tun": (10, 200)}
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Trial:
    """What one sandbox run does: the command, its capability set, and its uid."""

    argv: tuple[str, ...]
    capabilities: tuple[str, ...]
    as_root: bool  # uid 0 (with only `capabilities`), else nobody with them as ambient
    host_namespaces: dict[str, int]  # namespace name -> inode, read by the parent on the host
    setup: tuple[tuple[str, ...], ...] = ()  # root commands run in the sandbox first
    sleeper: bool = False  # start a root-owned `sleep` and put its pid into argv's {pid}
    # An entrypoint trial instead of argv: "pkg.mod:func" and its keyword arguments (JSON). Its
    # module is imported before the drop, as a daemon imports its code before it drops.
    entrypoint: str = ""
    arguments: str = "{}"
    python: tuple[str, ...] = field(default=())  # sys.path entries for the entrypoint's module


def namespace_inodes(pid: str = "self") -> dict[str, int]:
    """The inode of each namespace `pid` is in (two processes share one iff the inodes match)."""
    return {name: os.stat(f"/proc/{pid}/ns/{name}").st_ino for name in NAMESPACES}


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def c(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(_libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data or None)),
           f"mount {target}")


def _mountpoints() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every mount this namespace sees, from mountinfo."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as info:
        for line in info:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")  # "\040" for a space
            flags = sum(bit for name, bit in _KEPT_FLAGS.items() if name in fields[5].split(","))
            points.append((point, flags))
    return points


def build_sandbox() -> None:
    """Make the host read-only and give the command private scratch space (module docstring)."""
    # 1. Nothing mounted here propagates back to the host.
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # 2. Every mount read-only. A mount hidden under another cannot be reached by path; the kernel
    #    then answers EINVAL or ENOENT, and it stays as unreachable as it was.
    for point, flags in _mountpoints():
        try:
            _mount(None, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags)
        except OSError as exc:
            if exc.errno not in (2, 22) or (os.path.ismount(point) and _writable(point)):
                raise
    # 3. Private scratch space, over whatever the host has there. The interpreter's own code may
    #    live below one of those points (a virtualenv or a checkout under /tmp, as a CI clone may
    #    be): it is pinned by descriptor first and bound back read-only over the tmpfs, or an
    #    entrypoint's module could no longer be imported in the sandbox.
    scratch = [point for point in (SCRATCH, "/run", "/var/tmp")  # noqa: S108 - each a fresh tmpfs
               if os.path.isdir(point) and not os.path.islink(point)]
    kept = {path: os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            for path in code_below(scratch)}
    for point in scratch:
        _mount("tmpfs", point, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777")
    for path, fd in kept.items():
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        os.close(fd)
    _mount("tmpfs", "/dev", "tmpfs", _MS_NOSUID | _MS_NOEXEC, "mode=755")
    os.mkdir("/dev/net")
    for name, (major, minor) in _DEVICES.items():
        os.mknod(f"/dev/{name}", 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)  # noqa: S103 - these nodes' usual mode, in a private /dev
    # 4. This PID namespace's /proc, read-only but for the new network namespace's sysctls.
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _mount(None, "/proc", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
           | _MS_NOEXEC)
    _mount("/proc/sys/net", "/proc/sys/net", None, _MS_BIND)
    _mount(None, "/proc/sys/net", None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NODEV
           | _MS_NOEXEC)


def code_below(points: Sequence[str]) -> list[str]:
    """The directories Python loads code from (its prefixes and `sys.path`) that lie below one of
    `points`, outermost only: a directory below another one listed comes with it."""
    roots = [os.path.realpath(point) for point in points]
    found = sorted({os.path.realpath(path)
                    for path in (sys.prefix, sys.exec_prefix, sys.base_prefix, *sys.path)
                    if path and os.path.isdir(path)})
    below = [path for path in found
             if any(path.startswith(root + os.sep) for root in roots)]
    return [path for path in below
            if not any(path.startswith(outer + os.sep) for outer in below if outer != path)]


def _writable(point: str) -> bool:
    return os.statvfs(point).f_flag & os.ST_RDONLY == 0


def verify_fresh(host: dict[str, int]) -> None:
    """Raise unless this process is in new namespaces and the host's mounts are read-only."""
    mine = namespace_inodes()
    shared = [name for name in NAMESPACES if mine[name] == host.get(name)]
    if shared or set(host) != set(NAMESPACES):
        raise RuntimeError(f"not in fresh namespaces: shares {shared or 'unknown'} with the host")
    if _writable("/") or _writable("/proc"):
        raise RuntimeError("the host's root or /proc is still writable in the sandbox")


def _run_command(trial: Trial, argv: Sequence[str]) -> int:
    """Fork the command's process, drop it to the trial's set, exec; return its exit status."""
    pid = os.fork()
    if pid == 0:
        code = EXIT_REFUSED
        try:
            os.chdir(SCRATCH)
            function = call.resolve(trial.entrypoint) if trial.entrypoint else None
            nobody = pwd.getpwnam("nobody")
            drop_privileges(
                [caps.parse(cap) for cap in trial.capabilities],
                user=ROOT_USER if trial.as_root else "nobody",  # uid 0 only when asked for
                group=None if trial.as_root else grp.getgrgid(nobody.pw_gid).gr_name,
            )
            stdin = os.open("/dev/null", os.O_RDONLY)
            os.dup2(stdin, 0)
            os.dup2(2, 1)  # the command's output is evidence for stderr; stdout is the result
            env = {"PATH": _PATH, "LC_ALL": "C", "HOME": SCRATCH}
            if function is not None:
                code = 1
                code = call.call(function, json.loads(trial.arguments))
                raise SystemExit(code)
            code = EXIT_NOT_FOUND
            os.execvpe(argv[0], list(argv), env)  # noqa: S606 - the trial's argv, the probe's job
        except SystemExit:
            pass
        # A fork child reports and exits, always.
        except BaseException as exc:  # noqa: BLE001 - printed, then it exits
            print(f"leastpriv probe: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) % 256


def _pid_one(trial: Trial) -> int:
    """The first process of the new PID namespace: build, verify, set up, run."""
    try:
        build_sandbox()
        verify_fresh(trial.host_namespaces)
        for step in trial.setup:
            subprocess.run(step, check=True, cwd=SCRATCH, stdin=subprocess.DEVNULL,
                           stdout=sys.stderr, env={"PATH": _PATH, "LC_ALL": "C"})
        argv = list(trial.argv)
        if trial.sleeper:
            # A root-owned process to signal; it dies with this namespace's pid 1.
            # By name: the sandbox's PATH, whatever directory its sleep lives in.
            sleeper = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)  # noqa: S607
            argv = [arg.replace(PID_PLACEHOLDER, str(sleeper.pid)) for arg in argv]
    # Any failure to build the sandbox refuses the trial.
    except Exception as exc:  # noqa: BLE001 - printed, the trial refused
        print(f"leastpriv probe: sandbox refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return _run_command(trial, argv)


def run_trial(trial: Trial) -> int:
    """Unshare, run the trial's pid 1 in the new namespaces, return the command's exit status."""
    _check(_libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID | _CLONE_NEWIPC
                         | _CLONE_NEWUTS), "unshare")
    pid = os.fork()
    if pid == 0:
        code = EXIT_REFUSED
        try:
            code = _pid_one(trial)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) % 256


def main() -> int:
    data = json.load(sys.stdin)
    trial = Trial(
        argv=tuple(data["argv"]),
        capabilities=tuple(data["capabilities"]),
        as_root=bool(data["as_root"]),
        host_namespaces={str(k): int(v) for k, v in data["host_namespaces"].items()},
        setup=tuple(tuple(step) for step in data.get("setup", ())),
        sleeper=bool(data.get("sleeper", False)),
        entrypoint=str(data.get("entrypoint", "")),
        arguments=str(data.get("arguments", "{}")),
        python=tuple(data.get("python", ())),
    )
    sys.path[:0] = trial.python
    try:
        code = run_trial(trial)
    except OSError as exc:
        print(f"leastpriv probe: sandbox refused: {exc}", file=sys.stderr)
        code = EXIT_REFUSED
    print(json.dumps({"exit": code}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
