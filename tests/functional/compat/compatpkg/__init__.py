"""Compat contexts for the functional tests, written as an OpenStack project writes them.

The exec helper imports this package (the contexts' pypath); `compatpkg.netops` and
`compatpkg.unlisted` are imported by the daemon only when a request names them.
"""

import os

from leastpriv.compat import capabilities, priv_context

netadmin = priv_context.PrivContext(
    "compatpkg",
    cfg_section="compat_netadmin",
    pypath="compatpkg.netadmin",
    capabilities=[capabilities.CAP_NET_ADMIN],
)

other = priv_context.PrivContext(
    "compatpkg",
    cfg_section="compat_other",
    pypath="compatpkg.other",
    capabilities=[capabilities.CAP_CHOWN],
)


@other.entrypoint
def other_pid():
    return os.getpid()
