"""A context's daemon as its caller sees it: started on first use, replaced after a death, stopped.

`DaemonHandle` is the caller's half of a `leastpriv.PrivContext`: which launch method started the
daemon, its channel, and each call's timeout. A context makes its handle at its first call through
the channel (or `start()`); a daemon never makes one (a forked daemon sets its parent's aside),
unless one of its functions calls a context its own lists in `may_start`. So the exec helper and
its daemon never load this module, nor the client and launchers it imports.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from leastpriv import caps, config
from leastpriv.context import DEFAULT_CALL_TIMEOUT
from leastpriv.errors import Error, PolicyError
from leastpriv.unprivileged import NotSent, launch

if TYPE_CHECKING:
    from leastpriv.context import Entrypoint, PrivContext


class DaemonHandle:
    """The daemon of one context, from the caller's side: launch, calls, restart, stop."""

    def __init__(self, context: PrivContext) -> None:
        self._context = context
        self._lock = threading.RLock()  # start, stop and restart
        self.launched: launch.Launched | None = None
        self.config: config.ContextConfig | None = None
        self.method: str | None = None  # the method a restart after death must use again
        _handles.add(self)

    def forget_after_fork(self) -> None:
        """In a child of fork: set the parent's daemon aside, never used or closed (both processes
        reading one socket take each other's replies, and closing shuts it down for the parent);
        the child's first call starts a daemon of its own. Its lock, maybe held by a thread that
        did not survive the fork, is replaced."""
        _parents_daemons.append(self.launched)
        self.launched = None
        self._lock = threading.RLock()

    def call(self, entry: Entrypoint, payload: dict[str, Any]) -> Any:
        """`entry`'s reply to the checked `payload`, from the daemon (started or replaced first
        when needed)."""
        launched = self.launched
        if (launched is None or launched.channel.dead
                or entry.name not in launched.hello.entrypoints):
            launched = self._ensure_daemon(entry.name)
        timeout = entry.timeout if entry.timeout is not None else self.timeout()
        try:
            return launched.channel.call(entry.name, payload, timeout)
        except NotSent:
            # The daemon was gone before the request left; nothing ran, so a fresh one may.
            return self._ensure_daemon(entry.name).channel.call(entry.name, payload, timeout)

    def timeout(self) -> float:
        """A call's bound when its entrypoint sets none: the context's, else the default."""
        cfg = self.config
        configured = cfg.timeout if cfg is not None else self._context._defaults.timeout
        return configured if configured is not None else DEFAULT_CALL_TIMEOUT

    def _ensure_daemon(self, entry_name: str) -> launch.Launched:
        with self._lock:
            launched = self.launched
            if launched is not None and not launched.channel.dead:
                if entry_name in launched.hello.entrypoints:
                    return launched
                if launched.method != "fork":
                    raise Error(f"{entry_name} is not served by the {self._context.name} daemon: "
                                "define it in the module that defines the context, which the "
                                "helper imports")
            # Dead, or forked before this entrypoint was registered: replace it.
            self._stop_locked()
            return self._start_locked(self.method)

    def start(self, method: str | None) -> None:
        """Start the daemon unless it runs: `method` "fork" or "exec", or None to choose."""
        if method is not None and method not in config.METHODS:
            raise PolicyError(f"unknown launch method {method!r}")
        with self._lock:
            if self.launched is not None and not self.launched.channel.dead:
                return
            self._stop_locked()
            self._start_locked(method)

    def _start_locked(self, method: str | None) -> launch.Launched:
        context = self._context
        # Read lazily, so a service can set LEASTPRIV_CONFIG before its first call.
        cfg = self.config = config.resolve(context.cfg_section, context._defaults)
        chosen = method or choose_method(cfg)
        if chosen == "fork":
            launched = launch.fork_daemon(context.name, context.registry, cfg)
        else:
            reference = launch.context_reference(context._module, context)
            launched = launch.exec_daemon(context.name, reference, cfg,
                                          os.environ.get(config.CONFIG_ENV) or None)
        self.launched = launched
        self.method = chosen
        return launched

    def stop(self) -> None:
        """Stop the daemon (it sees its channel close and exits); the next call starts a new one."""
        with self._lock:
            self._stop_locked()
            self.method = None

    def _stop_locked(self) -> None:
        launched, self.launched = self.launched, None
        if launched is not None:
            launched.channel.close()
            launched.reap()

    @property
    def running(self) -> bool:
        launched = self.launched
        return launched is not None and not launched.channel.dead

    @property
    def pid(self) -> int | None:
        launched = self.launched
        return launched.pid if launched is not None and not launched.channel.dead else None


# Every handle of this process, and the parent's daemons a forked child set aside: kept referenced
# and untouched, as a forked daemon keeps its parent's (`leastpriv.context.become_daemon_of`).
_handles: weakref.WeakSet[DaemonHandle] = weakref.WeakSet()
_parents_daemons: list[object] = []


def _after_fork_in_child() -> None:
    for handle in list(_handles):
        handle.forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def choose_method(cfg: config.ContextConfig) -> str:
    """fork when this process holds what the drop needs, else the configured method or exec."""
    held = caps.read_process_capabilities().effective
    needed = set(cfg.capabilities) | {caps.CAP_SETPCAP}  # SETPCAP: shrink the bounding set
    if cfg.user is not None or cfg.group is not None:
        needed |= {caps.CAP_SETUID, caps.CAP_SETGID}
    if needed <= held:
        return "fork"
    return cfg.method or "exec"
