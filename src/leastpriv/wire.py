"""The channel's wire format: frames, message kinds, the value codec, exceptions as they travel.

A frame is a 4-byte big-endian body length followed by a msgpack body. Every body is an array
``[kind, request_id, *fields]``:

    HELLO    [1, 0, version, context_name, [capability names], [entrypoint names], pid]
    CALL     [2, id, entrypoint_name, {parameter: value}]
    RET      [3, id, value]
    ERR      [4, id, encoded_exception]
    LOG      [5, 0, {name, levelno, msg, ...}]
    PING     [6, id]
    PONG     [7, id]
    SETUP_FAILED [8, 0, reason]     a starting daemon could not set itself up

Values keep their Python shape across the channel: bytes stay bytes, lists stay lists and tuples
travel as a msgpack extension type so they come back as tuples (oslo.privsep turns lists into
tuples; callers notice). Every str arrives exactly as it was sent, surrogates included (see
`SURROGATES`).
"""

from __future__ import annotations

import enum
import errno
import math
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgpack

from leastpriv.errors import ProtocolError

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

HEADER = struct.Struct(">I")
_TUPLE_EXT = 1
# Strings travel as UTF-8, but a str may hold surrogates, which strict UTF-8 cannot carry: a file
# name that os.listdir decoded from bytes that are not UTF-8 holds one per such byte (b"\xff" ->
# "\udcff"). A message that holds one is packed again with "surrogatepass", which writes each
# surrogate as its own three bytes, and every body is read with it: any str, even one whose
# surrogates would re-encode to valid UTF-8 ("\udcc3\udca9", not "é"), comes back as it was.
# Packed strictly first, so that the usual message pays nothing for it.
SURROGATES = "surrogatepass"


class Kind(enum.IntEnum):
    """Message kinds; anything else on the wire is a protocol failure."""

    HELLO = 1
    CALL = 2
    RET = 3
    ERR = 4
    LOG = 5
    PING = 6
    PONG = 7
    SETUP_FAILED = 8


_KINDS = {int(kind): kind for kind in Kind}
# Bodies up to this size are sent in one piece with their header; a larger one goes as header and
# body, so that it is never copied just to put four bytes in front of it.
JOIN_LIMIT = 64 * 1024


# --- codec --------------------------------------------------------------------------------------

def _default(obj: object) -> object:
    # strict_types sends every tuple (and every subclass of a builtin) here, so tuples can be told
    # apart from lists; int/str/bytes/float subclasses (IntEnum, str Enum...) travel as their base.
    if isinstance(obj, tuple):
        return msgpack.ExtType(_TUPLE_EXT, packb(list(obj)))
    for base in (bool, int, float, str, bytes, list, dict):
        if isinstance(obj, base):
            convert: Callable[[Any], object] = base
            return convert(obj)
    raise TypeError(f"cannot send a value of type {type(obj).__qualname__} over the channel")


def _ext_hook(code: int, data: bytes) -> object:
    if code != _TUPLE_EXT:
        raise ProtocolError(f"unknown msgpack extension type {code}")
    # A tuple's payload is decoded by an Unpacker, whose parsing state lives on the heap: unpackb
    # keeps it on the C stack (about 50 KB a level), and 200 nested tuples ran a thread's stack
    # out. How deep tuples nest was bounded before (check_bounds).
    unpacker = msgpack.Unpacker(None, raw=False, ext_hook=_ext_hook, strict_map_key=False,
                                unicode_errors=SURROGATES, max_buffer_size=max(1, len(data)))
    unpacker.feed(data)
    items = unpacker.unpack()
    if type(items) is not list or unpacker.tell() != len(data):
        raise ProtocolError("a tuple's payload is not exactly one array")
    return tuple(items)


def new_packer() -> msgpack.Packer:
    """A packer for one writer; reuse it (under that writer's lock) instead of making one a call.

    It keeps what it packed until `reset()` (autoreset off), so a large body can be sent straight
    from its buffer (see `pack`): copying 1 MiB out into a fresh bytes object, whose pages the
    kernel must first fault in, cost more than packing it.
    """
    return msgpack.Packer(default=_default, use_bin_type=True, strict_types=True, autoreset=False)


def packb(value: object) -> bytes:
    """`value` as a msgpack body (tuples as the tuple extension, surrogates kept)."""
    packed: bytes
    try:
        packed = msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)
    except UnicodeEncodeError:
        packed = msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True,
                               unicode_errors=SURROGATES)
    return packed


