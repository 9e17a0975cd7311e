"""Reading a source tree: what is listed, and what happens to what cannot be read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leastpriv import sourcetree

needs_root_without_dac = pytest.mark.skipif(
    not Path("/usr/bin/setpriv").exists() or os.geteuid() != 0,
    reason="needs root and setpriv to read a tree without the DAC capabilities",
)
_DROP = "-dac_override,-dac_read_search"


def _without_dac(*argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` as uid 0 without CAP_DAC_*: a 000 directory is then unreadable, as for a user."""
    return subprocess.run(
        ["setpriv", f"--inh-caps={_DROP}", f"--bounding-set={_DROP}", *argv],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture
def tree_with_locked_dir(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "ok.py").write_text("x = 1\n")
    locked = tmp_path / "pkg" / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "up").symlink_to("..")
    locked.chmod(0)
    yield tmp_path
    locked.chmod(0o700)


def test_a_package_named_like_build_output_is_read_and_build_output_is_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "pkg" / "build").mkdir(parents=True)
    (tmp_path / "pkg" / "build" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "build" / "image.py").write_text("")
    (tmp_path / "build" / "lib" / "pkg").mkdir(parents=True)
    (tmp_path / "build" / "lib" / "pkg" / "copy.py").write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in sourcetree.iter_files(tmp_path)]
    assert found == ["pkg/build/__init__.py", "pkg/build/image.py"]


def test_directory_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text("")
    (tmp_path / "a" / "loop").symlink_to("..")
    assert [p.relative_to(tmp_path).as_posix() for p in sourcetree.iter_files(tmp_path)] == [
        "a/m.py"
    ]


def test_is_file_is_false_for_a_link_loop(tmp_path: Path) -> None:
    (tmp_path / "x").symlink_to("y")
    (tmp_path / "y").symlink_to("x")
    assert sourcetree.is_file(tmp_path / "x") is False


@needs_root_without_dac
def test_an_unreadable_directory_is_recorded_not_raised(tree_with_locked_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from leastpriv import sourcetree\n"
        "bad = []\n"
        "files = list(sourcetree.iter_files(Path(sys.argv[1]), unreadable=bad))\n"
        "print(sorted(p.name for p in files)); print([p.name for p, _ in bad])\n"
    )
    proc = _without_dac(sys.executable, "-c", code, str(tree_with_locked_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['__init__.py', 'ok.py']", "['locked']"]


@needs_root_without_dac
def test_migrate_skips_an_unreadable_directory_without_a_traceback(
    tree_with_locked_dir: Path,
) -> None:
    proc = _without_dac(
        sys.executable, "-m", "leastpriv", "migrate", "--format", "json", str(tree_with_locked_dir)
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "pkg/locked" in {s["path"] for s in json.loads(proc.stdout)["skipped"]}
