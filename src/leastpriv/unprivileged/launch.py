"""Starting a context's daemon: `fork` (the caller holds the capabilities) or `exec` a helper.

Both end with a connected `Channel` that has seen the daemon's HELLO, or raise `DaemonStartError`
with the reason; neither ever leaves the caller waiting on a daemon that failed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leastpriv import wire
from leastpriv.config import HELPER_PATH_ENV, ContextConfig
from leastpriv.errors import DaemonStartError
from leastpriv.unprivileged import green
from leastpriv.unprivileged.client import Channel, Hello

START_TIMEOUT = 30.0  # seconds a daemon may take from launch to HELLO
_REAP_GRACE = 2.0


@dataclass
class Launched:
    """A running daemon as its launcher left it."""

    method: str
    channel: Channel
    hello: Hello
    reap: Callable[[], None]  # wait for (and if need be end) the launched process

    @property
    def pid(self) -> int:
        return self.hello.pid


def fork_daemon(name: str, registry: Mapping[str, Any], config: ContextConfig) -> Launched:
    """Fork a child that drops to the declared capabilities and serves over a socketpair."""
    from leastpriv.privileged import daemon

    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    launching_uid = os.geteuid()
    green.before_fork()
    pid = os.fork()
    if pid == 0:
        try:
            # Under eventlet: real modules and socket, so the daemon never runs a green thread.
            child_end = green.leave_hub(child_end)
            daemon.run_forked(child_end, name=name, registry=registry, config=config,
                              launching_uid=launching_uid)
        finally:
            # Whatever happens, the child never returns into the application's code.
            os._exit(daemon.EXIT_SETUP_FAILED)
    child_end.close()

    def reap() -> None:
        _reap_child(pid)

    return _finish_launch("fork", name, parent_end, config, reap)


def _reap_child(pid: int) -> None:
    """Collect the forked daemon, so no zombie is left; SIGKILL it if it does not go."""
    deadline = time.monotonic() + _REAP_GRACE
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.005)


def _finish_launch(method: str, name: str, sock: socket.socket, config: ContextConfig,
                   reap: Callable[[], None], stderr: Callable[[], str] | None = None) -> Launched:
    channel = Channel(sock, max_frame_size=config.max_frame_size,
                      logger_name=config.logger_name)
    try:
        hello = channel.handshake(name, START_TIMEOUT)
    except DaemonStartError as exc:
        channel.close()
        reap()
        detail = stderr() if stderr else ""
        raise DaemonStartError(f"{exc}{': ' + detail if detail else ''}") from None
    return Launched(method, channel, hello, reap)


# --- exec -----------------------------------------------------------------------------------

def default_helper_command() -> tuple[str, ...]:
    """The helper as root runs it directly, or through sudo for everyone else."""
    if os.geteuid() == 0:
        # -I: neither the working directory, nor PYTHON* variables, nor a user site on sys.path
        # (a world-writable cwd would otherwise put a planted leastpriv/ first, run as root).
        return (sys.executable, "-I", "-m", "leastpriv.privileged.helper")
    # -n: never prompt for a password; a daemon start must fail, not hang on a terminal.
    return ("sudo", "-n", "leastpriv-helper")


def exec_daemon(name: str, context_ref: str, config: ContextConfig,
                config_file: str | None, *,
                helper_argv: Callable[[str], list[str]] | None = None) -> Launched:
    """Run the helper command, accept its one connection on a private socket, check the peer.

    `helper_argv`, given the socket's path, builds the whole command instead: leastpriv.compat
    runs oslo.privsep's ``privsep-helper`` argv, the one operators' sudoers and rootwrap name.
    """
    command = list(config.helper_command or default_helper_command())
    workdir = tempfile.mkdtemp(prefix="leastpriv-")  # mode 0700: only we (and root) reach it
    path = os.path.join(workdir, "channel")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # A file, not a pipe: the helper can never block on a full pipe nobody reads.
    stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    try:
        listener.bind(path)
        listener.listen(1)
        if helper_argv is not None:
            command = helper_argv(path)
        else:
            command += ["--context", context_ref, "--socket", path]
            if config_file:
                command += ["--config", config_file]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr_file, env=_helper_environment(),
                                   start_new_session=True)

        def stderr_text() -> str:
            stderr_file.seek(0)
            return stderr_file.read().decode(errors="replace").strip()[-2000:]

        def reap() -> None:
            _reap_process(process)

        sock = _accept_helper(listener, process, stderr_text)
        _check_helper_peer(sock, config, reap)
        return _finish_launch("exec", name, sock, config, reap, stderr_text)
    finally:
        listener.close()
        shutil.rmtree(workdir, ignore_errors=True)
        stderr_file.close()


def _helper_environment() -> dict[str, str]:
    # A root caller runs the helper directly: a SUDO_UID left in its own environment must not
    # make the helper expect somebody else at the other end.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUDO_")}
    if os.geteuid() == 0:
        # The directories this root process imports from itself, so the isolated helper finds the
        # context's module where the caller did; never "" or a relative entry (the cwd). sudo
        # drops the variable, and the helper ignores it under sudo.
        env[HELPER_PATH_ENV] = os.pathsep.join(
            entry for entry in sys.path if os.path.isabs(entry))
    return env


def _accept_helper(listener: socket.socket, process: subprocess.Popen[bytes],
                   stderr_text: Callable[[], str]) -> socket.socket:
    """Exactly one connection, before the start timeout and while the helper still runs."""
    deadline = time.monotonic() + START_TIMEOUT
    listener.settimeout(0.05)
    while True:
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            if process.poll() is not None:
                raise DaemonStartError(
                    f"the helper exited with status {process.returncode} before connecting: "
                    f"{stderr_text()}") from None
            if time.monotonic() > deadline:
                _reap_process(process)
                raise DaemonStartError(f"the helper did not connect within {START_TIMEOUT:g} s: "
                                       f"{stderr_text()}") from None
            continue
        sock.settimeout(None)
        return sock


def _check_helper_peer(sock: socket.socket, config: ContextConfig,
                       reap: Callable[[], None]) -> None:
    """Only root, or the configured daemon user, may be the helper at the other end."""
    _, uid, _ = wire.peer_credentials(sock)
    allowed = {0}
    if config.user is not None:
        with contextlib.suppress(KeyError):
            allowed.add(pwd.getpwnam(config.user).pw_uid)
    if uid not in allowed:
        sock.close()
        reap()
        raise DaemonStartError(f"the helper's end of the channel belongs to uid {uid}, "
                               f"not to root or the daemon user")


def _reap_process(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(_REAP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(PermissionError, ProcessLookupError):
            process.kill()  # works for a helper we run ourselves; a sudo'd one ends at EOF
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_REAP_GRACE)


def context_reference(module: str, context: object) -> str:
    """``pkg.module:attr`` for the helper, found by looking for `context` in its module."""
    loaded = sys.modules.get(module)
    if module == "__main__" or loaded is None:
        raise DaemonStartError(
            f"the exec method needs the context defined in an importable module, not {module!r}")
    for attr, value in vars(loaded).items():
        if value is context:
            return f"{module}:{attr}"
    raise DaemonStartError(f"the context is not a module-level name of {module}")