def unpackb(body: bytes | memoryview) -> Any:
    """The value of one msgpack body; `ProtocolError` when it is not exactly one valid value."""
    try:
        check_bounds(body)
        return msgpack.unpackb(body, raw=False, ext_hook=_ext_hook, strict_map_key=False,
                               use_list=True, unicode_errors=SURROGATES)
    except ProtocolError:
        raise
    # msgpack raises several unrelated classes for bad input.
    except Exception as exc:  # noqa: BLE001 - all of them a ProtocolError
        raise ProtocolError(f"malformed frame body: {type(exc).__name__}") from None


def pack_frame(packer: msgpack.Packer, message: list[Any],
               max_frame_size: int) -> tuple[bytes] | tuple[bytes, memoryview]:
    """The frame of `message` as the pieces to send in order; `FrameTooLarge` when too big,
    `ProtocolError` when it nests too deep or holds too many values (see `check_bounds`).

    A small frame is one piece, header and body joined, and the packer is ready for the next
    message. A large one is the header and a view of the packer's buffer, sent from there without
    a copy: send it, then `release_frame` it before the packer's next use (msgpack refuses to
    touch a buffer a view still exports). Send a message's kind as a plain int
    (`Kind.CALL.value`): an IntEnum member would go through the packer's `default` hook.
    """
    try:
        packer.pack(message)  # on any error msgpack empties the buffer itself
    except UnicodeEncodeError:  # a str with surrogates: rare, so one piece, copied
        encoded = packb(message)
        if len(encoded) > max_frame_size:
            raise FrameTooLarge(len(encoded), max_frame_size) from None
        check_bounds(encoded)
        return (HEADER.pack(len(encoded)) + encoded,)
    body = packer.getbuffer()
    size = len(body)
    try:
        if size > max_frame_size:
            raise FrameTooLarge(size, max_frame_size)
        # What the other end would refuse is refused here, before it is sent: the sender learns
        # why, and the channel lives on.
        check_bounds(body)
    except ProtocolError:
        body.release()
        packer.reset()
        raise
    if size <= JOIN_LIMIT:  # inline: the path of nearly every call
        frame = HEADER.pack(size) + body
        body.release()
        packer.reset()
        return (frame,)
    return HEADER.pack(size), body


def release_frame(packer: msgpack.Packer, parts: tuple[bytes] | tuple[bytes, memoryview]) -> None:
    """Give `packer` back after `pack_frame`'s large frame `parts` was sent (or failed to be)."""
    if len(parts) > 1:
        parts[1].release()
        packer.reset()


def frame_parts(packer: msgpack.Packer, message: list[Any],
                max_frame_size: int) -> tuple[bytes, ...]:
    """`pack_frame`'s pieces, copied out of the packer's buffer: free to be queued first."""
    parts = pack_frame(packer, message, max_frame_size)
    if len(parts) == 1:
        return parts
    try:
        return parts[0], bytes(parts[1])
    finally:
        release_frame(packer, parts)


def send_frames(sock: socket.socket, frames: Sequence[bytes | memoryview]) -> None:
    """Send `frames` in order; several small ones go in one system call."""
    if len(frames) > 1 and sum(map(len, frames)) <= JOIN_LIMIT:
        frames = [b"".join(frames)]
    for data in frames:
        sock.sendall(data)


def frame(packer: msgpack.Packer, message: list[Any], max_frame_size: int) -> bytes:
    """Header + body of `message` in one piece; `FrameTooLarge` when the body is too big."""
    return b"".join(frame_parts(packer, message, max_frame_size))


