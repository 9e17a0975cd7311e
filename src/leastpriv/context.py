"""`PrivContext`: a named set of capabilities, its registry of entrypoints and its one daemon.

    files = PrivContext("myservice.files", capabilities=[caps.CAP_CHOWN])

    @files.entrypoint
    def chown_log_privileged(path: Annotated[str, PathUnder("/var/lib/myservice")],
                             uid: Annotated[int, Range(1000, 65533)]) -> None:
        os.chown(path, uid, -1)

Decoration checks the policy and compiles the function's contract once, and records the function
in this context's registry; the daemon serves exactly the names in that registry. The daemon
starts on the first call (or `start()`); a dead daemon is replaced on the next call by the same
launch method that started the first one. That half, the caller's, is
`leastpriv.unprivileged.lifecycle`, loaded at the first call through the channel: the exec helper,
which imports this module to read its context, never loads it.

Inside a daemon, an entrypoint that a privileged function calls runs in that very thread when it
belongs to the daemon's own context (the process holds what it needs; a call back through the
channel would wait for itself), and is refused with `NestedCallRefused` when it belongs to another
context, unless the daemon's context lists that one in `may_start`.
"""

from __future__ import annotations

import functools
import shlex
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from leastpriv import caps, config
from leastpriv.caps import Capability
from leastpriv.contract import Contract
from leastpriv.errors import NestedCallRefused, PolicyError

if TYPE_CHECKING:
    from leastpriv.unprivileged.lifecycle import DaemonHandle

F = TypeVar("F", bound=Callable[..., Any])

POLICIES = ("strict", "warn")
PRIVILEGED_SUFFIX = "_privileged"
# Seconds a call waits for its reply when neither the entrypoint, the context nor its
# configuration says: no call waits for ever (a daemon that dies is noticed at once, from its
# channel; one whose function hangs, by this bound). Long, because privileged work can be slow
# (an image conversion, an iSCSI login with retries); a context that needs longer says so.
DEFAULT_CALL_TIMEOUT = 600.0

# Every context made in this process, so that a process that becomes a daemon can find its own.
_contexts: weakref.WeakSet[PrivContext] = weakref.WeakSet()
# Set once this process is a daemon (`become_daemon_of`): the context it serves, and the other
# contexts whose daemons it may start.
_served: str | None = None
_may_start: frozenset[str] = frozenset()
# The daemon handles (and their channels) a forked daemon inherited from its parent: kept
# referenced, never used or closed (their descriptors are closed already, and closing a socket
# object by then would close whatever descriptor the daemon has reused its number for).
_inherited: list[object] = []


class Entrypoint(NamedTuple):
    """One registered function: the name the channel carries, the function, its contract."""

    name: str
    function: Callable[..., Any]
    contract: Contract
    timeout: float | None


