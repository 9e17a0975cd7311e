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
