"""The exceptions leastpriv raises.

::

    Error                          base of everything leastpriv raises itself
    ├── PolicyError                a context, entrypoint or config breaks the policy
    ├── ContractViolation          an argument is outside its function's contract (ValueError)
    ├── RemoteError                the privileged function raised a class the caller cannot rebuild
    ├── ProtocolError              the channel carried something a correct peer never sends
    ├── DaemonStartError           the privileged daemon could not be started or set up
    ├── DaemonDied                 the daemon went away while a call was waiting for it
    ├── CallTimeout                a call did not get its reply in time (TimeoutError)
    └── NestedCallRefused          a daemon's function called another context it may not start

Exceptions raised *by the privileged function itself* are re-raised in the caller as the same class
when that class is a builtin or already imported there; only the rest become `RemoteError`.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every exception leastpriv raises itself."""


class PolicyError(Error):
    """Raised when a context, an entrypoint or a configuration breaks leastpriv's policy."""


class ContractViolation(Error, ValueError):
    """Raised when an argument falls outside the contract its function declared.

    `function`, `parameter` and `rule` say which function, which parameter and which rule.
    """

    def __init__(self, function: str, parameter: str, rule: str) -> None:
        super().__init__(f"{function}: argument {parameter!r} violates its contract: {rule}")
        self.function = function
        self.parameter = parameter
        self.rule = rule

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.function, self.parameter, self.rule))


class RemoteError(Error):
    """Raised when the privileged function raised a class the caller does not have loaded.

    `class_name` is the qualified name of the remote class, `message` its text and
    `remote_traceback` the daemon-side traceback text.
    """

    def __init__(self, class_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{class_name}: {message}")
        self.class_name = class_name
        self.message = message
        self.remote_traceback = remote_traceback


class ProtocolError(Error):
    """Raised when a frame is malformed, oversized, of an unknown kind or names no entrypoint."""


class DaemonStartError(Error):
    """Raised when the privileged daemon could not be launched or failed while setting itself up."""


class DaemonDied(Error):
    """Raised for every call in flight when the daemon's channel closes before it replied."""


class CallTimeout(Error, TimeoutError):
    """Raised when a call's reply did not arrive within its timeout."""


class NestedCallRefused(Error):
    """Raised inside a daemon when one of its functions calls an entrypoint of another context
    that its own context does not list in `may_start`: a daemon never starts another by accident.
    """
