"""``privsep-helper`` attacked by the service user that sudo runs it for (issue 8, finding 6, for
the compat helper): what it prints must tell the caller nothing of a file only root may read."""

from __future__ import annotations

import os
import pwd
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from system_users import made_user

pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")

pytestmark = [pytest.mark.functional,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs the helper as root")]
HERE = Path(__file__).parent
SRC = Path(__file__).parents[3] / "src"
MARK = "ROOT-ONLY-LINE-4f1c"  # what only root may read


@pytest.fixture
def root_only_dir() -> Iterator[Path]:
    """A directory of root's, 0700, outside any user's reach, removed afterwards."""
    directory = Path("/run") / f"lp-attack-{os.getpid()}"
    directory.mkdir(mode=0o700)
    yield directory
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def run_helper_under_sudo(*argv: str) -> subprocess.CompletedProcess[str]:
    """privsep-helper as root with sudo's SUDO_UID/SUDO_GID of nobody (sudo sets them; faked)."""
    return subprocess.run(
        [sys.executable, "-m", "leastpriv.compat.daemon", *argv,
         "--privsep_context", "compatpkg.netadmin", "--privsep_sock_path", "/nonexistent/s"],
        env={**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534",
             "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)])},
        capture_output=True, text=True, timeout=60, check=False, cwd="/")


@pytest.mark.parametrize("content", [f"{MARK}\n", f"[DEFAULT]\n{MARK}\n", f"[{MARK}\n"],
                         ids=["bare-line", "after-a-section", "broken-section"])
def test_a_config_file_only_root_reads_is_never_echoed(root_only_dir: Path, content: str) -> None:
    # oslo.config's parse errors quote the offending line; the caller names the file.
    secret = root_only_dir / "secret.conf"
    secret.write_text(content)
    secret.chmod(0o600)
    done = run_helper_under_sudo("--config-file", str(secret))
    assert done.returncode == 70  # EXIT_SETUP_FAILED
    assert MARK not in done.stdout + done.stderr


def test_a_config_dir_only_root_reads_is_never_echoed(root_only_dir: Path) -> None:
    (root_only_dir / "a.conf").write_text(f"{MARK}\n")
    done = run_helper_under_sudo("--config-dir", str(root_only_dir))
    assert done.returncode == 70
    assert MARK not in done.stdout + done.stderr


@pytest.fixture
def user_with_home() -> Iterator[tuple[str, Path]]:
    """A system user made for this test, with a home directory of its own; both removed after."""
    name = f"lp-test-{secrets.token_hex(4)}"
    home = Path(tempfile.mkdtemp(prefix="lp-home-")) / name
    with made_user(name, home=home):
        home.mkdir()
        shutil.chown(home, name, name)
        yield name, home
    shutil.rmtree(home.parent)


def test_a_config_file_named_through_a_tilde_is_checked_where_it_is_read(
        user_with_home: tuple[str, Path], tmp_path: Path) -> None:
    # oslo.config expands "~user/..." before it opens a --config-file; the check must judge that
    # file, not the literal "/~user/..." (missing, so judged by "/", root's). The file is the
    # service user's own, and may say `user = root` for its daemon.
    name, home = user_with_home
    planted = home / "evil.conf"
    planted.write_text("[compat_netadmin]\nuser = root\n")
    shutil.chown(planted, name, name)
    # Root listens in a directory of root's (SUDO_UID 0 here): the helper connects to it only
    # when every check before the connection passed, the configuration's included.
    listening = tmp_path / "channel"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(listening))
        listener.listen(1)
        assert not helper_connects(listener, "--config-file", f"~{name}/evil.conf")


def helper_connects(listener: socket.socket, *argv: str, socket_path: str | None = None,
                    sudo_uid: int = 0) -> bool:
    """Whether privsep-helper (under sudo by `sudo_uid`, sent to `socket_path`, else to the
    listener's own path) connects to `listener` before it exits."""
    helper = subprocess.Popen(
        [sys.executable, "-m", "leastpriv.compat.daemon", *argv, "--privsep_context",
         "compatpkg.netadmin", "--privsep_sock_path", socket_path or listener.getsockname()],
        env={**os.environ, "SUDO_UID": str(sudo_uid), "SUDO_GID": str(sudo_uid),
             "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    exited = os.pidfd_open(helper.pid)
    try:
        ready, _, _ = select.select([listener, exited], [], [])  # whichever comes first
        return listener in ready
    finally:
        helper.kill()
        helper.wait()
        os.close(exited)


def test_a_link_in_the_callers_own_directory_never_gets_root_to_connect_elsewhere(
        user_with_home: tuple[str, Path], tmp_path: Path) -> None:
    # Root's connect() alone reaches a socket the caller cannot (in a directory of root's, 0700):
    # a socket-activated service starts, a server sees uid 0 at the other end. The helper must
    # connect to the socket in the caller's directory itself, never through a link there.
    name, home = user_with_home
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    own = home / "run"
    own.mkdir(mode=0o700)
    (own / "channel").symlink_to(private / "sock")
    shutil.chown(own, name, name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(private / "sock"))
        listener.listen(1)
        assert not helper_connects(listener, socket_path=str(own / "channel"),
                                   sudo_uid=pwd.getpwnam(name).pw_uid)


@pytest.mark.parametrize(("name", "memfd"), [("/dev/stdin", False), ("/proc/self/fd/0", False),
                                           ("/proc/self/fd/0", True)],
                         ids=["dev-stdin-pipe", "proc-fd-pipe", "proc-fd-memfd"])
def test_the_callers_stdin_is_never_read_as_a_config_file(
        user_with_home: tuple[str, Path], tmp_path: Path, name: str, memfd: bool) -> None:
    # sudo hands the caller's stdin to the helper. A pipe resolves to no existing path, so a
    # check of where a path leads judged it by /proc's or /dev's directories, root's alone; its
    # content, the caller's, then chose the daemon's user.
    user, _ = user_with_home
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "channel"))
        listener.listen(1)
        content = f"[compat_netadmin]\nuser = {user}\n".encode()
        if memfd:  # a regular file, whose resolved path "/memfd:... (deleted)" does not exist
            read = os.memfd_create("config")
            os.write(read, content)
            os.lseek(read, 0, os.SEEK_SET)
        else:
            read, write = os.pipe()
            os.write(write, content)
            os.close(write)
        helper = subprocess.Popen(
            [sys.executable, "-m", "leastpriv.compat.daemon", "--config-file", name,
             "--privsep_context", "compatpkg.netadmin", "--privsep_sock_path",
             str(tmp_path / "channel")],
            env={**os.environ, "SUDO_UID": "0", "SUDO_GID": "0",
                 "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC)])},
            stdin=read, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        os.close(read)
        exited = os.pidfd_open(helper.pid)
        try:
            ready, _, _ = select.select([listener, exited], [], [])
            daemon_uid = None
            if listener in ready:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(1)  # the daemon's first frame: sent once it has dropped
                    daemon_uid = _fields(Path(f"/proc/{helper.pid}/status").read_text(), "Uid")
        finally:
            helper.kill()
            helper.wait()
            os.close(exited)
    assert daemon_uid != [pwd.getpwnam(user).pw_uid] * 4  # refused, or root's own choice


def _fields(status: str, key: str) -> list[int]:
    line = next(line for line in status.splitlines() if line.startswith(f"{key}:"))
    return [int(field) for field in line.split()[1:]]
