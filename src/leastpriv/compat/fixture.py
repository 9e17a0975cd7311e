"""`UnprivilegedPrivsepFixture`: oslo.privsep's test fixture for a compat context.

It starts the context's daemon by fork with no capabilities and no user or group change, so a
project's tests run their privileged functions in a real, separate, powerless daemon, as whoever
runs them: a user who is not root gets a daemon of its own uid holding nothing, with no_new_privs
set and its bounding set left as the user's (shrinking it takes CAP_SETPCAP; with nothing
permitted, no exec can use it). Needs the ``fixtures`` package, as oslo.privsep's does.
"""

from __future__ import annotations

from typing import Any

import fixtures
from oslo_config import fixture as cfg_fixture

from leastpriv.compat.priv_context import Method, PrivContext

__all__ = ["UnprivilegedPrivsepFixture"]


class UnprivilegedPrivsepFixture(fixtures.Fixture):
    """Starts `context`'s daemon forked, holding nothing; `config_override`: [privsep] values."""

    def __init__(self, context: PrivContext, config_override: dict[str, Any]) -> None:
        self.context = context
        self.config_override = config_override

    def setUp(self) -> None:
        super().setUp()
        self.conf = self.useFixture(cfg_fixture.Config()).conf
        self.conf.set_override("capabilities", [], group=self.context.cfg_section)
        for key in ("user", "group"):
            self.conf.set_override(key, None, group=self.context.cfg_section)
        for key, value in self.config_override.items():
            self.conf.set_override(key, value, group="privsep")
        # The forked daemon never returns into this code (leastpriv's launcher sees to it).
        self.context.start(method=Method.FORK)
        self.addCleanup(self.context.stop)
