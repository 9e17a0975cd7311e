"""The caller's side: a context's daemon lifecycle, the channel client, the launchers.

The exec helper and its daemon never load it, unless the daemon starts another context's daemon
(its context lists that one in `may_start`).
"""

from leastpriv.errors import DaemonDied


class NotSent(DaemonDied):
    """The channel was already dead before the request left: it is safe to retry elsewhere.

    Defined here, not in the client module, so that what catches it (`lifecycle`, the oslo.privsep
    compatibility layer) need not name the client's module to do so.
    """