class FrameTooLarge(ProtocolError):
    """A frame (to send or received) is larger than the channel's maximum frame size."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the maximum frame size of {limit} bytes")
        self.size = size
        self.limit = limit


def parse_message(body: bytes | memoryview) -> list[Any]:
    """Decode a frame body and check its envelope: ``[known kind, int id, ...]``."""
    message = unpackb(body)
    if type(message) is not list or len(message) < 2:
        raise ProtocolError("frame body is not a message array")
    kind, request_id = message[0], message[1]
    if type(kind) is not int or type(request_id) is not int:
        raise ProtocolError("message kind and id must be integers")
    message[0] = _KINDS.get(kind)
    if message[0] is None:
        raise ProtocolError(f"unknown message kind {kind}")
    return message


# --- bounds on what a body decodes to -------------------------------------------------------------
#
# msgpack's C unpacker builds what a body describes: a 16 MiB body of empty arrays became 16
# million lists (1.23 GB), and tuples nested 400 deep recursed through the extension hook until
# the process died. So before it runs, every body is held to MAX_DEPTH levels of containers and
# MAX_VALUES values, which bounds what it decodes to (`decoded_size_bound`).

MAX_DEPTH = 32  # containers inside containers, the message's own array included
MAX_VALUES = 65_536  # values of every kind, containers included
# What one value may cost once decoded beyond its bytes (a one-pair dict, the worst per byte of
# body, is 3 values and 232 bytes here), and what the nested tuple Unpackers may hold at once.
_BYTES_PER_VALUE = 96
_DECODE_OVERHEAD = MAX_DEPTH * 64 * 1024
# Each tuple's payload is copied twice while it decodes (msgpack hands the hook a copy, the
# Unpacker takes another), and the copies of nested tuples are alive at once: those may hold at
# most this many times the body's size, plus _TUPLE_SLACK.
_TUPLE_COPIES = 4
_TUPLE_SLACK = 64 * 1024

# 1 for each first byte that may open a container (fixmap, fixarray, ext8/16/32, fixext,
# array16/32, map16/32), else 0: a body with at most MAX_DEPTH of them cannot nest deeper.
_OPENS = bytes(0x80 <= b <= 0x9F or 0xC7 <= b <= 0xC9 or 0xD4 <= b <= 0xD8 or 0xDC <= b <= 0xDF
               for b in range(256))
# A scalar's whole size, read from its first byte (0: not a scalar of fixed size).
_SCALAR_SIZE = bytes(
    1 if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3)
    else 1 + (b & 0x1F) if 0xA0 <= b <= 0xBF
    else {0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
          0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9}.get(b, 0)
    for b in range(256))
# The width of the length or count that follows the first byte, for the other kinds.
_WIDTH = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4,  # bin, str: that many bytes
          0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4,  # array, map: that many values (maps twice)
          0xC7: 1, 0xC8: 2, 0xC9: 4}  # ext: that many bytes, after a type byte
_UINT = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}


def decoded_size_bound(body_size: int) -> int:
    """The most memory, in bytes, that `unpackb` of a body of `body_size` bytes may take."""
    return ((2 + _TUPLE_COPIES) * body_size + _BYTES_PER_VALUE * min(body_size, MAX_VALUES)
            + _DECODE_OVERHEAD + _TUPLE_SLACK)


def check_bounds(body: bytes | memoryview) -> None:
    """`ProtocolError` unless `body` nests at most MAX_DEPTH deep, holds at most MAX_VALUES, and
    its nested tuples' copies stay within `_TUPLE_COPIES` times its size (+ `_TUPLE_SLACK`).

    Every value takes at least one byte, and every container starts with a byte `_OPENS` marks:
    a body short enough, with few enough such bytes, is within bounds as it stands (nearly every
    message: this costs about 0.2 µs; its at most 16 nested tuples copy at most 2 MiB). Any other
    body is walked, without building anything.
    """
    size = len(body)
    if size > MAX_VALUES or (size > MAX_DEPTH
                             and bytes(body).translate(_OPENS).count(1) > MAX_DEPTH):
        _walk(body)


def _walk(body: bytes | memoryview) -> None:
    """Walk the msgpack structure of `body`: `ProtocolError` if out of bounds or malformed."""
    pos = values = copying = 0  # copying: what the tuples open at `pos` copy while they decode
    limit = _TUPLE_COPIES * len(body) + _TUPLE_SLACK
    # The innermost open container: values still to come, where its bytes end (the body's or its
    # tuple's), whether it must end exactly there, and what it copies (a tuple; else 0). The
    # enclosing ones' the same, in order.
    todo, end, exact, copies = 1, len(body), True, 0
    outer: list[tuple[int, int, bool, int]] = []
    while True:
        if not todo:
            if exact and pos != end:
                raise ProtocolError("malformed frame body: a value does not fill its bytes")
            if not outer:
                return
            copying -= copies
            todo, end, exact, copies = outer.pop()
            continue
        if pos >= end:
            raise ProtocolError("malformed frame body: it ends inside a value")
        todo -= 1
        values += 1
        size = _SCALAR_SIZE[body[pos]]
        if size:
            pos += size
            continue
        start = pos
        pos, count, payload_end = _header(body, pos, end)
        if count < 0:  # a str or bin, skipped whole
            continue
        if len(outer) >= MAX_DEPTH:
            raise ProtocolError(f"frame body nests deeper than {MAX_DEPTH}")
        if count > MAX_VALUES - values or count > end - pos:
            raise ProtocolError(f"frame body holds more than {MAX_VALUES} values")
        outer.append((todo, end, exact, copies))
        todo, exact = count, bool(payload_end)
        end = payload_end or end
        copies = 2 * (payload_end - start) if payload_end else 0
        copying += copies
        if copying > limit:
            raise ProtocolError("frame body nests tuples around too much data")


def _header(body: bytes | memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """The str, bin, container or extension at `pos`: where its contents start (for a str or
    bin, where it ends), how many values it holds (-1: a str or bin), and where a tuple's
    payload ends (0 for anything else)."""
    first = body[pos]
    if 0x80 <= first <= 0x9F:  # fixmap, fixarray
        return pos + 1, (first & 0x0F) << (first < 0x90), 0
    if 0xD4 <= first <= 0xD8:  # fixext 1, 2, 4, 8, 16
        length, pos = 1 << (first - 0xD4), pos + 1
    else:
        width = _WIDTH.get(first)
        if width is None or pos + 1 + width > end:
            raise ProtocolError(f"malformed frame body at byte {pos}")
        length = _UINT[width].unpack_from(body, pos + 1)[0]
        pos += 1 + width
        if first >= 0xDC:  # array16/32, map16/32 (a map holds twice its count)
            return pos, length << (first >= 0xDE), 0
        if first < 0xC7 or first > 0xC9:  # bin, str
            return pos + length, -1, 0
    # An extension: a type byte, then its payload. The only one is a tuple: one array.
    payload_end = pos + 1 + length
    inner = body[pos + 1] if pos + 1 < payload_end <= end else 0
    if not (0x90 <= inner <= 0x9F or inner in (0xDC, 0xDD)) or body[pos] != _TUPLE_EXT:
        raise ProtocolError("malformed frame body: an extension that is not a tuple")
    pos, count, _ = _header(body, pos + 1, payload_end)
    return pos, count, payload_end


# --- framing ------------------------------------------------------------------------------------

class SpinWait:
    """Waits for a socket to become readable: polls it for a short window, then blocks.

    Why poll at all: a process that blocks lets its CPU go idle, and waking an idle CPU again is
    the largest cost of a round trip on a virtual machine (about 10 µs here, more than the rest of
    a call's work on either side). A reply that comes within the window is picked up without that
    wake-up. This is the kernel's guest haltpoll algorithm, done for one socket:

    - a wait the window did not catch, but which ended within `MAX_WINDOW`, doubles the window
      (from `GROW_START`): polling a little longer would have caught it;
    - a wait longer than `MAX_WINDOW` halves it: a channel whose calls take milliseconds, or a
      daemon that sits idle, soon stops polling, so the CPU spent polling stays a small fraction
      of the time spent waiting.

    Never with a single CPU to run on: the poller would keep that CPU from the peer it waits for.
    Only the thread holding a channel's read role uses its `SpinWait`, so it needs no lock.

    `MAX_WINDOW` is haltpoll's default (guest_halt_poll_ns, 200 µs): a call whose arguments carry
    a path takes each side tens of microseconds, and with a 50 µs window both ends of such calls
    stopped polling (a chown through PathUnder took 185 µs a call instead of 135).
    """

    MAX_WINDOW = 200e-6
    GROW_START = 10e-6

    def __init__(self, sock: socket.socket) -> None:
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self.enabled = len(os.sched_getaffinity(0)) > 1
        self.window = self.GROW_START if self.enabled else 0.0

    def wait(self, timeout: float | None, *, spin: bool = True) -> bool:
        """Wait up to `timeout` seconds (None: for ever) for data; False when none came.

        `spin` False: block at once, this time (and learn nothing from the wait).
        """
        if not spin:
            return bool(self._poll.poll(None if timeout is None else
                                        max(0, math.ceil(timeout * 1000))))
        clock = time.perf_counter
        started = clock()
        if timeout is not None:
            timeout = max(0.0, timeout)
        window = self.window if timeout is None else min(self.window, timeout)
        if window and self._spin(started + window):
            return True
        if timeout is None:
            ready = self._poll.poll()
        else:
            remaining = timeout - (clock() - started)
            ready = self._poll.poll(max(0, math.ceil(remaining * 1000)))
        self._adapt(clock() - started)
        return bool(ready)

    def _spin(self, until: float) -> bool:
        poll, clock, yield_cpu = self._poll.poll, time.perf_counter, os.sched_yield
        while not poll(0):
            if clock() >= until:
                return False
            yield_cpu()
        return True

    def _adapt(self, waited: float) -> None:
        if not self.enabled:
            return
        if waited > self.MAX_WINDOW:
            self.window = self.window / 2 if self.window >= self.GROW_START else 0.0
        elif waited > self.window:
            self.window = min(self.MAX_WINDOW, max(self.GROW_START, self.window * 2))


class ReadWait(Protocol):
    """How a `FrameReader` waits for data: `SpinWait`, or the caller's hub wait under eventlet.

    `enabled`: wait with it before each receive (else receive at once, blocking in recv itself).
    """

    enabled: bool

    def wait(self, timeout: float | None, *, spin: bool = True) -> bool: ...


class FrameReader:
    """Reads whole frames from a stream socket through one reusable buffer.

    Only one thread may read at a time (the caller arranges that). `read()` returns None at EOF.
    The buffer starts at `chunk` bytes, all of them resident from the start (a daemon's memory),
    and grows to the largest frame received: a larger start would only save that one growth.
    Waits for data go through `wait`, a `SpinWait` unless another is given.
    """

    def __init__(self, sock: Any, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
                 chunk: int = 64 * 1024, *, wait: ReadWait | None = None) -> None:
        self._sock = sock
        self._max = max_frame_size
        self._buf = bytearray(chunk)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.spin: ReadWait = wait if wait is not None else SpinWait(sock)
        # The longest `read_message` polls for a new frame before it gives up (None: no limit);
        # set by a caller whose socket bounds its receives alike (SO_RCVTIMEO).
        self.wait_bound: float | None = None
        # The longest a begun frame may go without a byte once receives time out (SO_RCVTIMEO)
        # before the read fails (None: no limit): a daemon stopped mid-reply is not waited for ever.
        self.stall_bound: float | None = None

    def has_frame(self) -> bool:
        """True when a whole frame already sits in the buffer: the next read will not wait."""
        pending = self._end - self._start
        return (pending >= HEADER.size
                and pending - HEADER.size >= HEADER.unpack_from(self._buf, self._start)[0])

    def readable(self, timeout: float, *, spin: bool = True) -> bool:
        """True when a read can start within `timeout` seconds: a header is here or data came.

        `spin`: poll before blocking (see `SpinWait`); False blocks at once, but first takes
        what already came without waiting: with several calls in flight replies are usually
        there, and one receive then replaces a poll and a receive.
        """
        if self._end - self._start >= HEADER.size:
            return True
        if not spin and isinstance(self.spin, SpinWait) and self._receive_ready():
            return True
        return self.spin.wait(timeout, spin=spin)

    def _receive_ready(self) -> bool:
        """Receive what is already there, without waiting; True if anything (or EOF) came."""
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buf):
            return True  # part of a frame is here and the buffer is full: a read can start
        try:
            received = self._sock.recv_into(self._view[self._end:], 0, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True  # the read that follows fails alike, where its caller handles it
        self._end += received
        return True  # data, or EOF (0), which the read that follows sees again

    def read(self) -> bytes | None:
        """The next frame's body; None on a clean EOF between frames; `ProtocolError` otherwise."""
        length = self._next_frame()
        if length is None:
            return None
        body = bytes(self._view[self._start:self._start + length])
        self._start += length
        return body

    def read_message(self, *, spin: bool = True) -> list[Any] | None:
        """`parse_message` of the next frame's body, decoded in place (no copy of the body).

        `spin`: when it has to wait, poll before blocking (see `SpinWait`); False blocks at once.
        A wait for a new frame that outlasts `wait_bound`, or the socket's receive timeout
        (SO_RCVTIMEO), raises `BlockingIOError`, nothing consumed: read again (a frame that has
        begun to arrive is waited for whole).
        """
        if self._start == self._end:
            # Nothing buffered, the usual case between calls: receive at the front of the buffer,
            # and when that brings a whole frame (it nearly always does), decode it right here.
            if spin and self.spin.enabled and not self.spin.wait(self.wait_bound):
                raise BlockingIOError(errno.EAGAIN, "no frame within the reader's wait bound")
            self._start = self._end = 0  # consistent if the receive below times out
            self._end = self._sock.recv_into(self._view)
            if self._end >= HEADER.size:
                (length,) = HEADER.unpack_from(self._buf)
                if 0 < length <= self._max and self._end >= HEADER.size + length:
                    self._start = end = HEADER.size + length
                    with self._view[HEADER.size:end] as body:
                        return parse_message(body)
        length = self._next_frame(spin)  # the general case, with every check on the length
        if length is None:
            return None
        start = self._start
        self._start = end = start + length
        with self._view[start:end] as body:
            return parse_message(body)

    def _next_frame(self, spin: bool = False) -> int | None:
        """Wait for a whole frame; its body's length, the body starting at `_start`."""
        # The length checks before each _fill save a call when the bytes are already here.
        if self._end - self._start < HEADER.size and not self._fill(HEADER.size, spin):
            if self._end == self._start:
                return None
            raise ProtocolError("connection closed inside a frame header")
        length: int = HEADER.unpack_from(self._buf, self._start)[0]
        if length > self._max:
            raise FrameTooLarge(length, self._max)
        if length == 0:
            raise ProtocolError("empty frame")
        self._start += HEADER.size
        if self._end - self._start < length and not self._fill(length, spin):
            raise ProtocolError("connection closed inside a frame body")
        return length

    def _fill(self, need: int, spin: bool) -> bool:
        """Make `need` bytes available from `_start`; False if EOF comes first."""
        if self._start == self._end:  # all consumed: receive at the front, into the whole buffer
            self._start = self._end = 0
        if len(self._buf) - self._start < need:
            self._make_room(need)
        stalled_since: float | None = None
        while self._end - self._start < need:
            try:
                # Poll first, or else block in recv itself (one system call less); each wait is
                # bounded alike when the socket's receives are (wait_bound, SO_RCVTIMEO).
                if spin and self.spin.enabled and not self.spin.wait(self.wait_bound):
                    raise BlockingIOError(errno.EAGAIN, "no byte within the wait bound")
                received = self._sock.recv_into(self._view[self._end:])
            except BlockingIOError:  # no byte of the frame within a bound: wait on, for at most
                now = time.monotonic()  # stall_bound in all
                stalled_since = stalled_since or now
                if self.stall_bound is not None and now - stalled_since >= self.stall_bound:
                    raise ProtocolError("no byte of a begun frame for "
                                        f"{self.stall_bound:g} s") from None
                continue
            stalled_since = None
            if received == 0:
                return False
            self._end += received
        return True

    def _make_room(self, need: int) -> None:
        pending = self._end - self._start
        if self._start and len(self._buf) - self._start < need:
            # Move the partial frame to the front so the buffer never grows past one frame.
            self._buf[:pending] = self._view[self._start:self._end]
            self._start, self._end = 0, pending
        if len(self._buf) < need:
            self._view.release()
            self._buf.extend(bytes(need - len(self._buf)))
            self._view = memoryview(self._buf)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, as the kernel recorded it (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


_UCRED = struct.Struct("3i")


# --- exceptions ---------------------------------------------------------------------------------
# Encoded here, by the daemon; rebuilt in the caller by `leastpriv.unprivileged.rebuild`.

def encode_exception(exc: BaseException) -> dict[str, Any]:
    """What the caller needs to rebuild `exc`: class, args, OSError fields, traceback text."""
    import traceback  # here: only a daemon whose function raised needs it

    cls = type(exc)
    encoded: dict[str, Any] = {
        "module": cls.__module__,
        "qualname": cls.__qualname__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(cls, exc, exc.__traceback__)),
        "args": _constructor_args(exc),
    }
    if isinstance(exc, OSError):
        encoded["errno"] = exc.errno
        encoded["strerror"] = exc.strerror
        encoded["filename"] = _plain_or_none(exc.filename)
        encoded["filename2"] = _plain_or_none(exc.filename2)
    return encoded


def _constructor_args(exc: BaseException) -> list[Any] | None:
    """The args that rebuild `exc` (its __reduce__ ones if it has them), or None if unsendable.

    A class such as ContractViolation keeps different values in `.args` than its constructor takes;
    `__reduce__` says what the constructor needs, as pickle would use it.
    """
    try:
        reduced = exc.__reduce__()
        args = reduced[1] if isinstance(reduced, tuple) and reduced[0] is type(exc) else exc.args
        packb(list(args))
        return list(args)
    # An arg that cannot travel: the caller gets RemoteError instead.
    except Exception:  # noqa: BLE001 - whatever packing it raises
        return None


def _plain_or_none(value: object) -> str | bytes | int | None:
    return value if isinstance(value, (str, bytes, int)) else None
