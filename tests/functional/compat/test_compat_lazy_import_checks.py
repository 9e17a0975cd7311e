"""Under sudo a compat daemon imports a requested module only after checking every file its
import runs, the packages above it included (issue 8, deliverable 3; issue 9, deliverable 3).

``importlib.util.find_spec("pkg.sub.mod")`` imports ``pkg.sub`` to find ``mod``: a check that
asks find_spec for the module alone has run the parent package's ``__init__`` before it looks.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from system_users import made_user

cfg = pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
from oslo_config import fixture as cfg_fixture  # noqa: E402

from leastpriv.compat import priv_context  # noqa: E402
from leastpriv.errors import DaemonDied  # noqa: E402

pytestmark = [pytest.mark.functional,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs the helper as root")]
SRC = Path(__file__).parents[3] / "src"
PACKAGE = "lpplanted"

INIT = f"""
from leastpriv.compat import capabilities, priv_context

ctx = priv_context.PrivContext("{PACKAGE}", cfg_section="{PACKAGE}", pypath="{PACKAGE}.ctx",
                               capabilities=[capabilities.CAP_NET_ADMIN])
"""
PLANTED = """
import logging

logging.getLogger(__name__).warning("module %s imported", __name__)
"""


@pytest.fixture
def tree() -> Iterator[Path]:
    """A root-owned package below the context's prefix with a subpackage anyone could write."""
    root = Path(tempfile.mkdtemp(prefix="lp-plant-"))
    root.chmod(0o755)
    package = root / PACKAGE
    package.mkdir(mode=0o755)
    (package / "__init__.py").write_text(INIT)
    writable = package / "sub"
    writable.mkdir()
    writable.chmod(0o777)  # the service user could have put this __init__.py here
    (writable / "__init__.py").write_text(PLANTED)
    (writable / "mod.py").write_text("def anything():\n    return 1\n")
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    shutil.rmtree(root)


@pytest.fixture
def context(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[priv_context.PrivContext]:
    """The context's daemon, started by privsep-helper as under sudo (SUDO_UID faked: root)."""
    import lpplanted  # type: ignore[import-not-found]

    fixture = cfg_fixture.Config(cfg.CONF)
    fixture.setUp()
    monkeypatch.delenv("LEASTPRIV_CONFIG", raising=False)
    fixture.config(group=PACKAGE, helper_command=(
        f"env SUDO_UID=0 SUDO_GID=0 PYTHONPATH={tree}:{SRC} {sys.executable} -s "
        "-m leastpriv.compat.daemon"))
    lpplanted.ctx.start(priv_context.Method.ROOTWRAP)
    yield lpplanted.ctx
    lpplanted.ctx.stop()
    fixture.cleanUp()


def test_a_package_others_could_write_is_refused_before_its_init_runs(
        context: priv_context.PrivContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(DaemonDied):
        context.channel._launched.channel.call(f"{PACKAGE}.sub.mod.anything", {}, 5.0)
    assert not any(r.getMessage() == f"module {PACKAGE}.sub imported" for r in caplog.records)


BYTECODE_INIT = """
from leastpriv.compat import capabilities, priv_context

ctx = priv_context.PrivContext("lppyc", cfg_section="lppyc", pypath="lppyc.ctx",
                               capabilities=[capabilities.CAP_DAC_OVERRIDE])
"""
BYTECODE_LAZY = """
import lppyc


@lppyc.ctx.entrypoint
def answer():
    return 42
"""


@pytest.fixture
def bytecode_tree() -> Iterator[Path]:
    """A root-owned package (0755: only root may write it) whose daemon overrides file modes."""
    root = Path(tempfile.mkdtemp(prefix="lp-pyc-"))
    root.chmod(0o755)
    (root / "lppyc").mkdir(mode=0o755)
    (root / "lppyc" / "__init__.py").write_text(BYTECODE_INIT)
    (root / "lppyc" / "lazy.py").write_text(BYTECODE_LAZY)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [name for name in sys.modules if name.split(".")[0] == "lppyc"]:
        del sys.modules[name]
    shutil.rmtree(root)


def test_a_daemon_that_overrides_file_modes_writes_no_bytecode_into_roots_code(
        bytecode_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A daemon running as the service user with CAP_DAC_OVERRIDE that imports a module (lazily,
    # or stdlib inside a call) would write __pycache__ owned by that user into root's tree: the
    # user could then rewrite the bytecode every root process importing the module loads.
    import lppyc  # type: ignore[import-not-found]

    fixture = cfg_fixture.Config(cfg.CONF)
    fixture.setUp()
    monkeypatch.delenv("LEASTPRIV_CONFIG", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as in production (tests set -B)
    with made_user(f"lp-test-{secrets.token_hex(4)}") as user:
        try:
            fixture.config(group="lppyc", user=user)
            lppyc.ctx.start(priv_context.Method.FORK)
            assert lppyc.ctx.channel._launched.channel.call("lppyc.lazy.answer", {}, 10.0) == 42
        finally:
            lppyc.ctx.stop()
            fixture.cleanUp()
    owners = {path.relative_to(bytecode_tree): path.lstat().st_uid
              for path in bytecode_tree.rglob("*")}
    assert set(owners.values()) == {0}, owners
