"""The caller's side under eventlet: telling the hub is in use, waiting through it, leaving it.

`eventlet.monkey_patch()` turns threads into green threads that one OS thread runs in turn, each
until it waits: a wait that blocks the OS thread (`select.poll`, which eventlet removes for that
reason, a real lock, a spin) stops every green thread. So a channel opened while the hub is in use
waits through the hub (`HubWait`, on a `GreenSocket`), never polls or spins, and makes its locks
when it is opened, so they are eventlet's too. Without eventlet, or with eventlet loaded but not
patched, nothing here runs and a channel waits as `wire.SpinWait` does.

A forked daemon must *leave* the hub (`leave_hub`): after fork the child still holds every green
thread of the application, suspended in the hub (eventlet empties `threading._after_fork` so that
green threads survive a fork), and the first wait that switched to the hub would run the
application's code in the daemon, with its privileges. The child puts back the real modules
(threads, sockets, select, time, os, subprocess, ...) before the daemon makes any thread, lock or
socket, drops the inherited hub, and serves on the real socket underneath its channel's
`GreenSocket`. The exec helper is a fresh interpreter that never imports eventlet.
"""

from __future__ import annotations

import builtins
import io
import socket
import sys
from types import ModuleType
from typing import Any

# What eventlet.monkey_patch() can patch, by its keyword, and the modules each keyword patches
# (its own table, in eventlet.patcher): the modules a forked daemon puts back.
_PATCHED_MODULES = {
    "os": ("os",),
    "select": ("select", "selectors"),
    "socket": ("socket", "ssl"),
    "thread": ("queue", "_thread", "threading"),
    "time": ("time",),
    "subprocess": ("subprocess",),
}
# The green module that holds each one's replacements (its __patched__ and __deleted__ names).
_GREEN_NAMES = {"queue": "Queue", "_thread": "thread"}
# Set in a forked daemon once it left the hub: eventlet's own record still says "patched".
_left = False


def hub_in_use() -> bool:
    """Whether calls made now must wait through eventlet's hub: eventlet patched sockets, select
    or threads in this process (and this process is not a daemon that left the hub)."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or _left:
        return False
    return any(patcher.is_monkey_patched(name) for name in ("socket", "select", "thread"))


def cooperative(sock: socket.socket) -> Any:
    """`sock` as a socket whose waits switch to the hub (a `GreenSocket`, as eventlet's patched
    socket module makes them; one made before the patching is wrapped)."""
    from eventlet.greenio import GreenSocket

    return sock if isinstance(sock, GreenSocket) else GreenSocket(sock)


class _TimedOut(Exception):
    """The hub's timer for one `HubWait.wait` went off (never leaves `wait`)."""


class HubWait:
    """Waits for a socket to become readable through eventlet's hub: the green thread waits, the
    others run. `wire.FrameReader`'s waiter under eventlet, in place of `wire.SpinWait`.

    `enabled` is False: the reader then receives at once, in `GreenSocket.recv_into`, which waits
    through the hub itself when no data is there yet. Only the thread holding a channel's read
    role waits on it (the hub allows one green thread waiting to read a descriptor).
    """

    enabled = False

    def __init__(self, sock: Any) -> None:
        from eventlet import patcher
        from eventlet.hubs import trampoline

        self._fd = sock.fileno()
        self._trampoline = trampoline
        # Only for a wait of no time: a look, without switching to the hub (whose timers run
        # before it looks at descriptors, so a zero timeout would never see data already there).
        self._select = patcher.original("select").select

    def wait(self, timeout: float | None, *, spin: bool = True) -> bool:  # noqa: ARG002 - below
        """Wait up to `timeout` seconds (None: until data or EOF) for data; False when none came.

        `spin` is accepted for `wire.SpinWait`'s sake: nothing spins here.
        """
        if timeout is not None and timeout <= 0:
            return bool(self._select([self._fd], [], [], 0)[0])
        try:
            self._trampoline(self._fd, read=True, timeout=timeout, timeout_exc=_TimedOut)
        except _TimedOut:
            return False
        except OSError:  # the descriptor was closed under the wait: the read that follows fails
            return True
        return True


def before_fork() -> None:
    """In the parent, before forking a daemon: load the real modules the child will put back, so
    that the child, which must not import anything while it still has the hub, finds them."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None:
        return
    for name in {*_patched_modules(patcher), "threading", "queue"}:
        patcher.original(name)


def leave_hub(sock: socket.socket) -> socket.socket:
    """In a forked daemon, first thing: put the real modules back, forget the inherited hub, and
    return the real, blocking socket under `sock`. Does nothing without eventlet's patching."""
    global _left
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or _left or not any(map(patcher.is_monkey_patched, _PATCHED_MODULES)):
        return sock
    from eventlet.greenio import GreenSocket  # loaded already: the hub is in use

    for name in _patched_modules(patcher):
        _restore(sys.modules[name], patcher.original(name),
                 sys.modules[f"eventlet.green.{_GREEN_NAMES.get(name, name)}"])
    real_threading = patcher.original("threading")
    # Set by monkey_patch() itself, whatever it patched, outside the green modules' lists.
    threading_module: Any = sys.modules["threading"]
    threading_module.RLock = real_threading.RLock
    queue_module: Any = sys.modules.get("queue")
    if queue_module is not None:
        queue_module.SimpleQueue = patcher.original("queue").SimpleQueue
    if patcher.is_monkey_patched("builtins"):  # only open(), and only when asked for
        builtins.open = io.open
    logging = sys.modules.get("logging")
    if logging is not None:
        # monkey_patch() made logging's module lock green; the daemon's threads share it.
        logging._lock = real_threading.RLock()  # type: ignore[attr-defined]
    # The hub and its green threads stay in memory, never switched to: a hub made later (by a
    # privileged function that calls eventlet) is a new, empty one.
    hubs = sys.modules["eventlet.hubs"]
    if hasattr(hubs._threadlocal, "hub"):
        del hubs._threadlocal.hub
    _left = True
    inner: Any = sock
    while isinstance(inner, GreenSocket):  # it holds the socket it wraps (even a green one) as fd
        inner = inner.fd
    # A new socket object on the descriptor, taken from the old ones: a GreenSocket closes what
    # it wraps when it is freed, and the caller drops `sock`.
    real = socket.socket(fileno=inner.detach())
    real.setblocking(True)
    return real


def _patched_modules(patcher: ModuleType) -> list[str]:
    """The names of the loaded modules that eventlet patched in this process."""
    return [name for keyword, names in _PATCHED_MODULES.items()
            if patcher.is_monkey_patched(keyword)
            for name in names if name in sys.modules]


def _restore(module: ModuleType, original: ModuleType, green: ModuleType) -> None:
    """Put `original`'s attributes back into `module` wherever `green` had replaced or deleted
    them (in place: every module that imported `module` sees the real ones again)."""
    for name in (*getattr(green, "__patched__", ()), *getattr(green, "__deleted__", ())):
        if hasattr(original, name):
            setattr(module, name, getattr(original, name))
        elif hasattr(module, name):
            delattr(module, name)
