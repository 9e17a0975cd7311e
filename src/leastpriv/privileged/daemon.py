"""The privileged daemon: check the peer, drop to the declared set, then serve one channel.

Every request is handled in the same order (OpenSSH's monitor): decode -> look the name up in the
registry filled at decoration time -> check the contract -> act -> reply. A request that a correct
client never sends (malformed or oversize frame, unknown kind, unregistered name) is a protocol
failure: it is logged once and the connection is closed at once; nothing tries to "recover".
The daemon exits when its channel closes. Which thread reads, runs and replies, and what each may
touch, is `leastpriv.privileged.scheduler`'s model.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Protocol

from leastpriv import caps, paths, wire
from leastpriv.config import ContextConfig
from leastpriv.context import become_daemon_of
from leastpriv.errors import Error, ProtocolError

# At the top, not in set_up: a forked child then finds it loaded in the parent (imported once,
# there) instead of importing it again on every start.
from leastpriv.privileged.privileges import describe, drop_privileges
from leastpriv.privileged.scheduler import Scheduler

LOG = logging.getLogger("leastpriv.daemon")

# EX_SOFTWARE: the process could not set itself up; the reason went over the channel.
EXIT_SETUP_FAILED = 70
DEFAULT_THREAD_POOL_SIZE = 8
_RET, _ERR, _PONG = wire.Kind.RET.value, wire.Kind.ERR.value, wire.Kind.PONG.value


class Entry(Protocol):
    """What the daemon needs of a registered entrypoint (it only reads them)."""

    @property
    def name(self) -> str: ...
    @property
    def function(self) -> Callable[..., Any]: ...
    @property
    def contract(self) -> Any: ...  # leastpriv.contract.Contract: unbind(payload) -> (args, kwargs)


class Daemon:
    """Serves one connected channel: decodes requests, runs them, replies (the `Channel` of its
    `Scheduler`, which decides which thread does each)."""

    def __init__(self, sock: socket.socket, registry: Mapping[str, Entry],
                 config: ContextConfig) -> None:
        self._sock = sock
        self._registry = registry
        self._max = config.max_frame_size
        self._reader = wire.FrameReader(sock, self._max)
        # The reader's own methods, called by the read role's holder only. An OSError from a
        # read (the channel is gone) stops serving like EOF does.
        self.read: Callable[[], list[Any] | None] = self._reader.read_message
        self.buffered: Callable[[], bool] = self._reader.has_frame
        self._send_lock = threading.Lock()  # guards _packer and _outbox
        self._packer = wire.new_packer()
        # Frames held back to go out with the next one (never a view of the packer's buffer).
        self._outbox: list[bytes | memoryview] = []
        self._scheduler = Scheduler(self, config.thread_pool_size or DEFAULT_THREAD_POOL_SIZE)

    def serve(self) -> None:
        """Serve until the channel closes or a protocol failure closes it."""
        self._scheduler.serve()

    # --- the Channel the scheduler drives -------------------------------------------------------

    def slow_key(self, request: list[Any]) -> str | None:
        return _registered_name(request, self._registry)

    def send(self, message: list[Any], *, hold: bool = False) -> None:
        """Send one message (and any held back before it); `hold`: only queue it for the next.

        A large reply (over `wire.JOIN_LIMIT`) is never held: it goes out at once, straight from
        the packer's buffer, which saves copying it.

        A reply that cannot travel (too large for a frame, nested too deep or holding too many
        values for the other end to accept, or a value msgpack cannot carry, such as an object a
        privileged function returned by mistake) is replaced by an error reply, so the caller
        learns why and the worker thread lives on.
        """
        # acquire()/release(), not `with`: this runs for every call, and `with` costs more.
        self._send_lock.acquire()
        try:
            try:
                parts = wire.pack_frame(self._packer, message, self._max)
            except (ProtocolError, TypeError, ValueError, OverflowError) as exc:
                reason = Error(f"the reply cannot be sent: {type(exc).__name__}: {exc}")
                parts = wire.pack_frame(self._packer, _error_reply(message[1], reason),
                                        self._max)
            if len(parts) == 1 and not self._outbox and not hold:  # nearly every reply
                self._sock.sendall(parts[0])
                return
            self._outbox.extend(parts)
            if len(parts) == 1 and hold:
                return
            try:  # a large frame goes at once: its body is still the packer's buffer
                self._flush_locked()
            finally:
                wire.release_frame(self._packer, parts)
        finally:
            self._send_lock.release()

    def flush(self) -> None:
        with self._send_lock, contextlib.suppress(OSError):
            self._flush_locked()

    def _flush_locked(self) -> None:
        outbox, self._outbox = self._outbox, []
        if outbox:
            wire.send_frames(self._sock, outbox)

    def run(self, message: list[Any]) -> list[Any]:
        """The reply to one request; `ProtocolError` for a request a correct client never sends."""
        kind, request_id = message[0], message[1]
        if kind is not wire.Kind.CALL or len(message) != 4:
            if kind is wire.Kind.PING and len(message) == 2:
                return [_PONG, request_id]
            raise ProtocolError(f"unexpected {kind.name} message")
        name, payload = message[2], message[3]
        # Exact lookup in the registry filled at decoration time; the name is never imported,
        # resolved or otherwise interpreted.
        entry = self._registry.get(name) if type(name) is str else None
        if entry is None:
            raise ProtocolError("call of an unregistered entrypoint")
        if type(payload) is not dict:
            raise ProtocolError("call arguments are not a map")
        try:
            # The authoritative contract check: the caller's own check is only a convenience.
            args, kwargs = entry.contract.unbind(payload)
            result = entry.function(*args, **kwargs)
        # Whatever the function raises goes back to its caller; the daemon serves on.
        except BaseException as exc:  # noqa: BLE001 - sent back, not swallowed
            return _error_reply(request_id, exc)
        return [_RET, request_id, result]

    def close(self, reason: BaseException | None) -> None:
        """Close the channel: at EOF (`reason` None), or because of `reason`."""
        if isinstance(reason, ProtocolError):  # logged once (the record still reaches the
            LOG.error("protocol failure, closing the channel: %s", reason)  # caller), no traceback
        elif reason is not None and not isinstance(reason, OSError):  # OSError: the channel died
            # A bug of ours, not the caller's: fail closed rather than lose a worker and leave its
            # caller waiting; the next call starts a fresh daemon.
            LOG.error("internal error, closing the channel", exc_info=reason)
        self.flush()  # replies held back for requests that already ran go out first
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def _registered_name(message: list[Any], registry: Mapping[str, Entry]) -> str | None:
    """The entrypoint a CALL names, if it names a registered one; None for anything else."""
    if message[0] is not wire.Kind.CALL or len(message) != 4:
        return None
    name = message[2]
    return name if type(name) is str and name in registry else None


def _error_reply(request_id: int, exc: BaseException) -> list[Any]:
    return [_ERR, request_id, wire.encode_exception(exc)]


class ForwardingHandler(logging.Handler):
    """Sends every record emitted in the daemon to the caller as a LOG frame."""

    def __init__(self, send: Callable[[list[Any]], None]) -> None:
        super().__init__(logging.DEBUG)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            self._send([wire.Kind.LOG, 0, {
                "name": record.name, "levelno": record.levelno, "msg": record.getMessage(),
                "pathname": record.pathname, "lineno": record.lineno,
                "funcName": record.funcName, "created": record.created,
                "exc_text": record.exc_text, "threadName": record.threadName,
            }])
        # A log record that cannot be forwarded is dropped: logging must never end a call.
        except Exception:  # noqa: BLE001, S110 - dropped on purpose
            pass


def allowed_peer_uids(launching_uid: int) -> frozenset[int]:
    """Who may be on the other end: the uid that launched the daemon, nobody else."""
    return frozenset({launching_uid})


def check_peer(sock: socket.socket, allowed: frozenset[int]) -> None:
    """Refuse a channel whose other end is not an allowed uid (SO_PEERCRED, set by the kernel)."""
    _, uid, _ = wire.peer_credentials(sock)
    if uid not in allowed:
        raise PermissionError(f"peer uid {uid} is not allowed (expected one of {sorted(allowed)})")


def set_up(sock: socket.socket, *, name: str, registry: Mapping[str, Entry],
           config: ContextConfig, allowed_uids: frozenset[int]) -> Daemon:
    """Peer check, log forwarding, privilege drop and HELLO; the process is single-threaded here."""
    check_peer(sock, allowed_uids)
    daemon = Daemon(sock, registry, config)
    _install_log_forwarding(daemon.send)
    # Every PathUnder root opened now, before the drop, walked from / without any symlink: a root
    # swapped for a symlink while the daemon was down stops it here, never redirects a call.
    paths.pin_at_start([root for entry in registry.values()
                        for root in entry.contract.path_roots])
    dropped = drop_privileges(config.capabilities, user=config.user, group=config.group,
                              umask=config.umask)
    LOG.info("context %s daemon %d holds %s", name, os.getpid(), describe(dropped))
    daemon.send([wire.Kind.HELLO, 0, wire.PROTOCOL_VERSION, name,
                 caps.names(config.capabilities), sorted(registry), os.getpid()])
    return daemon


def _install_log_forwarding(send: Callable[[list[Any]], None]) -> None:
    # Fresh handlers everywhere: a handler inherited from the application may hold a lock another
    # thread owned at fork time, or write where the daemon must not.
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.propagate = True
    root = logging.getLogger()
    root.handlers[:] = [ForwardingHandler(send)]
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)  # the INFO line with the capability sets must get through


def report_setup_failure(sock: socket.socket, exc: BaseException) -> None:
    """Tell the launcher why the daemon could not start (best effort: it may be gone already)."""
    try:
        reason = f"{type(exc).__name__}: {exc}"
        sock.sendall(wire.frame(wire.new_packer(), [wire.Kind.SETUP_FAILED, 0, reason],
                                wire.DEFAULT_MAX_FRAME_SIZE))
    # Best effort: the launcher may be gone; the daemon exits either way.
    except Exception:  # noqa: BLE001, S110 - nothing left to tell it with
        pass


def isolate_process(keep_fd: int, *, keep_stderr: bool = False) -> None:
    """Close every inherited descriptor but the channel and point stdio at /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1) if keep_stderr else (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, _max_fd())
    # New stream objects: the inherited ones may hold a lock another thread owned at fork time.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    if not keep_stderr:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 65536


