"""What a compat daemon imports and serves for the names a hostile caller sends (issue 9,
deliverable 3): only entrypoints registered on that very context; no module outside its prefix
(``compatpkg_evil`` shares the prefix's spelling, not its package) is ever imported."""

# ruff: noqa: F811 - fixtures imported from test_compat_functional are parameters by that name

from __future__ import annotations

import logging

import pytest

pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
from test_compat_functional import (  # noqa: F401 - the fixtures and their helpers
    _imported,
    _raw_call,
    daemon_user,
    marks,
    started,
)

from leastpriv.compat import priv_context
from leastpriv.errors import DaemonDied

pytestmark = pytest.mark.functional

REFUSED = [
    "os.system",                          # a stdlib function
    "compatpkg_evil.anything",            # the prefix's spelling without its dot
    "compatpkg/../compatpkg_evil.anything",
    "compatpkg..compatpkg_evil.anything",
    ".compatpkg_evil.anything",           # a relative import
    "compatpkg.other_pid",                # an entrypoint of another context in the same package
    "compatpkg.__init__.other_pid",       # the package run again under another module name
    "compatpkg.netops.getpid.__call__",   # an attribute chain past an entrypoint
    "compatpkg.n\u0435tops.getpid",       # a Cyrillic e in the module's name
    "compatpkg.netops.g\uff45tpid",        # a fullwidth e in the function's name (NFKC: getpid)
]


@pytest.mark.parametrize("name", REFUSED)
def test_a_name_that_is_no_entrypoint_of_this_context_is_refused(
        started: priv_context.PrivContext, caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(DaemonDied):
        _raw_call(started, name)
    assert not _imported(caplog, "compatpkg_evil")