class PrivContext:
    """A privilege context: declared capabilities, registered entrypoints, one daemon."""

    def __init__(
        self,
        name: str,
        *,
        capabilities: Iterable[Capability | int | str],
        cfg_section: str | None = None,
        user: str | None = None,
        group: str | None = None,
        timeout: float | None = None,
        logger_name: str | None = None,
        helper_command: Sequence[str] | str | None = None,
        thread_pool_size: int | None = None,
        may_start: Iterable[str] = (),
        policy: str = "strict",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise PolicyError("a context needs a non-empty name")
        if policy not in POLICIES:
            raise PolicyError(f"policy must be one of {POLICIES}, not {policy!r}")
        if isinstance(capabilities, (str, bytes)):
            raise PolicyError("capabilities must be a list of capabilities, not one string")
        if timeout is not None:
            timeout = _seconds(timeout)
        if isinstance(may_start, (str, bytes)) or not all(
                isinstance(other, str) and other for other in may_start):
            raise PolicyError("may_start must be a list of context names")
        # No default and no "all": a context names each capability it needs.
        declared = frozenset(caps.parse(cap) for cap in capabilities)
        if isinstance(helper_command, str):
            helper_command = shlex.split(helper_command)
        self.name = name
        self.cfg_section = cfg_section or name.replace(".", "_")
        self.policy = policy
        # The contexts whose daemons this context's daemon may start, to call their entrypoints.
        self.may_start = frozenset(may_start)
        self._defaults = config.ContextConfig(
            capabilities=declared,
            helper_command=tuple(helper_command) if helper_command else None,
            user=user, group=group, thread_pool_size=thread_pool_size,
            logger_name=logger_name, timeout=timeout,
        )
        # Where the context lives, so the exec helper can import it (trusted, from our argv).
        self._module = sys._getframe(1).f_globals.get("__name__", "__main__")
        self._registry: dict[str, Entrypoint] = {}
        self._lock = threading.RLock()  # the registry, and making the daemon handle
        self._daemon: DaemonHandle | None = None  # the caller's half, made at the first call
        self._client_mode = True
        _contexts.add(self)

    def __repr__(self) -> str:
        return f"<PrivContext {self.name} {caps.names(self._defaults.capabilities)}>"

    # --- decoration ---------------------------------------------------------------------------

    def entrypoint(self, func: F) -> F:
        """Register `func` to run in this context's daemon; checks the policy now."""
        return self._register(func, timeout=None)

    def entrypoint_with_timeout(self, seconds: float) -> Callable[[F], F]:
        """Like `entrypoint`, with a per-call timeout of `seconds` (over the context's own)."""
        return functools.partial(self._register, timeout=_seconds(seconds))

    def _register(self, func: F, *, timeout: float | None) -> F:
        strict = self.policy == "strict"
        if not func.__name__.endswith(PRIVILEGED_SUFFIX):
            message = (f"{func.__module__}.{func.__qualname__}: an entrypoint's name must end in "
                       f"{PRIVILEGED_SUFFIX!r}, so every call site shows that it crosses into "
                       "privilege")
            if strict:
                raise PolicyError(message)
            warnings.warn(message, stacklevel=3)
        contract = Contract.of(func, strict=strict)
        entry = Entrypoint(f"{func.__module__}.{func.__qualname__}", func, contract, timeout)
        with self._lock:
            if entry.name in self._registry:
                raise PolicyError(f"{entry.name} is already registered on {self.name}")
            self._registry[entry.name] = entry

        @functools.wraps(func)
        def call_privileged(*args: Any, **kwargs: Any) -> Any:
            return self._call(entry, args, kwargs)

        call_privileged.__leastpriv_context__ = self  # type: ignore[attr-defined]
        return call_privileged  # type: ignore[return-value]

    # --- calls ------------------------------------------------------------------------------

    def _call(self, entry: Entrypoint, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        payload = entry.contract.bind(args, kwargs)  # early, clear error before anything is sent
        if not self._client_mode or _served == self.name:
            # Here, in this thread: client mode off (tests), or a nested call inside this
            # context's own daemon. The contract is checked all the same.
            in_process_args, in_process_kwargs = entry.contract.unbind(payload)
            return entry.function(*in_process_args, **in_process_kwargs)
        if _served is not None and self.name not in _may_start:
            raise NestedCallRefused(
                f"{entry.name} belongs to context {self.name}, which the {_served} daemon may "
                "not start (a daemon starts another only when its context lists it in "
                "may_start)")
        return (self._daemon or self._daemon_handle()).call(entry, payload)

    def _daemon_handle(self) -> DaemonHandle:
        # Imported here: the caller's half (its client, the launchers and what they import) is
        # never loaded by the exec helper, nor by a daemon unless it starts a context its own lists
        # in may_start.
        from leastpriv.unprivileged.lifecycle import DaemonHandle

        with self._lock:
            if self._daemon is None:
                self._daemon = DaemonHandle(self)
            return self._daemon

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, method: str | None = None) -> None:
        """Start the daemon now (normally the first call does): "fork" or "exec"."""
        self._daemon_handle().start(method)

    def stop(self) -> None:
        """Stop the daemon (it sees its channel close and exits); the next call starts a new one."""
        daemon = self._daemon
        if daemon is not None:
            daemon.stop()

    def set_client_mode(self, enabled: bool) -> None:
        """False runs the entrypoints in this process (contracts still checked), for unit tests."""
        self._client_mode = bool(enabled)

    @property
    def client_mode(self) -> bool:
        """True (the default) when calls go to the daemon; False when they run in this process."""
        return self._client_mode

    @property
    def running(self) -> bool:
        daemon = self._daemon
        return daemon is not None and daemon.running

    @property
    def daemon_pid(self) -> int | None:
        daemon = self._daemon
        return daemon.pid if daemon is not None else None

    @property
    def registry(self) -> dict[str, Entrypoint]:
        """A copy of the registry: the names this context's daemon serves."""
        return dict(self._registry)

    def daemon_spec(self, config_file: str | None) -> tuple[dict[str, Entrypoint],
                                                             config.ContextConfig]:
        """What a helper process needs to serve this context: the registry and the config."""
        return dict(self._registry), config.resolve(self.cfg_section, self._defaults,
                                                    config_file=config_file)


def _seconds(value: object) -> float:
    """A timeout: a finite, positive number of seconds (no call may wait for ever)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value < float("inf")):
        raise PolicyError(f"timeout must be a positive number of seconds, not {value!r}")
    return float(value)


def become_daemon_of(name: str) -> None:
    """Make this process the daemon of the context named `name` (the daemon calls it, once,
    before it serves, while it is still one thread).

    From then on an entrypoint of `name` runs in the thread that calls it, and one of another
    context only when `name`'s context lists it in `may_start`. What a forked daemon inherited
    from its parent — other contexts' daemons and channels, locks that threads which did not
    survive the fork may hold — is set aside, never used: a context the daemon may start starts
    its own daemon afresh.
    """
    global _served, _may_start
    allowed: set[str] = set()
    for context in list(_contexts):
        if context.name == name:
            allowed |= context.may_start
        _inherited.append(context._daemon)
        context._daemon = None
        context._lock = threading.RLock()
    _served, _may_start = name, frozenset(allowed)
