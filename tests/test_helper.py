"""The helper's own checks: under sudo, root reads only a config file that is root's alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.conftest import requires_root

from leastpriv import PolicyError
from leastpriv.privileged.helper import _parse, check_root_only

pytestmark = requires_root
NOBODY = 65534


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """A root-owned 0755 directory (pytest's tmp_path is 0700, which is root's alone too)."""
    directory = tmp_path / "etc"
    directory.mkdir(mode=0o755)
    return directory


def config_in(directory: Path, mode: int = 0o644, uid: int = 0) -> Path:
    path = directory / "leastpriv.toml"
    path.write_text("[x]\n")
    path.chmod(mode)
    os.chown(path, uid, -1)
    return path


def test_a_root_owned_file_in_root_owned_directories_is_accepted(root_dir: Path) -> None:
    path = config_in(root_dir)
    assert check_root_only(str(path)) == str(path.resolve())


def test_a_file_owned_by_another_user_is_refused(root_dir: Path) -> None:
    with pytest.raises(PolicyError):
        check_root_only(str(config_in(root_dir, uid=NOBODY)))


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_a_file_others_can_write_is_refused(root_dir: Path, mode: int) -> None:
    with pytest.raises(PolicyError):
        check_root_only(str(config_in(root_dir, mode=mode)))


def test_a_directory_others_can_write_is_refused(root_dir: Path) -> None:
    path = config_in(root_dir)
    root_dir.chmod(0o777)  # anyone could rename another file into place
    with pytest.raises(PolicyError):
        check_root_only(str(path))


def test_a_directory_owned_by_another_user_is_refused(root_dir: Path) -> None:
    path = config_in(root_dir)
    os.chown(root_dir, NOBODY, -1)
    with pytest.raises(PolicyError):
        check_root_only(str(path))


def test_a_sticky_root_owned_directory_like_tmp_is_accepted(root_dir: Path) -> None:
    path = config_in(root_dir)
    root_dir.chmod(0o1777)  # nobody else can remove or replace root's file in it
    assert check_root_only(str(path)) == str(path.resolve())


def test_a_symlink_is_judged_by_the_file_it_leads_to(root_dir: Path, tmp_path: Path) -> None:
    foreign = config_in(root_dir, uid=NOBODY)
    link = tmp_path / "link.toml"
    link.symlink_to(foreign)
    with pytest.raises(PolicyError):
        check_root_only(str(link))


@pytest.mark.parametrize("argv", [
    ["--context", "m:c", "--socket", "/s", "--config", "/c"],
    ["--context=m:c", "--socket=/s", "--config=/c"],
])
def test_the_options_are_parsed(argv: list[str]) -> None:
    assert _parse(argv) == {"--context": "m:c", "--socket": "/s", "--config": "/c"}


@pytest.mark.parametrize("argv", [
    [],
    ["--context", "m:c"],
    ["--context", "m:c", "--socket"],
    ["--context", "m:c", "--socket=/s", "--socket=/t"],
    ["--context", "m:c", "--socket", "/s", "--user", "x"],
    ["--context", "--socket"],
    ["m:c"],
])
def test_anything_else_is_a_usage_error(argv: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(argv)
    assert exited.value.code == 2
    assert "usage: leastpriv-helper" in capsys.readouterr().err


def test_help_prints_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(["--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: leastpriv-helper --context")
