"""Under sudo the exec helper checks every module it imports before that module's code runs,
not only the context's module and the packages above it: a module the context's module imports
from a directory others can write would otherwise run as root before the privilege drop."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import requires_root

from leastpriv.errors import PolicyError, RemoteError
from leastpriv.unprivileged.client import Channel

pytestmark = [requires_root, pytest.mark.functional]
SRC = Path(__file__).parents[2] / "src"


@pytest.fixture
def tree() -> Iterator[Path]:
    """A root-owned import directory: the context's package, root's alone, imports a sibling
    package whose directory anyone could write (and whose __init__ leaves a mark)."""
    root = Path(tempfile.mkdtemp(prefix="lp-deps-"))
    root.chmod(0o755)
    (root / "lpdeps").mkdir(mode=0o755)
    (root / "lpdeps" / "__init__.py").write_text(
        "import lpdepslib\nfrom leastpriv import PrivContext\n"
        "ctx = PrivContext('lpdeps', capabilities=[])\n")
    planted = root / "lpdepslib"
    planted.mkdir()
    planted.chmod(0o777)
    (planted / "__init__.py").write_text(
        f"import os\nopen({str(root / 'ran')!r}, 'w').write(str(os.geteuid()))\n")
    yield root
    shutil.rmtree(root)


def test_a_module_the_context_imports_from_a_writable_directory_never_runs(
        tree: Path, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "channel"))
        listener.listen(1)
        # As under sudo (SUDO_UID is sudo's; faked here as root's own, whose socket this is).
        helper = subprocess.Popen(
            [sys.executable, "-s", "-m", "leastpriv.privileged.helper", "--context",
             "lpdeps:ctx", "--socket", str(tmp_path / "channel")],
            env={"PATH": "/usr/bin:/bin", "SUDO_UID": "0", "SUDO_GID": "0",
                 "PYTHONPATH": f"{tree}:{SRC}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        exited = os.pidfd_open(helper.pid)
        try:
            select.select([listener, exited], [], [])  # connected, or gone
        finally:
            helper.kill()
            helper.wait()
            os.close(exited)
    assert not (tree / "ran").exists()


@pytest.fixture
def lazy_tree(tree: Path) -> Path:
    """`tree`, with a context whose entrypoint imports a package others can write only when it
    is called: in the serving daemon, after the drop, where caps.family and config.resolve's
    oslo.config layer import lazily too."""
    (tree / "lpdeps" / "__init__.py").write_text("")
    (tree / "lplazy.py").write_text(
        "from leastpriv import PrivContext\nctx = PrivContext('lplazy', capabilities=[])\n\n"
        "@ctx.entrypoint\ndef lazy_privileged() -> None:\n    import lpdepslib  # noqa: F401\n")
    (tree / "lplazy.py").chmod(0o644)
    return tree


def test_a_module_an_entrypoint_imports_when_called_is_checked_in_the_serving_daemon(
        lazy_tree: Path, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "channel"))
        listener.listen(1)
        helper = subprocess.Popen(
            [sys.executable, "-s", "-m", "leastpriv.privileged.helper", "--context",
             "lplazy:ctx", "--socket", str(tmp_path / "channel")],
            env={"PATH": "/usr/bin:/bin", "SUDO_UID": "0", "SUDO_GID": "0",
                 "PYTHONPATH": f"{lazy_tree}:{SRC}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        try:
            listener.settimeout(30)
            sock, _ = listener.accept()
            channel = Channel(sock, max_frame_size=1 << 20, logger_name=None)
            channel.handshake("lplazy", 30)
            with pytest.raises((PolicyError, RemoteError)):
                channel.call("lplazy.lazy_privileged", {}, 30)
            channel.close()
        finally:
            helper.kill()
            helper.wait()
    assert not (lazy_tree / "ran").exists()
