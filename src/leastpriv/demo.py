"""`leastpriv demo`: the example service's two small contexts, run for real, then cleaned up.

A thin runner over `leastpriv.examples.console_and_network`: it makes a temporary instances root
and a network namespace, lets the service make its narrow calls, shows from ``/proc/<pid>/status``
what each daemon holds, shows two refusals (a path escape stopped by the contract, a network call
stopped by the kernel when it goes through the files context), and removes everything it made —
namespace, temporary directory, daemons — whatever happened. It checks each outcome as it goes and
exits 1 if any differs from what the design promises, so the demo is also a smoke test.

Needs root: forking a daemon that keeps CAP_NET_ADMIN, or chowning a file, cannot be shown without.
"""

# No `from __future__ import annotations` here, on purpose: the entrypoint defined inside
# `_register_misplaced_entrypoint` is annotated with names local to that function, and postponed
# (string) annotations could not be resolved from the entrypoint's module globals.

import argparse
import contextlib
import errno
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import FrameType, ModuleType
from typing import TYPE_CHECKING

from leastpriv import caps

if TYPE_CHECKING:
    from leastpriv.context import PrivContext

INSTANCES_ROOT_ENV = "LEASTPRIV_EXAMPLE_INSTANCES_ROOT"
# The uid the instance's console log is handed to. Any uid in the contract's range works; no such
# user needs to exist (the demo creates no user and touches none).
INSTANCE_UID = 64055

NEEDS_ROOT = """\
leastpriv demo needs root.

It forks two real privileged daemons and drops each to the capabilities its context declares
(CAP_CHOWN + CAP_DAC_OVERRIDE, and CAP_NET_ADMIN), creates and removes a network namespace, and
chowns a file: none of that can be shown by an unprivileged user.

Run it as root, for example:  sudo {command}
"""


class DemoFailed(Exception):
    """An outcome differed from what leastpriv promises; the message says which."""


