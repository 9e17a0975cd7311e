"""Per-context configuration: layering, narrowing only, and failing closed on bad input."""

from __future__ import annotations

import copy
import os
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest

from leastpriv import PolicyError, caps, config
from leastpriv.config import CONFIG_ENV, ContextConfig, resolve
from leastpriv.privileged.privileges import declares_uid0

SECTION = "myservice_console"
DECLARED = frozenset({caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE})


@pytest.fixture(autouse=True)
def no_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)


# A context's constructor arguments (immutable, so one value serves every test).
DEFAULTS = ContextConfig(
    capabilities=DECLARED,
    helper_command=None,
    user=None,
    group=None,
    thread_pool_size=None,
    logger_name=None,
    timeout=None,
)


@pytest.fixture
def defaults() -> ContextConfig:
    return DEFAULTS


def write_config(tmp_path: Path, text: str, name: str = "leastpriv.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def section(body: str) -> str:
    return f"[{SECTION}]\n" + textwrap.dedent(body)


# ---------------------------------------------------------------------------------------------
# Layers


def test_without_any_file_the_constructor_arguments_stand(defaults: ContextConfig) -> None:
    assert resolve(SECTION, defaults) == defaults


def test_every_key_of_the_section_overrides_its_default(
        tmp_path: Path, defaults: ContextConfig) -> None:
    path = write_config(tmp_path, section("""
        capabilities = ["CAP_CHOWN"]
        helper_command = ["sudo", "-n", "leastpriv-helper"]
        user = "nova"
        group = "nova"
        thread_pool_size = 4
        logger_name = "nova.privsep"
        timeout = 30
        umask = "027"
        max_frame_size = 1048576
        method = "exec"
    """))
    resolved = resolve(SECTION, defaults, config_file=path)
    assert resolved == ContextConfig(
        capabilities=frozenset({caps.CAP_CHOWN}),
        helper_command=("sudo", "-n", "leastpriv-helper"),
        user="nova",
        group="nova",
        thread_pool_size=4,
        logger_name="nova.privsep",
        timeout=30.0,
        umask=0o027,
        max_frame_size=1048576,
        method="exec",
    )
    assert type(resolved.timeout) is float


def test_keys_absent_from_the_file_keep_their_defaults(
        tmp_path: Path, defaults: ContextConfig) -> None:
    defaults = defaults._replace(user="svc", timeout=5.0, umask=0o077)
    path = write_config(tmp_path, section('group = "svc"\n'))
    resolved = resolve(SECTION, defaults, config_file=path)
    assert resolved == defaults._replace(group="svc")


def test_a_file_without_the_section_changes_nothing(
        tmp_path: Path, defaults: ContextConfig) -> None:
    path = write_config(tmp_path, '[other_context]\nuser = "x"\nnot_a_key_of_ours = 1\n')
    assert resolve(SECTION, defaults, config_file=path) == defaults


def test_environment_variable_names_the_file(
        tmp_path: Path, defaults: ContextConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, section('user = "from-env"\n'))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert resolve(SECTION, defaults).user == "from-env"


def test_explicit_file_wins_over_the_environment_variable(
        tmp_path: Path, defaults: ContextConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = write_config(tmp_path, section('user = "from-env"\n'), "env.toml")
    explicit = write_config(tmp_path, section('user = "explicit"\n'), "explicit.toml")
    monkeypatch.setenv(CONFIG_ENV, str(from_env))
    assert resolve(SECTION, defaults, config_file=explicit).user == "explicit"


def test_empty_environment_variable_means_no_file(
        defaults: ContextConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, "")
    assert resolve(SECTION, defaults) == defaults


def test_resolved_configuration_is_immutable(defaults: ContextConfig) -> None:
    resolved = resolve(SECTION, defaults)
    with pytest.raises(AttributeError):
        resolved.user = "root"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Capabilities: narrowing only


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ('["CAP_CHOWN"]', {caps.CAP_CHOWN}),
        ('["chown", "dac_override"]', {caps.CAP_CHOWN, caps.CAP_DAC_OVERRIDE}),
        ("[1]", {caps.CAP_DAC_OVERRIDE}),
        ("[]", set()),
    ],
)
def test_capabilities_may_be_narrowed(
        tmp_path: Path, defaults: ContextConfig, configured: str, expected: set[Any]) -> None:
    path = write_config(tmp_path, section(f"capabilities = {configured}\n"))
    assert resolve(SECTION, defaults, config_file=path).capabilities == frozenset(expected)


@pytest.mark.parametrize(
    "configured",
    [
        # widening: capabilities the context did not declare
        '["CAP_SYS_ADMIN"]', '["CAP_CHOWN", "CAP_NET_ADMIN"]', "[21]", '["CAP_CHOWN", 12]',
        # not capabilities at all (there is no "all", on purpose)
        '["CAP_ALL"]', '["all"]', '"CAP_CHOWN"', "[99]", "[true]", "[1.0]",
    ],
)
def test_capabilities_may_never_be_widened_or_name_unknown_ones(
        tmp_path: Path, defaults: ContextConfig, configured: str) -> None:
    path = write_config(tmp_path, section(f"capabilities = {configured}\n"))
    with pytest.raises(PolicyError):
        resolve(SECTION, defaults, config_file=path)


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ('"sudo leastpriv-helper"', ("sudo", "leastpriv-helper")),
        ("\"sudo -u 'priv user' leastpriv-helper\"",
         ("sudo", "-u", "priv user", "leastpriv-helper")),
        ('["/usr/bin/leastpriv-helper", "--flag with spaces"]',
         ("/usr/bin/leastpriv-helper", "--flag with spaces")),
    ],
)
def test_helper_command_is_a_list_or_a_shell_split_string(
        tmp_path: Path, defaults: ContextConfig, configured: str,
        expected: tuple[str, ...]) -> None:
    path = write_config(tmp_path, section(f"helper_command = {configured}\n"))
    assert resolve(SECTION, defaults, config_file=path).helper_command == expected


