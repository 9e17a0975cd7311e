"""`python -m leastpriv migrate` end to end: md, json, --stubs, --status, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
ROOTWRAPPED = PROJECTS / "rootwrapped"


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leastpriv", "migrate", *args],
                          capture_output=True, text=True, timeout=120)


def _has_catalog() -> bool:
    from leastpriv.migrate import catalog

    try:
        catalog.load_catalog()
    except OSError:
        return False
    return True


needs_catalog = pytest.mark.skipif(not _has_catalog(), reason="catalog data file not there yet")


@needs_catalog
def test_markdown_plan_is_the_default():
    result = migrate(str(ROOTWRAPPED))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Migration plan for `demo`")


@needs_catalog
def test_json_plan_to_a_file(tmp_path):
    out = tmp_path / "plan.json"
    result = migrate(str(ROOTWRAPPED), "--format", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["version"] == 1 and data["call_sites"]


@needs_catalog
def test_stubs_are_written(tmp_path):
    result = migrate(str(ROOTWRAPPED), "--stubs", str(tmp_path / "stubs"))
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "stubs").glob("*.py"))


def test_status_table_has_one_row_per_project():
    result = migrate("--status", str(ROOTWRAPPED), str(PROJECTS / "migrated"),
                     str(PROJECTS / "mixed"))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[2:]
    assert [row.split("|")[-2].strip() for row in rows] == ["on rootwrap", "migrated", "mixed"]


def test_status_as_json():
    result = migrate("--status", "--format", "json", str(PROJECTS / "migrated"))
    assert json.loads(result.stdout)["projects"][0]["name"] == "calm"


def test_a_missing_path_is_a_usage_error(tmp_path):
    assert migrate(str(tmp_path / "nope")).returncode == 2


def test_a_bad_format_is_a_usage_error():
    assert migrate(str(ROOTWRAPPED), "--format", "xml").returncode == 2


@pytest.fixture
def tree_with_unreadable_files(tmp_path: Path) -> Path:
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("utils.execute('ls', run_as_root=True\n")
    (package / "gone.py").symlink_to("nowhere.py")
    (package / "loop_a.py").symlink_to("loop_b.py")
    (package / "loop_b.py").symlink_to("loop_a.py")
    # Generated code nested deeper than the parser (or a recursive walk) can follow.
    (package / "deep.py").write_text("utils.execute('ls', run_as_root=True)\nx = "
                                     + " + ".join(["1"] * 20000) + "\n")
    return tmp_path


@needs_catalog
@pytest.mark.parametrize("fmt", ["md", "json"])
def test_files_it_cannot_read_are_warnings_naming_them(tree_with_unreadable_files, fmt):
    result = migrate("--format", fmt, str(tree_with_unreadable_files))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    skipped = ["svc/broken.py", "svc/deep.py", "svc/gone.py", "svc/loop_a.py", "svc/loop_b.py"]
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    assert [path for path in skipped if any(path in line for line in warned)] == skipped
    # Listed in the plan too, not only counted.
    assert [path for path in skipped if path in result.stdout] == skipped


def test_status_warns_of_the_files_it_cannot_read(tree_with_unreadable_files):
    # A verdict read from part of a tree says so: the skipped files may hold rootwrap calls.
    result = migrate("--status", "--format", "json", str(tree_with_unreadable_files))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    skipped = ["svc/broken.py", "svc/deep.py", "svc/gone.py", "svc/loop_a.py", "svc/loop_b.py"]
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    assert [path for path in skipped if any(path in line for line in warned)] == skipped
    (row,) = json.loads(result.stdout)["projects"]
    assert sorted(s["path"] for s in row["skipped"]) == skipped


def test_a_crash_exits_2_with_its_traceback_never_1(monkeypatch, capsys):
    from leastpriv.cli import main
    from leastpriv.migrate import cli as migrate_cli

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the planner")

    monkeypatch.setattr(migrate_cli, "build_plan", crash)
    assert main(["migrate", str(ROOTWRAPPED)]) == 2
    err = capsys.readouterr().err
    assert "RuntimeError: a bug in the planner" in err and "internal error" in err