@dataclass
class _Made:
    """What the demo created, so that it can be removed and then checked gone."""

    instances_root: str | None = None
    namespace: str | None = None
    daemon_pids: dict[str, int] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also show the log records the daemons forward (their capability sets, at INFO)",
    )


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        # The interpreter's full path: under sudo a virtualenv's `leastpriv` is not on PATH.
        command = shlex.join([sys.executable, "-m", "leastpriv", "demo"])
        print(NEEDS_ROOT.format(command=command), file=sys.stderr, end="")
        return 1
    if shutil.which("ip") is None:
        print("leastpriv demo needs the `ip` command (Debian/Ubuntu: apt-get install iproute2) "
              "to create and remove its network namespace.", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="    | %(name)s %(levelname)s: %(message)s",
        stream=sys.stdout,  # in order with the steps they belong to
    )
    made = _Made()
    status = 0
    try:
        with _terminate_as_exit(), contextlib.ExitStack() as cleanup:
            _demo(made, cleanup)
    except DemoFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        status = 1
    # Anything else is a bug somewhere: show it whole, after the cleanup.
    except Exception:  # noqa: BLE001 - printed whole, exit 1
        print("\nFAILED with an unexpected error:", file=sys.stderr)
        traceback.print_exc()
        status = 1
    print("\nCleanup")
    leftovers = _leftovers(made)
    for line in leftovers:
        print(f"  LEFT BEHIND: {line}")
    if not leftovers:
        print("  namespace, instances root and daemons: all gone")
        return status
    return 1


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the demo runs, so its cleanup still happens."""
    def on_term(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - handler's
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo(made: _Made, cleanup: contextlib.ExitStack) -> None:
    # Everything made is registered for removal the moment it exists (ExitStack runs LIFO: the
    # daemons stop first, then the namespace goes, then the directory).
    made.instances_root = tempfile.mkdtemp(prefix="leastpriv-demo-")
    cleanup.callback(shutil.rmtree, made.instances_root, ignore_errors=True)
    # Traversable by the instance's uid, which owns its directory inside; nothing is writable.
    os.chmod(made.instances_root, 0o755)  # noqa: S103 - see above
    made.namespace = f"leastpriv-demo-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", made.namespace], check=True)
    cleanup.callback(_delete_namespace, made.namespace)

    # The example reads its instances root when it is imported, as a service reads its config.
    os.environ[INSTANCES_ROOT_ENV] = made.instances_root
    from leastpriv.examples.console_and_network import console, network

    if made.instances_root != console.INSTANCES_ROOT:
        # Imported earlier in this process, so its contracts name another root: running on
        # would only show every call refused.
        raise DemoFailed(f"the example was already loaded with instances root "
                         f"{console.INSTANCES_ROOT}; run the demo in a fresh process")

    cleanup.callback(console.console_ctx.stop)
    cleanup.callback(network.net_ctx.stop)
    # Registered before the files daemon starts, so the fork carries it in the registry.
    misplaced = _register_misplaced_entrypoint(console, network)

    print(f"Instances root     {made.instances_root}")
    print(f"Network namespace  {made.namespace}")

    instance_id = secrets.token_hex(16)
    _files_context(made, console, instance_id)
    _network_context(made, network, instance_id)
    _path_escapes(made, console, instance_id)
    _network_call_in_files_context(made, misplaced)


def _files_context(made: _Made, console: ModuleType, instance_id: str) -> None:
    assert made.instances_root is not None  # noqa: S101 - narrows the type: set in _make
    print("\n1. files context: write and chown an instance's console log")
    # The instance directory belongs to the instance's uid, mode 0700, as a hypervisor leaves it:
    # the daemon (uid nobody) writes in it only through CAP_DAC_OVERRIDE.
    instance_dir = os.path.join(made.instances_root, instance_id)
    os.mkdir(instance_dir, 0o700)
    os.chown(instance_dir, INSTANCE_UID, INSTANCE_UID)
    print(f"  instance directory {instance_dir}")
    print(f"    owned by uid {INSTANCE_UID}, mode 0700: the daemon (not root) writes in it only "
          "through CAP_DAC_OVERRIDE")
    started = time.monotonic()
    path = console.record_console_output(instance_dir, b"[    0.000000] Linux version ...\n",
                                         INSTANCE_UID)
    elapsed_ms = (time.monotonic() - started) * 1000
    made.daemon_pids["files"] = _daemon_pid(console.console_ctx)
    console.record_console_output(instance_dir, b"login: \n", INSTANCE_UID)
    info = os.stat(path)
    print(f"  record_console_output() -> {path}")
    print(f"  owner uid {info.st_uid}, mode {info.st_mode & 0o7777:04o}, {info.st_size} bytes "
          f"(first call, daemon start included: {elapsed_ms:.1f} ms)")
    if info.st_uid != INSTANCE_UID or info.st_mode & 0o7777 != 0o600:
        raise DemoFailed(f"console log has owner {info.st_uid} mode {info.st_mode & 0o7777:o}")
    _show_daemon("files", made.daemon_pids["files"], console.CAPABILITIES)


def _network_context(made: _Made, network: ModuleType, instance_id: str) -> None:
    assert made.namespace is not None  # noqa: S101 - narrows the type: set in _make
    print("\n2. network context: create a veth pair inside the namespace")
    name, peer = network.plug_instance_veth(made.namespace, instance_id)
    made.daemon_pids["network"] = _daemon_pid(network.net_ctx)
    print(f"  plug_instance_veth() -> {name} <-> {peer}")
    inside = _namespace_links(made.namespace)
    for line in inside:
        print(f"    ip -n {made.namespace} -br link: {line}")
    names_inside = {line.split()[0].split("@")[0] for line in inside}
    if not {name, peer} <= names_inside:
        raise DemoFailed(f"{name}/{peer} not found inside {made.namespace}")
    on_host = {n for _, n in socket.if_nameindex()} & {name, peer}
    shown = ", ".join(sorted(on_host)) or "neither end (as it should)"
    print(f"  in the host's namespace: {shown}")
    if on_host:
        raise DemoFailed(f"{sorted(on_host)} appeared in the host's namespace")
    _show_daemon("network", made.daemon_pids["network"], network.CAPABILITIES)


def _path_escapes(made: _Made, console: ModuleType, instance_id: str) -> None:
    import leastpriv

    assert made.instances_root is not None  # noqa: S101 - narrows the type: set in _make
    print("\n3. contract: paths outside the instances root are refused")
    planted = os.path.join(made.instances_root, "planted")
    os.symlink("/etc", planted)  # a symlink planted inside the root, leading out of it
    attempts = {
        "'..' escape": os.path.join(made.instances_root, instance_id, "..", "..", "..", "etc",
                                    "console.log"),
        "planted symlink": os.path.join(planted, "console.log"),
    }
    for what, path in attempts.items():
        print(f"  {what}: {path}")
        try:
            console.append_console_log_privileged(path, b"owned\n")
        except leastpriv.ContractViolation as exc:
            print(f"    -> ContractViolation, parameter {exc.parameter!r}: {exc.rule}")
        else:
            raise DemoFailed(f"{what} {path!r} was accepted")
    if os.path.exists("/etc/console.log"):
        raise DemoFailed("/etc/console.log exists after the refused calls")


def _network_call_in_files_context(made: _Made,
                                   misplaced: Callable[[str, str, str], None]) -> None:
    assert made.namespace is not None  # noqa: S101 - narrows the type: set in _make
    print("\n4. the same network call through the files context: the kernel says EPERM")
    try:
        misplaced(made.namespace, "lp00000000-a", "lp00000000-b")
    except PermissionError as exc:
        print(f"  {type(exc).__name__}: errno {errno.errorcode.get(exc.errno or 0, exc.errno)} "
              f"({exc.strerror}) - the files daemon holds no CAP_NET_ADMIN")
        if exc.errno != errno.EPERM:
            raise DemoFailed(f"expected EPERM, got errno {exc.errno}") from exc
    else:
        raise DemoFailed("a veth pair was created through the files context")


def _register_misplaced_entrypoint(
    console: ModuleType, network: ModuleType
) -> Callable[[str, str, str], None]:
    """The demo's one deliberate mistake: a network function registered on the files context.

    It exists to show that a context's capabilities are enforced by the kernel, not by
    convention; a real service would never put it there (``leastpriv audit`` flags a context whose
    functions need another family's capability).
    """
    namespace_name = network.NamespaceName
    veth_name = network.VethName
    files_context: PrivContext = console.console_ctx

    @files_context.entrypoint
    def add_veth_through_files_context_privileged(
        namespace: namespace_name, name: veth_name, peer: veth_name  # type: ignore[valid-type]
    ) -> None:
        ns_fd = os.open(os.path.join(network.NETNS_DIR, namespace), os.O_RDONLY | os.O_CLOEXEC)
        try:
            network.new_veth_pair_in_namespace(ns_fd, name, peer)
        finally:
            os.close(ns_fd)

    return add_veth_through_files_context_privileged


# -- Showing a daemon -----------------------------------------------------------------------------

_SETS = ("effective", "permitted", "inheritable", "bounding", "ambient")


def _daemon_pid(ctx: object) -> int:
    pid = getattr(ctx, "daemon_pid", None)
    if not isinstance(pid, int):
        raise DemoFailed(f"{ctx!r} has no daemon pid after a call")
    return pid


def _names(capabilities: Iterable[caps.Capability]) -> str:
    return " ".join(caps.names(capabilities)) or "-"


def _show_daemon(label: str, pid: int, declared: list[caps.Capability]) -> None:
    """Print what /proc says daemon `pid` holds; fail unless it is exactly the declared set."""
    held = caps.read_process_capabilities(pid)
    print(f"  {label} daemon pid {pid}, uid {held.uid}, from /proc/{pid}/status:")
    print(f"    {'declared':<12} {_names(declared)}")
    for name in _SETS:
        print(f"    {name:<12} {_names(getattr(held, name))}")
    print(f"    {'no_new_privs':<12} {'yes' if held.no_new_privs else 'no'}")
    want = frozenset(declared)
    # Not uid 0, so the ambient set holds the declaration too: the commands it runs keep exactly it.
    wrong = [name for name in _SETS if getattr(held, name) != want]
    if held.uid == 0:
        wrong.append("uid")
    if wrong or not held.no_new_privs:
        raise DemoFailed(f"{label} daemon {pid}: {', '.join(wrong) or 'no_new_privs'} "
                         f"differ from the declaration")


# -- Cleanup and its check -----------------------------------------------------------------------

def _namespace_links(namespace: str) -> list[str]:
    out = subprocess.run(["ip", "-n", namespace, "-br", "link"], check=True,
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _delete_namespace(namespace: str) -> None:
    # Deleting the namespace destroys the veth pair inside it with it.
    subprocess.run(["ip", "netns", "delete", namespace], check=False)


def _process_gone(pid: int, within: float = 2.0) -> bool:
    """True once `pid` no longer exists (a zombie still counts as left behind)."""
    deadline = time.monotonic() + within
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _leftovers(made: _Made) -> list[str]:
    left = []
    if made.namespace and os.path.exists(os.path.join("/run/netns", made.namespace)):
        left.append(f"network namespace {made.namespace}")
    if made.instances_root and os.path.exists(made.instances_root):
        left.append(f"directory {made.instances_root}")
    for label, pid in made.daemon_pids.items():
        if not _process_gone(pid):
            left.append(f"{label} daemon pid {pid}")
    return left
