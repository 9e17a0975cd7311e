"""The caller's side: the channel client and the daemon launchers."""

from leastpriv.errors import DaemonDied


class NotSent(DaemonDied):
    """The channel was already dead before the request left: it is safe to retry elsewhere.

    Defined here, not in the client module, so that `leastpriv.context` can catch it without
    importing the client: a daemon (the exec helper) imports the context but never a client.
    """
