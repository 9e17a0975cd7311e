"""``[tool.leastpriv]``: found like ruff finds its table, strictly validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from leastpriv.audit import settings
from leastpriv.audit.model import Severity

FULL = """
[tool.leastpriv]
select = ["LPS1", "LPS203"]
ignore = ["LPS201"]
max-capabilities = 3
extra-file-sinks = ["proj.fs.write_as_root"]
extra-command-sinks = ["proj.utils.trycmd"]
exclude = ["*/legacy/*"]
fail-on = "Medium"
"""


def write(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    path.write_text(text)
    return path


def test_every_key_is_read(tmp_path: Path) -> None:
    found = settings.load(write(tmp_path, FULL))
    assert found == settings.Settings(
        select=("LPS1", "LPS203"), ignore=("LPS201",), max_capabilities=3,
        extra_file_sinks=("proj.fs.write_as_root",), extra_command_sinks=("proj.utils.trycmd",),
        exclude=("*/legacy/*",), fail_on=Severity.MEDIUM, source=tmp_path / "pyproject.toml",
    )


def test_a_file_without_the_table_gives_defaults(tmp_path: Path) -> None:
    found = settings.load(write(tmp_path, "[project]\nname = 'x'\n"))
    assert found.select is None and found.fail_on is None and found.ignore == ()


def test_discovery_skips_pyprojects_without_the_table(tmp_path: Path) -> None:
    write(tmp_path, FULL)
    write(tmp_path / "pkg", "[tool.ruff]\nline-length = 100\n")
    (tmp_path / "pkg" / "mod").mkdir()
    assert settings.discover(tmp_path / "pkg" / "mod").source == tmp_path / "pyproject.toml"


def test_discovery_starts_from_a_file_s_directory(tmp_path: Path) -> None:
    write(tmp_path, FULL)
    module = tmp_path / "m.py"
    module.write_text("")
    assert settings.discover(module).max_capabilities == 3


@pytest.mark.parametrize("table", [
    "selct = ['LPS1']",
    "max-capabilities = 0",
    "max-capabilities = true",
    "ignore = 'LPS201'",
    "exclude = [1]",
    "fail-on = 'critical'",
])
def test_invalid_tables_are_refused(tmp_path: Path, table: str) -> None:
    with pytest.raises(settings.SettingsError):
        settings.load(write(tmp_path, f"[tool.leastpriv]\n{table}\n"))


def test_broken_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError):
        settings.load(write(tmp_path, "[tool.leastpriv\n"))
