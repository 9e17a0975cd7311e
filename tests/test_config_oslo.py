"""Unit tests of the oslo.config layer (`leastpriv.config_oslo`), through `leastpriv.config.resolve`
as a context reads it. They run where oslo.config is installed; leastpriv does not depend on it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leastpriv import PolicyError, caps
from leastpriv.config import CONFIG_ENV, resolve
from test_config import (
    DEFAULTS,
    SECTION,
    no_config_from_environment,  # noqa: F401 - autouse: pytest runs it by name
    write_config,
)


def test_oslo_config_is_never_imported_for_an_application_that_does_not_use_it(
        tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from leastpriv import caps
        from leastpriv.config import ContextConfig, resolve
        defaults = ContextConfig(frozenset({{caps.CAP_CHOWN}}), None, None, None, None, None,
                                 None, None, None)
        resolve({SECTION!r}, defaults)
        assert not any(name.startswith("oslo_config") for name in sys.modules), "imported"
    """)
    env = {**os.environ}
    env.pop(CONFIG_ENV, None)
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path)


@pytest.fixture
def oslo_cfg() -> Iterator[Any]:
    cfg = pytest.importorskip("oslo_config.cfg")
    yield cfg
    cfg.CONF.clear()


def parse_oslo(cfg: Any, tmp_path: Path, text: str) -> None:
    path = tmp_path / "service.conf"
    path.write_text(textwrap.dedent(text))
    cfg.CONF(["--config-file", str(path)], project="leastpriv-test", default_config_files=[])


def test_oslo_config_values_the_operator_set_override_the_toml_file(
        oslo_cfg: Any, tmp_path: Path) -> None:
    group = "oslo_override"
    toml = write_config(tmp_path, f'[{group}]\nuser = "from-toml"\ngroup = "from-toml"\n')
    resolve(group, DEFAULTS)  # registers the options, as a context does before CONF is parsed
    parse_oslo(oslo_cfg, tmp_path, f"""
        [{group}]
        user = from-oslo
        capabilities = CAP_CHOWN
        helper_command = sudo -n leastpriv-helper
        umask = 027
        timeout = 2.5
    """)
    resolved = resolve(group, DEFAULTS, config_file=toml)
    assert resolved == DEFAULTS._replace(
        user="from-oslo", group="from-toml", capabilities=frozenset({caps.CAP_CHOWN}),
        helper_command=("sudo", "-n", "leastpriv-helper"), umask=0o027, timeout=2.5)


def test_oslo_config_option_defaults_do_not_override_anything(
        oslo_cfg: Any, tmp_path: Path) -> None:
    group = "oslo_defaults"
    # An option registered by someone else with a default, as oslo.privsep registers its own.
    oslo_cfg.CONF.register_opt(oslo_cfg.IntOpt("thread_pool_size", default=8), group=group)
    parse_oslo(oslo_cfg, tmp_path, f"[{group}]\n")
    assert resolve(group, DEFAULTS) == DEFAULTS


def test_oslo_config_reads_options_registered_with_their_own_types(
        oslo_cfg: Any, tmp_path: Path) -> None:
    group = "oslo_foreign"
    oslo_cfg.CONF.register_opt(
        oslo_cfg.ListOpt("capabilities", item_type=oslo_cfg.types.Integer(), default=[]),
        group=group)
    parse_oslo(oslo_cfg, tmp_path, f"[{group}]\ncapabilities = 1\nthread_pool_size = 3\n")
    resolved = resolve(group, DEFAULTS)
    assert resolved.capabilities == frozenset({caps.CAP_DAC_OVERRIDE})
    assert resolved.thread_pool_size == 3


def test_oslo_config_cannot_widen_capabilities(
        oslo_cfg: Any, tmp_path: Path) -> None:
    group = "oslo_widen"
    resolve(group, DEFAULTS)
    parse_oslo(oslo_cfg, tmp_path, f"[{group}]\ncapabilities = CAP_CHOWN,CAP_SYS_ADMIN\n")
    with pytest.raises(PolicyError) as caught:
        resolve(group, DEFAULTS)
    assert "capabilities" in str(caught.value)
