"""Unit tests of the channel's wire format: framing, value codec, bad frames (exceptions across
the channel: tests/test_rebuild.py)."""

from __future__ import annotations

import enum
import socket
import struct
import subprocess
import sys
import threading
import tracemalloc
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings

import wire_frames
from leastpriv import wire
from leastpriv.errors import ProtocolError


class _Colour(enum.IntEnum):
    RED = 1


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def send_frames(sock: socket.socket, *messages: list) -> None:
    packer = wire.new_packer()
    for message in messages:
        sock.sendall(wire.frame(packer, message, wire.DEFAULT_MAX_FRAME_SIZE))


@pytest.mark.parametrize("value", [
    None, True, 0, -5, 2**63 - 1, 1.5, "text", b"\x00\xffbytes",
    [1, [2, 3]], (1, (2, 3)), [(1, 2), [3]], {"k": [1, (2,)]}, {1: "int keys"}, (), [],
])
def test_values_round_trip_with_their_exact_shape(value: object) -> None:
    decoded = wire.unpackb(wire.packb(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_nested_tuples_and_lists_keep_their_types() -> None:
    decoded = wire.unpackb(wire.packb({"a": ([1], (2,)), "b": [(3,), [4]]}))
    assert type(decoded["a"]) is tuple and type(decoded["a"][0]) is list
    assert type(decoded["a"][1]) is tuple
    assert type(decoded["b"]) is list and type(decoded["b"][0]) is tuple


def test_int_enum_travels_as_its_plain_value() -> None:
    decoded = wire.unpackb(wire.packb([_Colour.RED]))
    assert decoded == [1] and type(decoded[0]) is int


def test_unsendable_value_raises_type_error() -> None:
    with pytest.raises(TypeError):
        wire.packb({1, 2})


def test_frames_arrive_whole_and_in_order(pair) -> None:
    a, b = pair
    big = b"x" * 300_000  # larger than the reader's initial buffer and the socket's buffer
    writer = threading.Thread(target=send_frames, args=(
        a, [wire.Kind.CALL, 1, "f", {}], [wire.Kind.RET, 2, big], [wire.Kind.PING, 3]))
    writer.start()
    reader = wire.FrameReader(b)
    messages = [wire.parse_message(reader.read()) for _ in range(3)]
    writer.join()
    assert [m[0] for m in messages] == [wire.Kind.CALL, wire.Kind.RET, wire.Kind.PING]
    assert messages[1][2] == big
    a.close()
    assert reader.read() is None


def test_frame_split_across_many_writes_is_reassembled(pair) -> None:
    a, b = pair
    data = wire.frame(wire.new_packer(), [wire.Kind.RET, 9, "x" * 1000], 1 << 20)

    def trickle() -> None:
        for i in range(0, len(data), 7):
            a.sendall(data[i:i + 7])

    writer = threading.Thread(target=trickle)
    writer.start()
    assert wire.parse_message(wire.FrameReader(b).read())[2] == "x" * 1000
    writer.join()


def test_oversize_frame_is_refused_when_sending() -> None:
    with pytest.raises(wire.FrameTooLarge) as caught:
        wire.frame(wire.new_packer(), [wire.Kind.RET, 1, b"x" * 2000], 1000)
    assert isinstance(caught.value, ProtocolError)
    assert caught.value.limit == 1000


def test_oversize_frame_header_is_refused_when_reading(pair) -> None:
    a, b = pair
    a.sendall(wire.HEADER.pack(5000) + b"\x00" * 10)
    with pytest.raises(wire.FrameTooLarge):
        wire.FrameReader(b, max_frame_size=4096).read()


@pytest.mark.parametrize("raw", [
    wire.HEADER.pack(0),                                # empty frame
    wire.HEADER.pack(3) + b"\xc1\xc1\xc1",              # bytes that are no msgpack
    wire.HEADER.pack(1) + b"\x01",                      # a body that is not an array
    wire.HEADER.pack(2) + b"\x91\x01",                  # an array without an id
    wire.HEADER.pack(3) + b"\x92\x63\x01",              # unknown kind 99
    wire.HEADER.pack(5) + b"\x92\xa1a\x01\x00",         # trailing bytes after the value
])
def test_malformed_frames_raise_protocol_error(pair, raw: bytes) -> None:
    a, b = pair
    a.sendall(raw)
    a.close()
    with pytest.raises(ProtocolError):
        wire.parse_message(wire.FrameReader(b).read())


def test_eof_inside_a_frame_is_a_protocol_error(pair) -> None:
    a, b = pair
    a.sendall(wire.HEADER.pack(100) + b"\x93")
    a.close()
    with pytest.raises(ProtocolError):
        wire.FrameReader(b).read()


def test_a_large_frame_is_sent_from_the_packers_buffer_until_released() -> None:
    packer = wire.new_packer()
    big = b"x" * (wire.JOIN_LIMIT + 1)
    header, body = wire.pack_frame(packer, [wire.Kind.RET.value, 1, big], 1 << 20)
    assert isinstance(body, memoryview)
    assert wire.parse_message(body)[2] == big
    assert wire.HEADER.unpack(header)[0] == len(body)
    with pytest.raises(BufferError):  # the buffer is the frame's until it is released
        packer.pack([1, 2])
    wire.release_frame(packer, (header, body))
    (small,) = wire.pack_frame(packer, [wire.Kind.PING.value, 2], 1 << 20)
    assert wire.parse_message(small[wire.HEADER.size:])[1] == 2


def test_frame_parts_copy_a_large_body_and_an_oversize_frame_leaves_the_packer_usable() -> None:
    packer = wire.new_packer()
    big = b"y" * (wire.JOIN_LIMIT + 1)
    _header, body = wire.frame_parts(packer, [wire.Kind.RET.value, 1, big], 1 << 20)
    assert type(body) is bytes and wire.parse_message(body)[2] == big
    with pytest.raises(wire.FrameTooLarge):
        wire.pack_frame(packer, [wire.Kind.RET.value, 1, b"z" * 5000], 4096)
    assert wire.frame_parts(packer, [wire.Kind.PING.value, 3], 4096)[0][wire.HEADER.size:] == (
        wire.packb([wire.Kind.PING.value, 3]))


SURROGATE_VALUES = [
    "\udcff",  # os.fsdecode(b"\xff"): a file name byte that is not UTF-8
    "name-\udcc3\udca9",  # two escapes that would re-encode to valid UTF-8 ("é"): kept as two
    "\ud800",  # a lone high surrogate, which no decoder produced
    ("\udcfe", ["x\udc80", {"k\udcff": "v"}]),
    {"\udcff": b"\xff"},
]


@pytest.mark.parametrize("value", SURROGATE_VALUES)
def test_strings_with_surrogates_cross_exactly_as_they_were(value: object) -> None:
    (frame,) = wire.pack_frame(wire.new_packer(), [wire.Kind.RET.value, 1, value], 1 << 20)
    assert wire.parse_message(frame[wire.HEADER.size:])[2] == value
    assert wire.unpackb(wire.packb(value)) == value


def test_a_message_with_surrogates_leaves_the_packer_ready_for_the_next() -> None:
    packer = wire.new_packer()
    wire.pack_frame(packer, [wire.Kind.RET.value, 1, "\udcff"], 1 << 20)
    (plain,) = wire.pack_frame(packer, [wire.Kind.RET.value, 2, "é"], 1 << 20)
    assert plain[wire.HEADER.size:] == wire.packb([wire.Kind.RET.value, 2, "é"])


def test_a_message_with_surrogates_over_the_frame_limit_is_refused() -> None:
    with pytest.raises(wire.FrameTooLarge):
        wire.pack_frame(wire.new_packer(), [wire.Kind.RET.value, 1, "\udcff" * 2000], 4096)


# --- bounded decoding: the attacks of issue 8, finding 5 -----------------------------------------

def nested_tuples(depth: int) -> bytes:
    """The body of `depth` tuples, each the only item of the one around it: ((((),),),)."""
    body = msgpack.packb(msgpack.ExtType(1, b"\x90"))
    for _ in range(depth - 1):
        body = msgpack.packb(msgpack.ExtType(1, b"\x91" + body))
    return body


def array_of(count: int, element: bytes) -> bytes:
    """A body of one array32 of `count` copies of the encoded `element`."""
    return b"\xdd" + count.to_bytes(4, "big") + element * count


def test_tuples_nested_hundreds_deep_are_refused_without_crashing_the_process() -> None:
    # msgpack's C unpacker recursed once per tuple level, through the extension hook, until the
    # stack ran out: a 2 KB frame killed the daemon with SIGSEGV. In a child, so a crash is seen.
    script = (
        "import sys\nfrom leastpriv import wire\nfrom leastpriv.errors import ProtocolError\n"
        "body = bytes.fromhex(sys.stdin.read())\n"
        "try:\n    wire.parse_message(body)\nexcept ProtocolError:\n    print('refused')\n"
    )
    body = nested_tuples(450)
    assert len(body) < 4096
    done = subprocess.run([sys.executable, "-c", script], input=body.hex(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "refused")


def test_a_frame_of_many_empty_arrays_is_refused_before_they_are_built() -> None:
    # 16 MiB of empty arrays decoded to 1.23 GB; refused now before anything is built.
    body = array_of(wire.DEFAULT_MAX_FRAME_SIZE - 5, b"\x90")
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            wire.unpackb(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def unpack_traced(body: bytes) -> tuple[Any, int]:
    """What `body` decodes to, and the peak memory the decoding took (tracemalloc)."""
    tracemalloc.start()
    try:
        decoded = wire.unpackb(body)
        return decoded, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

@pytest.mark.parametrize("element", [
    b"\x90",                        # empty array
    b"\x80",                        # empty map
    b"\x81\x00\x00",                # map of one pair
    b"\xe0",                        # -32: a new int object per byte
    b"\xa2ab",                      # two-character str
    b"\xd4\x01\x90",                # empty tuple
])
def test_the_largest_frame_allowed_decodes_within_its_documented_memory_bound(
        element: bytes) -> None:
    values_each = 3 if element.startswith(b"\x81") else 1
    count = (wire.MAX_VALUES - 1) // values_each
    body = array_of(count, element)
    decoded, peak = unpack_traced(body)
    assert len(decoded) == count
    assert peak <= wire.decoded_size_bound(len(body))


def test_one_value_more_than_allowed_is_refused() -> None:
    assert len(wire.unpackb(array_of(wire.MAX_VALUES - 1, b"\x00"))) == wire.MAX_VALUES - 1
    with pytest.raises(ProtocolError):
        wire.unpackb(array_of(wire.MAX_VALUES, b"\x00"))


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_lists_nest_up_to_max_depth_and_no_deeper() -> None:
    deepest = nested_lists(wire.MAX_DEPTH)
    assert wire.unpackb(wire.packb(deepest)) == deepest
    with pytest.raises(ProtocolError):
        wire.unpackb(wire.packb([deepest]))


def test_tuples_nest_up_to_max_depth_and_no_deeper() -> None:
    deepest = wire.unpackb(nested_tuples(wire.MAX_DEPTH))
    assert wire.packb(deepest) == nested_tuples(wire.MAX_DEPTH)
    with pytest.raises(ProtocolError):
        wire.unpackb(nested_tuples(wire.MAX_DEPTH + 1))


def test_a_container_that_claims_more_values_than_the_body_holds_is_refused() -> None:
    with pytest.raises(ProtocolError):
        wire.unpackb(b"\xdd\x00\x01\x00\x00" + b"\x00" * 100)


@pytest.mark.parametrize("body", [
    b"\xd4\x01\x01",                             # a tuple whose payload is no array
    b"\xc7\x02\x01\x91",                         # a tuple payload cut short
    b"\xc7\x03\x01\x91\x01\x01",                 # a tuple payload with a byte left over
    b"\xd4\x02\x90",                             # an unknown extension type
    b"\x92\xc1\x00",                             # a byte msgpack never uses
])
def test_malformed_extension_payloads_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        wire.unpackb(body)


def test_a_value_the_other_end_would_refuse_is_not_sent_and_the_packer_stays_usable() -> None:
    packer = wire.new_packer()
    with pytest.raises(ProtocolError):
        wire.pack_frame(packer, [wire.Kind.RET.value, 1, nested_lists(wire.MAX_DEPTH)], 1 << 20)
    with pytest.raises(ProtocolError):
        wire.pack_frame(packer, [wire.Kind.RET.value, 1, [0] * wire.MAX_VALUES], 1 << 20)
    (small,) = wire.pack_frame(packer, [wire.Kind.PING.value, 2], 1 << 20)
    assert wire.parse_message(small[wire.HEADER.size:])[1] == 2


# --- fuzzing: any bytes are a message within the bounds, or a protocol error ---------------------

@settings(max_examples=2000, deadline=None, database=None)
@given(message=wire_frames.messages, mutations=wire_frames.mutation_lists)
def test_any_mutated_frame_decodes_within_the_bounds_or_is_refused_and_dispatch_holds(
        message: list[Any], mutations: list[tuple[int, int, int]]) -> None:
    try:
        body = wire.packb(message)
    except (ProtocolError, ValueError):  # too deep for msgpack's packer itself: refused
        return
    outcome = wire_frames.check_frame(wire_frames.mutated(body, mutations), DISPATCH, PACKER)
    assert outcome in ("refused", "protocol failure", "reply replaced by an error", "served")


@settings(max_examples=500, deadline=None, database=None)
@given(value=wire_frames.values)
def test_every_value_within_the_bounds_passes_the_walk_and_comes_back_equal(value: Any) -> None:
    body = wire.packb(value)
    wire._walk(body)  # the walk itself, not only the fast path that most bodies take
    decoded = wire.unpackb(body)
    assert wire.packb(decoded) == body


DISPATCH = wire_frames.dispatcher()
PACKER = wire.new_packer()


@pytest.mark.parametrize("value", [
    (b"x" * 8_000_000,),                                 # one tuple: its payload copied twice
    ((b"w" * 4_000_000,),),                              # two: the most bulk data may nest
    tuple((b"y" * 100_000,) for _ in range(50)),         # many tuples side by side
    ((((b"z" * 60_000,),),),),                            # nested, in a body that is not walked
])
def test_tuples_around_large_data_decode_within_the_memory_bound(value: tuple[Any, ...]) -> None:
    body = wire.packb([3, 1, value])
    decoded, peak = unpack_traced(body)
    assert decoded == [3, 1, value]
    assert peak <= wire.decoded_size_bound(len(body))


def test_tuples_nested_around_large_data_are_refused_before_they_copy_it() -> None:
    # Each level copied the payload again: 4 MB of bytes two tuples deep took 20 MB.
    with pytest.raises(ProtocolError):
        wire.unpackb(wire.packb([3, 1, (((b"z" * 4_000_000,),),)]))


def test_a_read_outlasting_the_sockets_receive_timeout_leaves_the_reader_ready_for_the_next(
        pair) -> None:
    a, b = pair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 50_000))
    reader = wire.FrameReader(b, wait=_NoWait())
    send_frames(a, [wire.Kind.RET, 1, "first"])
    assert reader.read_message() == [wire.Kind.RET, 1, "first"]
    with pytest.raises(BlockingIOError):  # nothing came within the receive timeout
        reader.read_message()
    # A frame that began to arrive is waited for whole, across receive timeouts.
    data = wire.frame(wire.new_packer(), [wire.Kind.RET, 2, "x" * 100], 1 << 20)
    a.sendall(data[:10])
    rest = threading.Timer(0.3, a.sendall, args=(data[10:],))
    rest.start()
    assert reader.read_message() == [wire.Kind.RET, 2, "x" * 100]
    rest.join()


class _NoWait:
    """Receive at once, blocking in recv itself (a `wire.ReadWait` that never spins)."""

    enabled = False

    def wait(self, timeout: float | None, *, spin: bool = True) -> bool:
        raise AssertionError("a reader that does not spin never waits before a receive")
