"""Each end of a channel checks who is at the other end (SO_PEERCRED) and refuses anybody else."""

# ruff: noqa: F811 - fixtures imported from support.py are parameters by the same name

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import functional_pythonpath, system_user  # noqa: F401 - system_user: a fixture
from tests.conftest import requires_root

from leastpriv import caps, wire
from leastpriv.context import PrivContext
from leastpriv.errors import DaemonStartError
from leastpriv.privileged.daemon import EXIT_SETUP_FAILED

pytestmark = requires_root

# Listens on a socket as the unprivileged test user, accepts one connection and writes everything
# the other end sent, in hex, to standard output.
FOREIGN_CALLER = """
import socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(1)
print("ready", flush=True)
conn, _ = listener.accept()
received = b""
while chunk := conn.recv(65536):
    received += chunk
print(received.hex(), flush=True)
"""

# Stands in for the helper, as the test user: connects to the socket it is given and waits.
IMPOSTOR_HELPER = """
import socket, sys, time
path = sys.argv[sys.argv.index("--socket") + 1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
time.sleep(30)
"""


@pytest.fixture
def shared_dir(system_user: str) -> Iterator[Path]:
    """A directory the test user owns, below one everybody may enter."""
    top = Path(tempfile.mkdtemp(prefix="lp-peer-"))
    top.chmod(0o755)
    user = pwd.getpwnam(system_user)
    own = top / "user"
    own.mkdir()
    os.chown(own, user.pw_uid, user.pw_gid)
    yield own
    shutil.rmtree(top, ignore_errors=True)


def frames_in(data: bytes) -> list[list[object]]:
    """The messages in a captured byte stream, in order."""
    messages = []
    while data:
        (length,) = wire.HEADER.unpack_from(data)
        messages.append(wire.parse_message(data[wire.HEADER.size:wire.HEADER.size + length]))
        data = data[wire.HEADER.size + length:]
    return messages


def test_the_daemon_refuses_a_caller_of_another_uid_and_serves_it_nothing(
        system_user: str, shared_dir: Path) -> None:
    user = pwd.getpwnam(system_user)
    path = str(shared_dir / "channel")
    caller = subprocess.Popen(["/usr/bin/python3", "-c", FOREIGN_CALLER, path],
                              user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout is not None and caller.stdout.readline().strip() == "ready"
        # Root runs the helper itself (no sudo): only root may be the caller.
        env = {key: value for key, value in os.environ.items() if not key.startswith("SUDO_")}
        helper = subprocess.run(
            [sys.executable, "-m", "leastpriv.privileged.helper", "--context", "contexts:files",
             "--socket", path],
            env={**env, "PYTHONPATH": functional_pythonpath()}, capture_output=True, timeout=60)
        received = bytes.fromhex(caller.communicate(timeout=30)[0].strip())
    finally:
        caller.kill()
        caller.wait()
    assert helper.returncode == EXIT_SETUP_FAILED
    messages = frames_in(received)
    assert [message[0] for message in messages] == [wire.Kind.SETUP_FAILED]
    assert str(messages[0][2]).startswith("PermissionError")


impostor_ctx = PrivContext("leastpriv_tests.impostor", capabilities=[caps.CAP_CHOWN])


@impostor_ctx.entrypoint
def impostor_add_privileged(a: int, b: int) -> int:
    return a + b


def test_the_caller_refuses_a_helper_end_of_another_uid_and_leaves_no_process(
        system_user: str, tmp_path: Path) -> None:
    user = pwd.getpwnam(system_user)
    script = tmp_path / "impostor.py"
    script.write_text(IMPOSTOR_HELPER)
    script.chmod(0o644)
    # The impostor runs as the test user; CAP_DAC_OVERRIDE lets it reach the caller's private
    # socket directory, as a process that raced the real helper might.
    command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
               "--inh-caps=+dac_override", "--ambient-caps=+dac_override",
               "/usr/bin/python3", "-c", IMPOSTOR_HELPER]
    impostor_ctx._defaults = impostor_ctx._defaults._replace(helper_command=tuple(command))
    try:
        with pytest.raises(DaemonStartError):
            impostor_ctx.start(method="exec")
        assert not impostor_ctx.running
        assert not any(IMPOSTOR_HELPER.strip().splitlines()[0] in args for args in _commands())
    finally:
        impostor_ctx.stop()


def _commands() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    found.append(cmdline.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return found
