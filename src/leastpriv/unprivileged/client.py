"""The caller's end of a channel: request ids, many threads over one socket, timeouts, death.

No dedicated reader thread. Leader/follower: among the threads waiting for a reply, one (the
leader) reads frames and hands each reply to the thread waiting for it; when its own reply has
come it passes the role on to another waiter. A lone caller is always the leader, so its call costs
one send and one receive in the calling thread, without waking a second thread. The leader reading
EOF fails every call in flight with `DaemonDied` at once.

Under eventlet's monkey patching the same code runs in green threads: a channel opened then gets a
`GreenSocket`, waits through the hub (`green.HubWait`) and never polls or spins, and its locks,
made when it is opened, are eventlet's (see `green`). Open channels after patching, as eventlet
asks of everything; a channel opened before it keeps blocking its OS thread.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import logging
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from leastpriv import wire
from leastpriv.context import DEFAULT_CALL_TIMEOUT
from leastpriv.errors import CallTimeout, DaemonDied, DaemonStartError, Error, ProtocolError
from leastpriv.unprivileged import NotSent, green, rebuild

LOG = logging.getLogger("leastpriv.client")


@dataclass(frozen=True)
class Hello:
    """What the daemon announced: who it is, what it holds, which names it serves."""

    context_name: str
    capabilities: tuple[str, ...]
    entrypoints: frozenset[str]
    pid: int


_CALL = wire.Kind.CALL.value
_PING = wire.Kind.PING.value
_REPLIES = frozenset({wire.Kind.RET, wire.Kind.ERR, wire.Kind.PONG})
# The longest a reading thread blocks in one recv (SO_RCVTIMEO) before it looks at its deadline
# again; within this of the deadline it polls with the time left instead.
RECEIVE_BOUND = 1.0


class _Waiter:
    """One call's reply slot.

    `wakeup` is a binary semaphore, cheaper than a threading.Event, made (held) only when the
    thread has to wait for another one to read: a lone caller reads its reply itself and never
    needs one. Released under the channel's state lock, only while held, when the reply has come
    or the reading role is free; acquired by the waiting thread.
    """

    __slots__ = ("done", "kind", "value", "wakeup")

    def __init__(self) -> None:
        self.wakeup: Any = None
        self.done = False
        self.kind: wire.Kind | None = None
        self.value: Any = None

    def wake_locked(self) -> None:
        if self.wakeup is not None and self.wakeup.locked():
            self.wakeup.release()


class Channel:
    """One connected socket to one daemon, shared by every calling thread."""

    def __init__(self, sock: Any, *, max_frame_size: int, logger_name: str | None,
                 send_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        # A send waits only while the daemon reads nothing (all its threads busy, the socket's
        # buffer full): one that waited `send_timeout` fails, and the channel with it. Data is
        # always there when a reply is read, but for the rest of a frame once its start came:
        # that wait is bounded alike.
        wait = None
        # A call whose deadline is at least this far off may wait in its read itself (poll, then
        # recv), each bounded by the socket's receive timeout: no poll() of its own first (one
        # system call a call less on one CPU), and no waiting twice over.
        self._receive_bound = math.inf
        if green.hub_in_use():
            sock = green.cooperative(sock)
            sock.settimeout(send_timeout)  # a GreenSocket's sends and receives wait this long
            wait = green.HubWait(sock)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(send_timeout))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(RECEIVE_BOUND))
            self._receive_bound = RECEIVE_BOUND
        self._sock = sock
        self._max = max_frame_size
        self._logger_name = logger_name
        self._reader = wire.FrameReader(sock, max_frame_size, wait=wait)
        if self._receive_bound < math.inf:  # its polling before a receive is bounded alike
            self._reader.wait_bound = self._receive_bound
            self._reader.stall_bound = send_timeout  # and the rest of a frame once its start came
        self._state = threading.Lock()  # guards everything below but _ids
        self._packer = wire.new_packer()  # frames to queue behind another thread's send
        # The send role's own packer: its holder sends its frame straight from this buffer.
        self._send_packer = wire.new_packer()
        self._pending: dict[int, _Waiter] = {}
        # Frames queued to send, and whether a thread is sending them: a thread that finds
        # another one sending leaves its frame to it instead of waiting for a send lock.
        self._outbox: list[bytes] = []
        self._sending = False
        self._leader = False
        self._dead: DaemonDied | None = None
        self._closing = False  # close() was called: the socket goes when nobody reads it
        self._ids = itertools.count(1)

    @property
    def dead(self) -> bool:
        return self._dead is not None

    # --- start-up -------------------------------------------------------------------------

    def handshake(self, expected_name: str, timeout: float) -> Hello:
        """Wait for HELLO (re-emitting log records on the way); `DaemonStartError` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._reader.readable(deadline - time.monotonic()):
                raise DaemonStartError(f"the daemon did not say HELLO within {timeout:g} s")
            try:
                message = self._reader.read_message()
            except (OSError, ProtocolError) as exc:
                raise DaemonStartError(f"bad start-up message from the daemon: {exc}") from None
            if message is None:
                raise DaemonStartError("the daemon exited while setting itself up")
            if message[0] is wire.Kind.LOG:
                self._emit_log(message[2] if len(message) > 2 else None)
            elif message[0] is wire.Kind.SETUP_FAILED:
                raise DaemonStartError(f"the daemon failed to set itself up: {message[2]}")
            elif message[0] is wire.Kind.HELLO:
                return _parse_hello(message, expected_name)
            else:
                raise DaemonStartError(f"unexpected {message[0].name} before HELLO")

    # --- calls ------------------------------------------------------------------------------
    #
    # The state lock is taken with acquire()/release() rather than `with`: a call takes it three
    # times, and on the interpreters measured `with` costs about 0.3 µs more each time, a tenth of
    # what leastpriv adds to a round trip.

    def call(self, name: str, payload: dict[str, Any], timeout: float | None) -> Any:
        """Send CALL and wait for its reply; the function's return value or its exception."""
        waiter = _Waiter()
        request_id = next(self._ids)
        leading = self._send_request(request_id, waiter, [_CALL, request_id, name, payload])
        deadline = None if timeout is None else time.monotonic() + timeout
        if leading:  # a lone caller: it reads its own reply, without waking any other thread
            self._lead(waiter, deadline)
        if not waiter.done and not self._wait(waiter, deadline):
            raise CallTimeout(f"{name}: no reply within {timeout:g} s")
        if waiter.kind is wire.Kind.RET:
            return waiter.value
        if waiter.kind is wire.Kind.ERR:
            raise rebuild.decode_exception(waiter.value)
        raise waiter.value  # DaemonDied, set by _die

    def ping(self, timeout: float) -> None:
        """Round trip without running anything; `CallTimeout` or `DaemonDied` when it fails."""
        waiter = _Waiter()
        request_id = next(self._ids)
        deadline = time.monotonic() + timeout
        if self._send_request(request_id, waiter, [_PING, request_id]):
            self._lead(waiter, deadline)
        if not waiter.done and not self._wait(waiter, deadline):
            raise CallTimeout(f"no PONG within {timeout:g} s")
        if isinstance(waiter.value, DaemonDied):
            raise waiter.value

    def _send_request(self, request_id: int, waiter: _Waiter, message: list[Any]) -> bool:
        """Send `message` (or queue it behind another thread's send); True: this thread now
        holds the read role, taken as it gave the send role up."""
        state = self._state
        state.acquire()
        try:
            if self._dead is not None:
                raise NotSent(str(self._dead))
            try:
                if self._sending:  # the sending thread sends it after those queued before it
                    queued = wire.frame_parts(self._packer, message, self._max)
                else:  # this thread takes the send role, and with it the role's packer
                    own = wire.pack_frame(self._send_packer, message, self._max)
            except wire.FrameTooLarge as exc:
                raise Error(f"request not sent: {exc}") from None
            self._pending[request_id] = waiter  # before sending: the reply may beat us back
            if self._sending:
                self._outbox += queued
                return False
            self._sending = True
        finally:
            state.release()
        frames: Any = own
        while True:
            try:
                try:
                    if len(frames) == 1:  # nearly every request: one small frame
                        self._sock.sendall(frames[0])
                    else:
                        wire.send_frames(self._sock, frames)
                finally:
                    if frames is own:  # done with the role's packer before giving up the role
                        wire.release_frame(self._send_packer, own)
            except OSError as exc:
                self._send_failed(request_id, exc, alone=frames is own)
                return False
            except BaseException:
                # Interrupted part-way (KeyboardInterrupt): half a frame may be in the stream,
                # and frames other threads queued would wait for a sender forever.
                with self._state:
                    self._sending = False
                self._die("a send to the daemon was interrupted")
                raise
            state.acquire()
            try:
                frames, self._outbox = self._outbox, []
                if not frames or self._dead is not None:
                    self._sending = False
                    # Not when the reading thread has already handed this thread its reply:
                    # the role's holder reads until its own reply comes.
                    lead = not self._leader and self._dead is None and not waiter.done
                    if lead:
                        self._leader = True
                    return lead
            finally:
                state.release()

    def _send_failed(self, request_id: int, exc: OSError, *, alone: bool) -> None:
        """The channel broke while this thread sent: every call in flight gets DaemonDied."""
        with self._state:
            self._sending = False
            # A send that failed never delivered a whole frame, so when only this thread's
            # frame was in it the daemon never ran it, and the caller may safely send it again.
            # Frames of other threads may have gone before it: they get DaemonDied below.
            if alone:
                self._pending.pop(request_id, None)
        self._read_last_words()
        self._die(f"the daemon's channel is closed ({exc.strerror or exc})")
        if alone:
            raise NotSent(str(self._dead)) from None

    def _wait(self, waiter: _Waiter, deadline: float | None) -> bool:
        """Wait for `waiter`'s reply, leading the reading while nobody else does. False: timeout."""
        while True:
            with self._state:
                if waiter.done:
                    return True
                lead = not self._leader
                if lead:
                    self._leader = True
                elif waiter.wakeup is None:
                    waiter.wakeup = _thread.allocate_lock()
                    waiter.wakeup.acquire()
            if lead:
                self._lead(waiter, deadline)
                if waiter.done:
                    return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return self._give_up(waiter)
            if not lead:
                waiter.wakeup.acquire(timeout=-1 if remaining is None else remaining)

    def _give_up(self, waiter: _Waiter) -> bool:
        with self._state:
            if waiter.done:
                return True
            for request_id, pending in list(self._pending.items()):
                if pending is waiter:
                    del self._pending[request_id]  # a late reply for it is dropped
            self._wake_one_locked()
        return False

    def _wake_one_locked(self) -> None:
        """Pass the reader role on: wake one thread that still waits, if nobody reads."""
        if self._leader:
            return
        for pending in self._pending.values():
            if not pending.done:
                pending.wake_locked()
                return

    def _lead(self, waiter: _Waiter, deadline: float | None) -> None:
        """Read and hand out replies until `waiter`'s has come (or the deadline passed, or the
        channel died); then give the read role up, waking a thread that still waits."""
        reader, state = self._reader, self._state
        holding = True
        try:
            while self._dead is None:
                # Poll before blocking only while no other thread waits: with several in
                # flight, replies come without it, and polling would hold the interpreter lock
                # that the threads woken with their replies need.
                spin = len(self._pending) < 2
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    # Nearer the deadline than the socket's receive timeout (or under eventlet):
                    # wait with the time left; else the read waits itself, bounded by it.
                    if not remaining >= self._receive_bound:
                        if not reader.readable(remaining, spin=spin):
                            return
                        spin = False  # readable() did the waiting: the read must not poll again
                try:
                    message = reader.read_message(spin=spin)
                except BlockingIOError:
                    continue  # the receive timeout passed with no frame: see to the deadline
                except (OSError, ProtocolError) as exc:
                    self._die(f"the daemon's channel failed: {exc}")
                    return
                if message is None:
                    self._die("the daemon closed its channel")
                    return
                if message[0] not in _REPLIES:
                    self._dispatch(message)
                    continue
                state.acquire()
                try:
                    self._deliver_locked(message)
                    # Replies already received are handed out before the role is: passing it
                    # on costs a thread wake-up, handing out a reply already here costs nothing.
                    if waiter.done and not (self._pending and reader.has_frame()):
                        holding = False
                        self._leave_read_role_locked()
                        return
                finally:
                    state.release()
        finally:
            if holding:  # left early: by timeout, death or an exception
                with self._state:
                    self._leave_read_role_locked()

    def _deliver_locked(self, message: list[Any]) -> None:
        waiter = self._pending.pop(message[1], None)
        if waiter is not None:
            waiter.kind = message[0]
            waiter.value = message[2] if len(message) > 2 else None
            waiter.done = True
            if waiter.wakeup is not None:  # only a thread that had to wait made one
                waiter.wake_locked()

    def _dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        if kind in _REPLIES:
            with self._state:
                self._deliver_locked(message)
        elif kind is wire.Kind.LOG:
            self._emit_log(message[2] if len(message) > 2 else None)
        else:
            self._die(f"the daemon sent an unexpected {kind.name} message")

    def _read_last_words(self) -> None:
        """Re-emit what a daemon that closed the channel said before it went (why it closed)."""
        with self._state:
            if self._leader:
                return  # the reading thread sees the same frames
            self._leader = True
        try:
            while self._dead is None and self._reader.readable(0):
                message = self._reader.read_message()
                if message is None:
                    return
                self._dispatch(message)
        except (OSError, ProtocolError):
            return
        finally:
            with self._state:
                self._leave_read_role_locked()

    def _die(self, reason: str) -> None:
        """Fail every call in flight with DaemonDied, now; later calls get NotSent."""
        with self._state:
            if self._dead is None:
                self._dead = DaemonDied(reason)
            for waiter in self._pending.values():
                waiter.kind = None
                waiter.value = DaemonDied(str(self._dead))
                waiter.done = True
                waiter.wake_locked()
            self._pending.clear()
        self._shutdown()

    def close(self) -> None:
        """Close the channel; the daemon sees EOF and exits."""
        self._die("the channel was closed")  # shuts the socket down: a reading thread sees EOF
        with self._state:
            self._closing = True
            if self._leader:
                # The reading thread closes it as it leaves: a green thread waiting in the hub
                # for a descriptor closed under it would never hear of it (the kernel forgets a
                # closed descriptor's readiness), and would wait out its whole timeout.
                return
        self._sock.close()

    def _leave_read_role_locked(self) -> None:
        """Give the read role up: close the socket if close() left it to us, else wake a thread
        that still waits, to read for it."""
        self._leader = False
        if self._closing:
            self._sock.close()
        elif self._pending:
            self._wake_one_locked()

    def _shutdown(self) -> None:
        # SHUT_RDWR: a blocked reader wakes up, and the daemon sees EOF and exits.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    # --- logging -----------------------------------------------------------------------------

    def _emit_log(self, fields: Any) -> None:
        """Re-emit a daemon log record into this process's logging, under its own logger name."""
        if not isinstance(fields, dict):
            return
        name = self._logger_name or str(fields.get("name") or "leastpriv.daemon")
        level = fields.get("levelno")
        if not isinstance(level, int):
            return
        logger = logging.getLogger(name)
        if not logger.isEnabledFor(level):
            return
        record = logger.makeRecord(
            name, level, str(fields.get("pathname", "?")), _int(fields.get("lineno")),
            str(fields.get("msg", "")), (), None, func=str(fields.get("funcName", "")),
        )
        if isinstance(fields.get("exc_text"), str):
            record.exc_text = fields["exc_text"]
        if isinstance(fields.get("created"), float):
            record.created = fields["created"]
        logger.handle(record)


def _timeval(seconds: float) -> bytes:
    """`seconds` as the struct timeval that SO_SNDTIMEO and SO_RCVTIMEO take."""
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1e6))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _parse_hello(message: list[Any], expected_name: str) -> Hello:
    try:
        _, _, version, name, capabilities, entrypoints, pid = message
    except ValueError:
        raise DaemonStartError("malformed HELLO from the daemon") from None
    if version != wire.PROTOCOL_VERSION:
        raise DaemonStartError(f"daemon speaks protocol {version}, not {wire.PROTOCOL_VERSION}")
    if name != expected_name:
        raise DaemonStartError(f"daemon serves context {name!r}, not {expected_name!r}")
    return Hello(name, tuple(capabilities), frozenset(entrypoints), int(pid))
