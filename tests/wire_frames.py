"""Frames for fuzzing the wire's decoder and the daemon's dispatch: valid messages, then mutated.

Shared by tests/test_wire.py (a few thousand examples in every run) and benchmarks/fuzz_wire.py
(a million frames). `fuzz_context`'s entrypoints are what a fuzzed CALL may reach.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from typing import Annotated, Any

import msgpack
from hypothesis import strategies as st

from leastpriv import caps, wire
from leastpriv.context import PrivContext
from leastpriv.contract import MaxLen, OneOf, Range
from leastpriv.errors import ProtocolError
from leastpriv.privileged.daemon import Daemon

fuzz_context = PrivContext("leastpriv_tests.fuzz", capabilities=[caps.CAP_CHOWN])


@fuzz_context.entrypoint
def fuzz_add_privileged(a: Annotated[int, Range(0, 1000)], b: int) -> int:
    return a + b


@fuzz_context.entrypoint
def fuzz_echo_privileged(value: bytes, items: list[int],
                         mode: Annotated[str, OneOf("r", "w")] = "r") -> tuple[bytes, list[int]]:
    return value, items


@fuzz_context.entrypoint
def fuzz_name_privileged(name: Annotated[str, MaxLen(16)], pair: tuple[int, str]) -> str:
    return name + pair[1]


ENTRYPOINTS = sorted(fuzz_context.daemon_spec(None)[0])

scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
           | st.text(max_size=20) | st.binary(max_size=40))
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=6) | st.lists(inner, max_size=6).map(tuple)
                   | st.dictionaries(st.text(max_size=8) | st.integers(0, 9), inner, max_size=5)),
    max_leaves=16,
)
payloads = st.dictionaries(st.sampled_from(["a", "b", "value", "items", "mode", "name", "pair"]),
                           values, max_size=4)
messages = st.one_of(
    st.tuples(st.just(wire.Kind.CALL.value), st.integers(0, 2**32),
              st.sampled_from(ENTRYPOINTS) | st.text(max_size=30), payloads).map(list),
    st.tuples(st.sampled_from([k.value for k in wire.Kind]), st.integers(0, 2**32)).map(list),
    st.lists(values, max_size=5),
)


def _flip(body: bytearray, at: int, byte: int) -> None:
    body[at % len(body)] = byte


def _cut(body: bytearray, at: int, byte: int) -> None:
    del body[at % len(body):]


def _insert(body: bytearray, at: int, byte: int) -> None:
    body.insert(at % (len(body) + 1), byte)


def _repeat(body: bytearray, at: int, byte: int) -> None:
    # A slice repeated `byte` times: how one container header becomes a deep nest, or one
    # element a huge array.
    start = at % len(body)
    body[start:start] = bytes(body[start:start + 1 + byte % 4]) * byte


def _nest(body: bytearray, at: int, byte: int) -> None:
    # Wrap the whole body in up to 47 one-element arrays or tuples: depth beyond the bound.
    for _ in range(byte % 48):
        body[:] = (b"\x91" + body if at % 2 else
                   msgpack.packb(msgpack.ExtType(1, b"\x91" + bytes(body))))


def _claim(body: bytearray, at: int, byte: int) -> None:
    # An array32/map32 header claiming `byte` << 16 values, for the bytes that follow.
    header = bytes([(0xDD, 0xDF)[at % 2]]) + (byte << 16).to_bytes(4, "big")
    body[at % len(body):at % len(body)] = header


MUTATIONS: tuple[Callable[[bytearray, int, int], None], ...] = (
    _flip, _cut, _insert, _repeat, _nest, _claim)
mutation_lists = st.lists(st.tuples(st.integers(0, len(MUTATIONS) - 1), st.integers(0, 2**16),
                                    st.integers(0, 255)), max_size=4)


def random_mutations(rng: random.Random) -> list[tuple[int, int, int]]:
    """Up to four mutations drawn from `rng`: many frames from one drawn seed, cheaply."""
    return [(rng.randrange(len(MUTATIONS)), rng.randrange(2**16), rng.randrange(256))
            for _ in range(rng.randrange(5))]


def mutated(body: bytes, mutations: list[tuple[int, int, int]]) -> bytes:
    """`body` with `mutations` applied in order, each (which, where, what byte or count)."""
    out = bytearray(body)
    for which, at, byte in mutations:
        if out:
            MUTATIONS[which](out, at, byte)
    return bytes(out)


def shape(value: Any) -> tuple[int, int]:
    """(nesting depth, number of values) of a decoded value, containers included."""
    if isinstance(value, (list, tuple)):
        inner = [shape(item) for item in value]
    elif isinstance(value, dict):
        inner = [shape(item) for pair in value.items() for item in pair]
    else:
        return 0, 1
    return 1 + max((d for d, _ in inner), default=0), 1 + sum(n for _, n in inner)


def dispatcher() -> Callable[[list[Any]], Any]:
    """`Daemon.run` of a daemon serving `fuzz_context` (never started: no thread, no drop)."""
    _, daemon_end = socket.socketpair()
    registry, config = fuzz_context.daemon_spec(None)
    return Daemon(daemon_end, registry, config).run


def check_frame(body: bytes, run: Callable[[list[Any]], Any], packer: Any) -> str:
    """Decode `body` and dispatch it as the daemon would; what happened, or AssertionError.

    Decoding yields a message within the bounds or `ProtocolError`; dispatching yields a reply
    that packs again, or `ProtocolError`; anything else is a defect.
    """
    try:
        message = wire.parse_message(body)
    except ProtocolError:
        return "refused"
    depth, count = shape(message)
    assert depth <= wire.MAX_DEPTH and count <= wire.MAX_VALUES, (depth, count)
    try:
        reply = run(message)
    except ProtocolError:
        return "protocol failure"
    try:
        wire.frame(packer, reply, wire.DEFAULT_MAX_FRAME_SIZE)
    except (ProtocolError, TypeError, ValueError, OverflowError):
        return "reply replaced by an error"  # as Daemon.send does
    return "served"
