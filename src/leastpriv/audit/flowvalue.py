"""What an expression carries in the data flow: parameter labels, and the list it is when known.

`Value` is the abstract value of an expression; `Elem` one element of a command line being built.
The functions here combine them (concatenation, branches that merge, list building); they know
nothing about sinks or rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EMPTY: frozenset[str] = frozenset()
MAX_VARIANTS = 8  # alternatives kept per list; beyond this only their common shape


@dataclass(frozen=True)
class Elem:
    """One element of a command line being built: its labels, and its text when it is constant."""

    labels: frozenset[str]
    const: str | None = None
    starred: bool = False  # an unpacked sequence of unknown length (``*args``)
    choices: frozenset[str] = frozenset()  # constants it may be, when branches differ
    templated: bool = False  # see Value.templated
    head: str | None = None  # see Value.head
    fixed_key: bool = False  # see Value.fixed_key

    def words(self) -> frozenset[str]:
        """The constant texts this element may hold."""
        return self.choices | ({self.const} if self.const is not None else set())


@dataclass(frozen=True)
class Value:
    """What an expression carries: parameter labels, and the elements when it is a known list."""

    labels: frozenset[str] = EMPTY
    elements: tuple[Elem, ...] | None = None
    const: str | None = None
    # The lists it may be when branches built it differently (``cmd = []`` / ``cmd = ['ip', 'netns',
    # 'exec', ns]``); each is judged on its own at a command sink.
    variants: tuple[tuple[Elem, ...], ...] = ()
    # Text where caller values sit between fixed text on both sides, under a fixed absolute
    # directory (f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"): the caller picks an entry of a
    # fixed kind, not any file.
    templated: bool = False
    # Text built from fixed text then caller values: the fixed text before the first caller value
    # (f"net.ipv4.conf.{dev}.forwarding=1" → "net.ipv4.conf."); None when a caller value comes
    # first or the value is not text. sysctl keys are judged by it.
    head: str | None = None
    # The dotted name of the call that made it (``configparser.ConfigParser``), for the methods
    # of library objects that act on files.
    origin: str | None = None
    # KEY=VALUE text whose key the code fixes, but for a caller value between fixed dotted words
    # (f"net.ipv4.conf.{dev}.forwarding=1", f"{KEY}={value}"): the caller picks no kernel setting.
    fixed_key: bool = False
    # Made by a shell quoting function (shlex.quote): one word of a shell line, whatever it holds.
    quoted: bool = False
    # A file object (or command) made from this constant path or argument list: what its write()
    # or communicate() acts on.
    opened: str | None = None
    # Text built from fixed text and values (`text`): the whole of it, each caller value's place
    # marked CALLER and text the code fixes but the walker cannot read UNKNOWN, so that a path
    # joined further (pathlib's ``/``) is judged whole.
    template: str | None = None

    def shapes(self) -> tuple[tuple[Elem, ...], ...]:
        """Every list this value may be; empty when it is not a known list."""
        if self.variants:
            return self.variants
        return (self.elements,) if self.elements is not None else ()


NOTHING = Value()
CALLER = "\0"  # a caller value's place in a `template`
UNKNOWN = "\1"  # text the code fixes but the walker cannot read (a module constant's value)
WORD = "\2"  # a caller value quoted for a shell (shlex.quote): one word, whatever it holds
# "--pid-file=" or "of=" before a path: the option is judged by the command knowledge base, the
# path after it like any other.
_OPTION = re.compile(r"(?:--?[A-Za-z][\w-]*|[a-z]+)=")
_CONVERSION = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([a-zA-Z%])")
_NUMBER = frozenset("diouxXeEfFgGc")  # "%d" % x: a number (or a character), whatever x is
_FIELD = re.compile(r"\{([^{}:!]*)(?:![rsa])?(?::([^{}]*))?\}")


def text(pieces: Sequence[str | Value]) -> Value:
    """A string built from fixed text and values (an f-string, ``"…%s…" % x``, a joined path).

    Its labels; `head`, the fixed text before the first caller value (or the ``--opt=`` that
    starts it); `templated` when the caller values sit between a fixed absolute directory and a
    fixed last path component, under any ``--opt=``: ``/proc/sys/net/ipv6/conf/{dev}/disable_ipv6``
    names an entry of a fixed kind (a ``../`` in the value still reaches only files of that name),
    while ``/run/{name}.pid`` fixes an extension, not the file. Text the walker cannot read before
    the first caller value (``PID_ROOT + "/" + x``) is taken as the code's fixed directory.
    """
    parts: list[str] = []
    labels: frozenset[str] = EMPTY
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
        elif piece.template is not None:
            labels |= piece.labels
            parts.append(piece.template)
        elif piece.labels:
            labels |= piece.labels
            parts.append(WORD if piece.quoted else CALLER)
        else:
            parts.append(piece.const if piece.const is not None else UNKNOWN)
    whole = "".join(parts)
    if not labels:
        return Value(const=None if UNKNOWN in whole else whole)
    option = _OPTION.match(whole)
    path = whole[option.end() :] if option else whole
    head, tail = path.split(CALLER, 1)[0], path.rsplit(CALLER, 1)[-1]
    templated = head.startswith(("/", UNKNOWN)) and "/" in tail and ".." not in whole
    # The fixed text before the first caller value, without what the walker cannot read
    # (f"{KEY}={value}" with KEY the code's: "=").
    fixed = whole.split(CALLER, 1)[0].replace(UNKNOWN, "")
    shown = option.group(0) if option else fixed or None
    fixed_key = _fixed_key(whole)
    return Value(labels, templated=templated, head=shown, template=whole, fixed_key=fixed_key)


def _fixed_key(whole: str) -> bool:
    key, equals, _ = whole.partition("=")
    if CALLER not in key:
        return bool(equals)
    before, after = key.split(CALLER, 1)[0], key.rsplit(CALLER, 1)[-1]
    return "." in before and after.startswith(".") and len(after) > 1


def percent(fmt: str, slots: Sequence[Value], named: Value) -> Value:
    """``fmt % (a, b)``: each conversion takes its slot (``%(name)s`` takes `named`); a numeric
    one (``%d``) makes a number of any value."""
    pieces: list[str | Value] = []
    start = position = 0
    for match in _CONVERSION.finditer(fmt):
        pieces.append(fmt[start : match.start()])
        start = match.end()
        if match.group(2) == "%":
            pieces.append("%")
            continue
        if match.group(1) is not None or position >= len(slots):
            value = named
        else:
            value = slots[position]
            position += 1
        pieces.append("0" if match.group(2) in _NUMBER else value)
    pieces.append(fmt[start:])
    return text(pieces)


def formatted(fmt: str, positional: Sequence[Value], named: Value) -> Value:
    """``fmt.format(a, b, key=c)``: ``{}`` and ``{0}`` take their argument, ``{key}`` `named`;
    a numeric format spec (``{:d}``) makes a number."""
    pieces: list[str | Value] = []
    start = auto = 0
    for match in _FIELD.finditer(fmt.replace("{{", "\2").replace("}}", "\3")):
        pieces.append(fmt[start : match.start()])
        start = match.end()
        field, spec = match.group(1), match.group(2) or ""
        if field == "":
            field, auto = str(auto), auto + 1
        index = int(field) if field.isdigit() else None
        value = positional[index] if index is not None and index < len(positional) else named
        pieces.append("0" if spec[-1:] in _NUMBER else value)
    pieces.append(fmt[start:])
    return text([p.replace("\2", "{").replace("\3", "}") if isinstance(p, str) else p
                 for p in pieces])


def sequence(parts: list[Elem | tuple[Elem, ...]]) -> Value:
    elements = flatten(parts)
    labelled = [e for e in elements if e.labels]
    templated = bool(labelled) and all(e.templated for e in labelled)
    return Value(join_elems(elements), tuple(elements), templated=templated)


def flatten(parts: Iterable[Elem | tuple[Elem, ...]]) -> list[Elem]:
    out: list[Elem] = []
    for part in parts:
        out.extend(part if isinstance(part, tuple) else (part,))
    return out


def concat(left: Value, right: Value) -> Value:
    labels = left.labels | right.labels
    if left.elements is not None and right.elements is not None:
        variants = tuple(dict.fromkeys(a + b for a in left.shapes() for b in right.shapes()))
        return Value(
            labels,
            left.elements + right.elements,
            variants=variants if 1 < len(variants) <= MAX_VARIANTS else (),
        )
    if left.elements is not None and right.labels and right.const is None:
        tail = (Elem(right.labels, starred=True),)
        return Value(labels, left.elements + tail, variants=tuple(v + tail for v in left.variants))
    return text([left, right])


def join(values: Iterable[Value]) -> Value:
    values = list(values)
    labels = frozenset().union(*(v.labels for v in values)) if values else EMPTY
    if len(values) == 1:
        return values[0]
    shapes = [v.elements for v in values]
    if any(shape is None for shape in shapes):
        return Value(labels)
    variants = tuple(dict.fromkeys(shape for v in values for shape in v.shapes()))
    return Value(
        labels,
        _common_shape([s for s in shapes if s is not None]),
        variants=variants if 1 < len(variants) <= MAX_VARIANTS else (),
    )


def _common_shape(shapes: list[tuple[Elem, ...]]) -> tuple[Elem, ...]:
    """Lists built differently on two branches: their common start, then one unknown tail.

    ``cmd = ['mount']`` then ``if fstype: cmd.extend(['-t', fstype])`` still has ``mount`` first.
    """
    prefix: list[Elem] = []
    for column in zip(*shapes, strict=False):
        if any(elem != column[0] for elem in column):
            break
        prefix.append(column[0])
    tails = [shape[len(prefix) :] for shape in shapes]
    if not any(tails):
        return tuple(prefix)
    heads = [tail[0] for tail in tails if tail]
    if len(heads) == len(tails) and all(
        h.words() and not h.labels and not h.starred for h in heads
    ):
        # ``['mkswap']`` on one branch, ``['mkfs', '-t', fs]`` on the other: either program.
        prefix.append(Elem(EMPTY, choices=frozenset().union(*(h.words() for h in heads))))
        tails = [tail[1:] for tail in tails]
        if not any(tails):
            return tuple(prefix)
    rest = join_elems(elem for tail in tails for elem in tail)
    return (*prefix, Elem(rest, starred=True))


def join_elems(elements: Iterable[Elem]) -> frozenset[str]:
    return frozenset().union(*(e.labels for e in elements))