@pytest.mark.parametrize(("configured", "expected"), [("23", 0o027), ('"027"', 0o027),
                                                      ('"0o077"', 0o077), ('"0"', 0)])
def test_umask_is_an_int_or_an_octal_string(
        tmp_path: Path, defaults: ContextConfig, configured: str, expected: int) -> None:
    path = write_config(tmp_path, section(f"umask = {configured}\n"))
    assert resolve(SECTION, defaults, config_file=path).umask == expected


@pytest.mark.parametrize(
    "setting",
    [
        "helper_command = []", 'helper_command = ""', "helper_command = [1]",
        "helper_command = \"sudo 'unclosed\"", "helper_command = 5",
        "user = 0", 'user = ""', "group = [\"a\"]", "logger_name = true",
        'thread_pool_size = "4"', "thread_pool_size = true", "thread_pool_size = 0",
        "thread_pool_size = 1.5",
        "timeout = -1", "timeout = 0", 'timeout = "30"', "timeout = inf", "timeout = nan",
        "timeout = false",
        'umask = "9"', 'umask = "0x1f"', 'umask = ""', "umask = 512", "umask = -1",
        "umask = true", "umask = 2.5",
        "max_frame_size = 10", "max_frame_size = 4294967296", 'max_frame_size = "16M"',
        'method = "spawn"', "method = 1",
    ],
)
def test_wrong_value_is_a_policy_error_naming_file_section_and_key(
        tmp_path: Path, defaults: ContextConfig, setting: str) -> None:
    path = write_config(tmp_path, section(setting + "\n"))
    with pytest.raises(PolicyError) as caught:
        resolve(SECTION, defaults, config_file=path)
    message = str(caught.value)
    assert str(path) in message
    assert SECTION in message
    assert setting.split(" = ")[0] in message


def test_unknown_key_is_refused(tmp_path: Path, defaults: ContextConfig) -> None:
    path = write_config(tmp_path, section('capabilites = ["CAP_CHOWN"]\n'))
    with pytest.raises(PolicyError) as caught:
        resolve(SECTION, defaults, config_file=path)
    assert "capabilites" in str(caught.value)


def test_section_that_is_not_a_table_is_refused(tmp_path: Path, defaults: ContextConfig) -> None:
    path = write_config(tmp_path, f'{SECTION} = "user=root"\n')
    with pytest.raises(PolicyError):
        resolve(SECTION, defaults, config_file=path)


# ---------------------------------------------------------------------------------------------
# Files that cannot be used


def test_malformed_toml_is_a_policy_error_naming_the_file(
        tmp_path: Path, defaults: ContextConfig) -> None:
    path = write_config(tmp_path, section("user = nova\n"))
    with pytest.raises(PolicyError) as caught:
        resolve(SECTION, defaults, config_file=path)
    assert str(path) in str(caught.value)


def test_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path, defaults: ContextConfig) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(f"[{SECTION}]\nuser = \"".encode() + b"\xe9\"\n")
    with pytest.raises(PolicyError):
        resolve(SECTION, defaults, config_file=path)


@pytest.mark.parametrize("name", ["missing.toml", "."])
def test_unreadable_file_is_a_policy_error_naming_it(
        tmp_path: Path, defaults: ContextConfig, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(PolicyError) as caught:
        resolve(SECTION, defaults, config_file=path)
    assert os.fspath(path) in str(caught.value)


def test_missing_file_named_by_the_environment_is_a_policy_error(
        tmp_path: Path, defaults: ContextConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "nowhere.toml"))
    with pytest.raises(PolicyError):
        resolve(SECTION, defaults)


@pytest.mark.parametrize("setting", ['socket_path = "/run/x.sock"', 'audit_log = "/var/log/x"',
                                     'method = "connect"'])
def test_settings_of_features_not_built_yet_are_refused(
        tmp_path: Path, defaults: ContextConfig, setting: str) -> None:
    path = write_config(tmp_path, section(setting))
    with pytest.raises(PolicyError):
        resolve(SECTION, defaults, config_file=path)


def test_config_is_an_immutable_value(defaults: ContextConfig) -> None:
    changed = defaults._replace(user="svc")
    assert changed == defaults._replace(user="svc") and hash(changed) == hash(
        defaults._replace(user="svc"))
    assert changed != defaults and defaults.user is None and changed.umask == 0o022
    assert repr(changed).startswith("ContextConfig(capabilities=frozenset(")
    assert "user='svc'" in repr(changed)
    assert copy.copy(changed) == changed == pickle.loads(pickle.dumps(changed))  # noqa: S301 - ours
    with pytest.raises(AttributeError):
        changed.user = "root"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del changed.user  # type: ignore[misc]
    with pytest.raises(ValueError):
        defaults._replace(no_such_field=1)
    with pytest.raises(TypeError):
        ContextConfig(capabilities=DECLARED)  # type: ignore[call-arg]


def test_every_setting_has_exactly_one_parser() -> None:
    assert set(config._PARSERS) == set(ContextConfig._fields)


def test_an_operator_declares_uid0_for_a_context_with_user_root(
        tmp_path: Path, defaults: ContextConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    # The one spelling that keeps a daemon uid 0, read alike from code and configuration.
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert not declares_uid0(resolve(SECTION, defaults).user)
    path = write_config(tmp_path, section('user = "root"\n'))
    assert declares_uid0(resolve(SECTION, defaults, config_file=path).user)
