"""leastpriv: privilege separation with small capability contexts and narrow, checked contracts."""

from leastpriv import caps, contract
from leastpriv.context import PrivContext
from leastpriv.errors import (
    CallTimeout,
    ContractViolation,
    DaemonDied,
    DaemonStartError,
    Error,
    NestedCallRefused,
    PolicyError,
    ProtocolError,
    RemoteError,
)

__all__ = [
    "CallTimeout",
    "ContractViolation",
    "DaemonDied",
    "DaemonStartError",
    "Error",
    "NestedCallRefused",
    "PolicyError",
    "PrivContext",
    "ProtocolError",
    "RemoteError",
    "caps",
    "contract",
]