def _release_free_memory() -> None:
    # Freed heap pages stay resident until malloc gives them back: those the forked parent had
    # freed, and in an exec'd helper those its imports used while compiling. Give them back once,
    # before serving, so the daemon's memory is what it uses. glibc only; elsewhere, skip it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def reset_signal_handlers() -> None:
    """The application's Python signal handlers must never run in the daemon."""
    for signum in signal.valid_signals():
        try:
            if callable(signal.getsignal(signum)):
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            continue
    # A terminal's Ctrl-C reaches the whole process group; the daemon ends when its caller
    # closes the channel instead, so a call in flight is never cut mid-way by it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_forked(sock: socket.socket, *, name: str, registry: Mapping[str, Entry],
               config: ContextConfig, launching_uid: int) -> NoReturn:
    """The body of a forked daemon child. Never returns: it serves, then `os._exit`s."""
    # Objects the application left behind must never be finalised here: a stale file object's
    # close() would close whatever descriptor the daemon has reused its number for.
    gc.freeze()
    run_daemon(sock, name=name, registry=registry, config=config,
               allowed_uids=allowed_peer_uids(launching_uid))


def run_daemon(sock: socket.socket, *, name: str, registry: Mapping[str, Entry],
               config: ContextConfig, allowed_uids: frozenset[int],
               keep_stderr: bool = False) -> NoReturn:
    """Set the process up as the daemon and serve; never returns.

    Any failure during set-up is reported over the channel and ends the process at once
    (`os._exit`), so a forked child can never unwind into the application's code as root.
    """
    try:
        reset_signal_handlers()
        # No bytecode written from here on: the daemon may run as the service user with
        # CAP_DAC_OVERRIDE, and a __pycache__ it made in root's code would be that user's to fill
        # with bytecode every root process importing the module then runs.
        sys.dont_write_bytecode = True
        isolate_process(sock.fileno(), keep_stderr=keep_stderr)
        become_daemon_of(name)  # its own entrypoints called in here run here; others refused
        daemon = set_up(sock, name=name, registry=registry, config=config,
                        allowed_uids=allowed_uids)
    # Any failure, SystemExit included, ends the process here: never unwind into the caller.
    except BaseException as exc:  # noqa: BLE001 - reported, then os._exit
        report_setup_failure(sock, exc)
        if keep_stderr:
            print(f"leastpriv daemon set-up failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
        os._exit(EXIT_SETUP_FAILED)
    _release_free_memory()
    daemon.serve()
    os._exit(0)
