"""The helper's own checks: its options, the configuration's location, the invoking user."""

from __future__ import annotations

import grp
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
from tests.conftest import requires_root

from leastpriv import PolicyError
from leastpriv.config import ContextConfig
from leastpriv.context import PrivContext
from leastpriv.privileged.helper import (
    Invoker,
    _daemon_spec,
    _parse,
    check_config_location,
    with_default_identity,
)

pytestmark = requires_root
NOBODY = 65534


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


# -- --config under sudo: only from the root-owned configuration directory ------------------------

@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "etc-leastpriv"
    directory.mkdir(mode=0o755)
    return directory


def test_a_root_only_file_outside_the_configuration_directory_is_refused_unread(
        config_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret:19000:0:99999:7:::\n")
    secret.chmod(0o600)
    before = secret.stat().st_atime_ns
    with pytest.raises(PolicyError) as refused:
        check_config_location(str(secret), str(config_dir))
    assert "secret" not in str(refused.value).replace(str(secret), "")
    assert secret.stat().st_atime_ns == before


def test_a_path_that_climbs_out_of_the_configuration_directory_is_refused(
        config_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "x.toml"
    outside.write_text("")
    with pytest.raises(PolicyError):
        check_config_location(str(config_dir / ".." / "x.toml"), str(config_dir))
    (config_dir / "link.toml").symlink_to(outside)
    with pytest.raises(PolicyError):
        check_config_location(str(config_dir / "link.toml"), str(config_dir))


def test_a_root_owned_file_in_the_configuration_directory_is_accepted(config_dir: Path) -> None:
    path = config_dir / "nova.toml"
    path.write_text("[x]\n")
    assert check_config_location(str(path), str(config_dir)) == str(path)


def test_a_file_in_the_configuration_directory_others_can_write_is_refused(
        config_dir: Path) -> None:
    path = config_dir / "nova.toml"
    path.write_text("[x]\n")
    path.chmod(0o666)
    with pytest.raises(PolicyError):
        check_config_location(str(path), str(config_dir))


# -- who the daemon runs as ---------------------------------------------------------------------

def config(user: str | None = None, group: str | None = None) -> ContextConfig:
    return ContextConfig(capabilities=frozenset(), helper_command=None, user=user, group=group,
                         thread_pool_size=None, logger_name=None, timeout=None)


def test_under_sudo_a_context_without_user_runs_as_the_invoking_user_and_group() -> None:
    invoker = Invoker({"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)})
    chosen = with_default_identity(config(), invoker)
    assert (chosen.user, chosen.group) == (pwd.getpwuid(NOBODY).pw_name,
                                           grp.getgrgid(NOBODY).gr_name)


def test_a_named_user_wins_over_the_invoking_user() -> None:
    invoker = Invoker({"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)})
    assert with_default_identity(config(user="root"), invoker).user == "root"


def test_without_sudo_no_user_is_chosen() -> None:
    assert with_default_identity(config(), Invoker({})).user is None


def test_an_invoking_uid_without_a_name_is_refused() -> None:
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    unnamed = next(uid for uid in range(40000, 60000) if uid not in taken)
    with pytest.raises(PolicyError):
        with_default_identity(config(), Invoker({"SUDO_UID": str(unnamed), "SUDO_GID": "0"}))


# -- errors about a configuration file the invoking user may not read ---------------------------

quoted = PrivContext("leastpriv_tests.helper_quoted", capabilities=[])
SUDO = Invoker({"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY)})


def bad_config(directory: Path, mode: int) -> Path:
    path = directory / "bad.toml"
    path.write_text("root:$6$SECRETHASH:19000\n")  # not TOML: the parser quotes line and column
    path.chmod(mode)
    return path


def test_under_sudo_an_error_about_an_unreadable_file_quotes_nothing_of_it(tmp_path: Path) -> None:
    path = bad_config(tmp_path, 0o600)
    with pytest.raises(PolicyError) as refused:
        _daemon_spec(quoted, str(path), SUDO)
    assert "line" not in str(refused.value) and "SECRETHASH" not in str(refused.value)


def test_an_error_about_a_file_anyone_may_read_keeps_its_position() -> None:
    # Not under tmp_path: pytest's base directory is root's 0700, so nobody else could read it.
    directory = Path(tempfile.mkdtemp(prefix="lp-helper-"))
    try:
        directory.chmod(0o755)
        with pytest.raises(PolicyError) as refused:
            _daemon_spec(quoted, str(bad_config(directory, 0o644)), SUDO)
    finally:
        shutil.rmtree(directory)
    assert "line 1" in str(refused.value)


def test_without_sudo_gid_the_daemon_takes_its_users_group_not_roots() -> None:
    chosen = with_default_identity(config(), Invoker({"SUDO_UID": str(NOBODY)}))
    assert (chosen.user, chosen.group) == (pwd.getpwuid(NOBODY).pw_name, None)
