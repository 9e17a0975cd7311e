"""Where the parameters of an entrypoint go: a small taint analysis over one module.

Each parameter is a label. Labels flow through assignments, string building (f-strings, ``%``,
``+``, ``join``, ``format``), list and tuple building, ``*args`` unpacking, ``os.path.join`` and
calls into functions of the same module and closures (analysed again with the labels of their
arguments, so a helper shared by two entrypoints is judged for each); calls into other modules are
recorded as `OutCall`s and followed after the walk (`leastpriv.audit.summaries`). What counts is
the role in which a label reaches a sink: the path of a file sink (and chmod's mode) is LPS203,
the bytes written or an owner id are not; the program or the whole argument list of a command
sink is LPS204; an argument of a fixed destructive command (``rm``, ``dd of=``; not ``qemu-img
info``) is LPS203. A narrowing
check -- containment in a fixed root after normalisation, a regex match, a membership or equality
test -- removes the label from the checked name on the branch where the check held. Identifiers
passed as operands of fixed, non-destructive commands (``ip link set dev <name> up``) are not
reported: that is what a narrow privileged function looks like.

The analysis is flow-sensitive within a function (branches merge, loops run twice) and does not
model aliasing through attributes or containers beyond lists built in place; it errs towards
reporting, since a reviewer can suppress a finding with a reason.
"""

from __future__ import annotations

import ast
import dataclasses
import os.path
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from leastpriv.audit.facts import FlowFact, OutCall

Resolver = Callable[[ast.expr], "str | None"]

_EMPTY: frozenset[str] = frozenset()
_MAX_VARIANTS = 8  # alternatives kept per list; beyond this only their common shape
_MAX_DEPTH = 4  # helper-call nesting followed; deeper chains are rare and cost more than they find

# ---- sinks -------------------------------------------------------------------------------------
_OS_FILE_SINKS = frozenset(
    {
        "chmod",
        "chown",
        "lchown",
        "lchmod",
        "unlink",
        "remove",
        "rmdir",
        "removedirs",
        "makedirs",
        "mkdir",
        "mknod",
        "mkfifo",
        "rename",
        "renames",
        "replace",
        "symlink",
        "link",
        "utime",
        "truncate",
        "open",
        "chroot",
    }
)
# os.listdir, os.scandir and os.walk are not sinks: their results carry the caller's path on to
# whatever is done with the entries (nova's idmapshift lchowns every file under a caller path).
_TWO_PATH_SINKS = frozenset({"rename", "renames", "replace", "symlink", "link"})
_OS_EXEC_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")
_SHELL_SINKS = frozenset(
    {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
)
_SUBPROCESS_SINKS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
    }
)
# Names of functions imported from elsewhere that run a command: oslo.concurrency's
# processutils.execute, the many ``utils.execute`` wrappers, ``priv_execute`` and friends.
_EXECUTE_NAMES = frozenset({"execute", "trycmd", "ssh_execute", "execute_root", "custom_execute"})

# ---- commands ----------------------------------------------------------------------------------
# Programs whose operands are files or devices they change, each with why: a caller-chosen
# operand is a wide file contract even though the program itself is fixed. The capability catalog
# (leastpriv/data/commands.toml) says what each needs; this says what each can damage.
_DESTRUCTIVE: dict[str, str] = {
    "rm": "deletes the file",
    "rmdir": "deletes the directory",
    "unlink": "deletes the file",
    "shred": "overwrites the file or device",
    "dd": "writes the output file or device (of=)",
    "tee": "writes the file",
    "cp": "writes the destination",
    "mv": "moves or replaces the file",
    "ln": "creates a link where the caller says",
    "install": "writes the destination with chosen mode and owner",
    "rsync": "writes the destination tree",
    "tar": "writes the files it extracts",
    "truncate": "cuts the file",
    "touch": "creates the file",
    "mkdir": "creates the directory",
    "sed": "edits the file in place (-i)",
    "chmod": "changes the mode",
    "chown": "changes the owner",
    "chgrp": "changes the group",
    "chattr": "changes attributes (immutable, append-only)",
    "setfacl": "grants access through ACLs",
    "mount": "mounts over the target",
    "umount": "unmounts the target",
    "pstorage-mount": "mounts over the target",
    "exportfs": "exports the directory over NFS",
    "mkswap": "formats the device",
    "wipefs": "erases signatures on the device",
    "blkdiscard": "discards the device's blocks",
    "daxio": "zeroes or writes the persistent-memory device (-z, -o)",
    "parted": "rewrites the partition table",
    "sgdisk": "rewrites the partition table",
    "sfdisk": "rewrites the partition table",
    "losetup": "binds the file to a loop device (writable as the device)",
    "kpartx": "maps the device's partitions",
    "dmsetup": "maps or removes a device-mapper device",
    "cryptsetup": "formats, opens or removes an encrypted device",
    "blockdev": "flushes, re-reads or sets read-only state of the device",
    "qemu-img": "creates, converts or resizes the image",
    "qemu-nbd": "exposes the image as a writable block device",
    "ploop": "creates, resizes or restores the Virtuozzo disk",
    "prl_disk_tool": "resizes the Virtuozzo disk",
    "resize2fs": "resizes the filesystem",
    "e2fsck": "repairs (writes) the filesystem",
    "fsck": "repairs (writes) the filesystem",
    "tune2fs": "changes filesystem parameters",
    "xfs_growfs": "grows the filesystem",
    **dict.fromkeys(
        (
            "lvcreate",
            "lvremove",
            "lvextend",
            "lvreduce",
            "lvresize",
            "lvconvert",
            "lvrename",
            "lvchange",
            "vgcreate",
            "vgremove",
            "vgextend",
            "vgreduce",
            "pvcreate",
            "pvremove",
            "pvresize",
        ),
        "creates, resizes or removes LVM volumes on the device",
    ),
}
_DESTRUCTIVE_PREFIXES = ("mkfs", "fsck.", "mount.", "umount.")  # one program per filesystem
# Sub-commands (the first word after the program) that change nothing a caller could aim at:
# ``qemu-img info PATH`` opens the image read-only; ``blockdev --flushbufs`` writes out what the
# kernel would write anyway.
_READ_ONLY_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "qemu-img": frozenset({"info", "check", "compare", "map", "measure"}),
    "cryptsetup": frozenset({"status", "isLuks", "luksDump", "luksUUID"}),
    "blockdev": frozenset(
        {"--getsize64", "--getsz", "--getss", "--getbsz", "--getro", "--report", "--flushbufs"}
    ),
    "losetup": frozenset({"--list", "-l", "-a", "--all", "-j", "--associated"}),
    "ploop": frozenset({"info", "list"}),
}
# Programs that run another program named in their arguments: any caller-chosen argument may be
# that program.
_EXEC_WRAPPERS = frozenset(
    {
        "env",
        "sh",
        "bash",
        "dash",
        "sudo",
        "su",
        "runuser",
        "nsenter",
        "chroot",
        "xargs",
        "timeout",
        "nice",
        "ionice",
        "taskset",
        "setsid",
        "unshare",
        "stdbuf",
        "systemd-run",
        "python",
        "python3",
        "perl",
        "ssh",
        "find",
        "flock",
        "strace",
        "watch",
        "nohup",
        "chrt",
        "prlimit",
    }
)

# Wrappers that run a fixed program given after their own options: judge that program instead.
_TRANSPARENT_WRAPPERS = frozenset(
    {
        "env",
        "systemd-run",
        "nice",
        "ionice",
        "timeout",
        "taskset",
        "stdbuf",
        "prlimit",
        "chrt",
        "nohup",
        "setsid",
        "flock",
    }
)

# ---- roles -------------------------------------------------------------------------------------
# The role in which a parameter reaches a sink decides whether it is a finding: the path a file
# call acts on is, the bytes it writes are not.
_PATH = "as the path"
_MODE = "as the mode"
_ARGUMENT = "as an argument"  # a configured extra sink: its arguments' roles are unknown
_PATH_KEYWORDS = frozenset({"path", "src", "dst", "file", "filename"})
# oslo_utils.fileutils functions whose path is not their first argument (write_to_tempfile(
# content, path=None, suffix, prefix): the directory is the second).
_FILEUTILS_PATH_AT = {"write_to_tempfile": 1}
_SHUTIL_ONE_PATH = frozenset({"rmtree", "chown", "disk_usage"})
Reach = tuple[str, frozenset[str]]  # (role, the parameters that reach in it)

# ---- propagation -------------------------------------------------------------------------------
_SANITISERS = frozenset({"len", "bool", "isinstance", "type", "id", "hash", "callable", "hasattr"})
_NORMALISERS = frozenset({"os.path.realpath", "os.path.abspath", "os.path.normpath"})
_NORMALISING_METHODS = frozenset({"resolve", "realpath", "absolute"})
_CHECK_METHODS = frozenset({"is_relative_to", "isdigit", "isalnum", "isidentifier", "isdecimal"})
_REGEX_FUNCS = frozenset({"re.match", "re.fullmatch", "re.search"})
_VALIDATOR_SUFFIXES = (
    "is_uuid_like",
    "valid_ipv4",
    "valid_ipv6",
    "valid_mac",
    "is_valid_ipv4",
    "is_valid_ipv6",
    "is_valid_mac",
    "is_valid_cidr",
)
# leastpriv contract markers that make a parameter narrow (``Annotated[str, PathUnder(...)]``).
_NARROWING_MARKERS = frozenset({"PathUnder", "Match", "OneOf", "Range", "Literal"})


@dataclass(frozen=True)
class Elem:
    """One element of a command line being built: its labels, and its text when it is constant."""

    labels: frozenset[str]
    const: str | None = None
    starred: bool = False  # an unpacked sequence of unknown length (``*args``)
    choices: frozenset[str] = frozenset()  # constants it may be, when branches differ
    templated: bool = False  # see Value.templated

    def words(self) -> frozenset[str]:
        """The constant texts this element may hold."""
        return self.choices | ({self.const} if self.const is not None else set())


@dataclass(frozen=True)
class Value:
    """What an expression carries: parameter labels, and the elements when it is a known list."""

    labels: frozenset[str] = _EMPTY
    elements: tuple[Elem, ...] | None = None
    const: str | None = None
    # The lists it may be when branches built it differently (``cmd = []`` / ``cmd = ['ip', 'netns',
    # 'exec', ns]``); each is judged on its own at a command sink.
    variants: tuple[tuple[Elem, ...], ...] = ()
    # Text where caller values sit between fixed text on both sides, under a fixed absolute
    # directory (f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"): the caller picks an entry of a
    # fixed kind, not any file.
    templated: bool = False

    def shapes(self) -> tuple[tuple[Elem, ...], ...]:
        """Every list this value may be; empty when it is not a known list."""
        if self.variants:
            return self.variants
        return (self.elements,) if self.elements is not None else ()


_NOTHING = Value()


@dataclass(frozen=True)
class Sinks:
    """The sinks configured beyond the built-in ones."""

    files: frozenset[str] = frozenset()
    commands: frozenset[str] = frozenset()


NO_EXTRA_SINKS = Sinks()


@dataclass
class _Frame:
    """One function being analysed, with the labels its parameters carry."""

    env: dict[str, Value]
    normalised: set[str] = field(default_factory=set)
    returns: list[Value] = field(default_factory=list)
    # Functions defined in the body (nova's idmapshift wraps its lchown helper in one); called
    # with the enclosing function's variables in scope.
    closures: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)


class FlowAnalysis:
    """Follows the parameters of one entrypoint through its module; `run` returns the flows."""

    def __init__(
        self,
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
        module: str,
        resolve: Resolver,
        sinks: Sinks = NO_EXTRA_SINKS,
        *,
        aliases: Mapping[str, ast.expr] | None = None,
    ) -> None:
        self._functions = functions
        self._module = module
        self._aliases = aliases or {}
        self._resolve = resolve
        self._sinks = sinks
        self._flows: dict[tuple[str, int | str], FlowFact] = {}
        self._calls: dict[OutCall, OutCall] = {}  # ordered set: loops visit a call twice
        self._stack: list[str] = []
        self._outer_call: ast.Call | None = None

    def run(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> tuple[tuple[FlowFact, ...], tuple[OutCall, ...]]:
        """The flows from the parameters of `func` not narrowed by their annotation, and the
        calls that pass them to functions of other modules (followed after the walk)."""
        env = {name: Value(frozenset({name}), None) for name in _wide_params(func, self._aliases)}
        self._flows = {}
        self._calls = {}
        self._analyse(func, _Frame(env))
        flows = final_flows(self._flows.values())
        exec_lines = {flow.line for flow in flows if flow.rule == "LPS204"}
        calls = [c for c in self._calls.values() if c.line not in exec_lines]
        return flows, tuple(calls)

    # ---- functions -------------------------------------------------------------------------
    def _analyse(self, func: ast.FunctionDef | ast.AsyncFunctionDef, frame: _Frame) -> Value:
        self._stack.append(func.name)
        try:
            self._block(func.body, frame)
        finally:
            self._stack.pop()
        return _join(frame.returns)

    def _call_helper(
        self,
        node: ast.Call,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        frame: _Frame,
        enclosing: dict[str, Value] | None = None,
    ) -> Value:
        """Analyse `func` with its arguments' labels; `enclosing`: the variables a closure sees."""
        if func.name in self._stack or len(self._stack) > _MAX_DEPTH:
            return _join(self._value(arg, frame) for arg in _call_operands(node))
        env = {**(enclosing or {}), **_bind_arguments(func, node, lambda e: self._value(e, frame))}
        outer = self._outer_call
        self._outer_call = outer or node
        try:
            return self._analyse(func, _Frame(env))
        finally:
            self._outer_call = outer

    # ---- statements ------------------------------------------------------------------------
    def _block(self, body: Sequence[ast.stmt], frame: _Frame) -> bool:
        """Analyse `body`; True when it always leaves the block (return, raise, …)."""
        return any(self._stmt(stmt, frame) for stmt in body)

    def _stmt(self, stmt: ast.stmt, frame: _Frame) -> bool:
        if isinstance(stmt, ast.Assign):
            value = self._value(stmt.value, frame)
            for target in stmt.targets:
                self._assign(target, value, stmt.value, frame)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._assign(stmt.target, self._value(stmt.value, frame), stmt.value, frame)
        elif isinstance(stmt, ast.AugAssign):
            current = self._value(stmt.target, frame)
            self._assign(stmt.target, _concat(current, self._value(stmt.value, frame)), None, frame)
        elif isinstance(stmt, ast.Expr):
            self._value(stmt.value, frame)
        elif isinstance(stmt, ast.Return):
            frame.returns.append(self._value(stmt.value, frame) if stmt.value else _NOTHING)
            return True
        elif isinstance(stmt, ast.Raise | ast.Continue | ast.Break):
            return True
        elif isinstance(stmt, ast.If):
            return self._if(stmt, frame)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            iterated = self._value(stmt.iter, frame)
            element = Value(iterated.labels, templated=iterated.templated)
            self._loop(stmt.body + stmt.orelse, frame, (stmt.target, element))
        elif isinstance(stmt, ast.While):
            self._value(stmt.test, frame)
            self._loop(stmt.body + stmt.orelse, frame, None)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                value = self._value(item.context_expr, frame)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, value, None, frame)
            return self._block(stmt.body, frame)
        elif isinstance(stmt, ast.Try):
            return self._try(stmt, frame)
        elif isinstance(stmt, ast.Assert):
            _narrow(frame, _holds_when(stmt.test, True, frame))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            frame.closures[stmt.name] = stmt
            frame.env.pop(stmt.name, None)
        return False

    def _if(self, stmt: ast.If, frame: _Frame) -> bool:
        self._value(stmt.test, frame)
        then, other = _copy(frame), _copy(frame)
        _narrow(then, _holds_when(stmt.test, True, frame))
        _narrow(other, _holds_when(stmt.test, False, frame))
        then_leaves = self._block(stmt.body, then)
        other_leaves = self._block(stmt.orelse, other)
        frame.returns.extend(then.returns[len(frame.returns) :])
        frame.returns.extend(other.returns[len(frame.returns) :])
        live = [f for f, leaves in ((then, then_leaves), (other, other_leaves)) if not leaves]
        if live:
            _merge_into(frame, live)
        return not live

    def _loop(
        self, body: list[ast.stmt], frame: _Frame, binding: tuple[ast.expr, Value] | None
    ) -> None:
        # Twice, so a value built in one iteration reaches a sink in the next.
        for _ in range(2):
            inner = _copy(frame)
            if binding is not None:
                self._assign(binding[0], binding[1], None, inner)
            self._block(body, inner)
            frame.returns.extend(inner.returns[len(frame.returns) :])
            _merge_into(frame, [frame, inner])

    def _try(self, stmt: ast.Try, frame: _Frame) -> bool:
        leaves = self._block(stmt.body + stmt.orelse, frame)
        for handler in stmt.handlers:
            inner = _copy(frame)
            if not self._block(handler.body, inner):
                leaves = False
            frame.returns.extend(inner.returns[len(frame.returns) :])
            _merge_into(frame, [frame, inner])
        return self._block(stmt.finalbody, frame) or leaves

    def _assign(
        self, target: ast.expr, value: Value, source: ast.expr | None, frame: _Frame
    ) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
            if source is not None and self._is_normaliser(source):
                frame.normalised.add(target.id)
            else:
                frame.normalised.discard(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._assign(
                    elt.value if isinstance(elt, ast.Starred) else elt,
                    Value(value.labels, templated=value.templated),
                    None,
                    frame,
                )
        elif isinstance(target, ast.Attribute | ast.Subscript):
            base = _base_name(target)
            if base is not None and value.labels:
                old = frame.env.get(base, _NOTHING)
                frame.env[base] = Value(old.labels | value.labels, None)

    def _is_normaliser(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        if isinstance(node.func, ast.Attribute) and node.func.attr in _NORMALISING_METHODS:
            return True
        return self._resolve(node.func) in _NORMALISERS

    # ---- expressions -----------------------------------------------------------------------
    def _value(self, node: ast.expr | None, frame: _Frame) -> Value:
        if node is None:
            return _NOTHING
        if isinstance(node, ast.Constant):
            return Value(const=node.value if isinstance(node.value, str) else None)
        if isinstance(node, ast.Name):
            return frame.env.get(node.id, _NOTHING)
        if isinstance(node, ast.Call):
            return self._call(node, frame)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return _sequence([self._elem(elt, frame) for elt in node.elts])
        if isinstance(node, ast.JoinedStr) or _is_format(node):
            return self._template(node, frame)
        if isinstance(node, ast.BinOp):
            left, right = self._value(node.left, frame), self._value(node.right, frame)
            if isinstance(node.op, ast.Add):
                return _concat(left, right)
            return Value(left.labels | right.labels)
        if isinstance(node, ast.BoolOp | ast.Dict):
            return _join(self._value(part, frame) for part in node.values)
        if isinstance(
            node, ast.FormattedValue | ast.Attribute | ast.Subscript | ast.Starred | ast.Await
        ):
            inner = self._value(node.value, frame)
            return inner if isinstance(node, ast.Starred | ast.Await) else Value(inner.labels)
        if isinstance(node, ast.IfExp):
            self._value(node.test, frame)
            return _join([self._value(node.body, frame), self._value(node.orelse, frame)])
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self._comprehension(node, frame)
        if isinstance(node, ast.NamedExpr):
            value = self._value(node.value, frame)
            self._assign(node.target, value, node.value, frame)
            return value
        for child in ast.iter_child_nodes(node):  # comparisons, lambdas: visit for nested sinks
            if isinstance(child, ast.expr):
                self._value(child, frame)
        return _NOTHING

    def _template(self, node: ast.expr, frame: _Frame) -> Value:
        """An f-string or ``"…%s…" % x``; `templated` when fixed text surrounds caller values."""
        if isinstance(node, ast.JoinedStr):
            parts = [self._value(v, frame) for v in node.values]
            texts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            first, last = node.values[0], node.values[-1]
            fixed = (
                isinstance(first, ast.Constant)
                and isinstance(last, ast.Constant)
                and len(node.values) > 1
            )
            text = str(first.value) if isinstance(first, ast.Constant) else ""
        else:
            assert isinstance(node, ast.BinOp)
            parts = [self._value(node.right, frame)]
            text = node.left.value if isinstance(node.left, ast.Constant) else ""
            tail = text.rsplit("%", 1)[-1][1:] if "%" in text else ""
            fixed, texts = bool(tail), [text]
        labels = _join(parts).labels
        templated = fixed and text.startswith("/") and ".." not in "".join(map(str, texts))
        return Value(labels, templated=templated and bool(labels))

    def _elem(self, node: ast.expr, frame: _Frame) -> Elem | tuple[Elem, ...]:
        if isinstance(node, ast.Starred):
            inner = self._value(node.value, frame)
            if inner.elements is not None:
                return inner.elements
            return Elem(inner.labels, starred=True)
        value = self._value(node, frame)
        return Elem(value.labels, value.const, templated=value.templated)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, frame: _Frame
    ) -> Value:
        inner = _copy(frame)
        for generator in node.generators:
            self._assign(
                generator.target, Value(self._value(generator.iter, inner).labels), None, inner
            )
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return Value(_join(self._value(part, inner) for part in parts).labels)

    def _call(self, node: ast.Call, frame: _Frame) -> Value:
        name = self._resolve(node.func)
        if isinstance(node.func, ast.Name) and node.func.id in frame.closures:
            closure = frame.closures[node.func.id]
            return self._call_helper(node, closure, frame, enclosing=frame.env)
        local = self._local_function(node.func)
        if local is not None:
            return self._call_helper(node, self._functions[local], frame)
        receiver = self._receiver(node, frame)
        if isinstance(node.func, ast.Attribute) and receiver is not None:
            return self._method(node, node.func.attr, receiver, frame)
        args = [self._value(arg, frame) for arg in _call_operands(node)]
        if name is not None and not self._check_sink(node, name, frame) and "." in name:
            self._note_call(node, name, args)
        if name in _SANITISERS:
            return _NOTHING
        if name in ("list", "tuple", "sorted", "reversed") and len(args) == 1:
            return args[0]
        if name == "map" and len(args) == 2:
            return args[1]
        return Value(_join(args).labels)

    def _note_call(self, node: ast.Call, name: str, args: list[Value]) -> None:
        """Remember which parameters a call out of the module passes, and where."""
        bound: list[tuple[int | str, tuple[str, ...]]] = []
        for position, (arg, value) in enumerate(zip(node.args, args, strict=False)):
            if isinstance(arg, ast.Starred):
                return  # positions unknown from here on: not worth guessing
            if value.labels and not value.templated:
                bound.append((position, tuple(sorted(value.labels))))
        for keyword, value in zip(node.keywords, args[len(node.args) :], strict=True):
            if keyword.arg is not None and value.labels and not value.templated:
                bound.append((keyword.arg, tuple(sorted(value.labels))))
        if bound:
            anchor = self._outer_call or node
            call = OutCall(
                name, anchor.lineno, anchor.col_offset, tuple(bound), (*self._stack[1:],)
            )
            self._calls.setdefault(call, call)

    def _receiver(self, node: ast.Call, frame: _Frame) -> Value | None:
        """The value a method is called on, unless the callee is a module attribute (os.chmod)."""
        if not isinstance(node.func, ast.Attribute) or self._resolve(node.func) is not None:
            return None
        return self._value(node.func.value, frame)

    def _method(self, node: ast.Call, method: str, receiver: Value, frame: _Frame) -> Value:
        args = [self._value(arg, frame) for arg in _call_operands(node)]
        base = _base_name(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if base is not None and method in ("append", "extend", "insert", "add", "update"):
            added = args[-1] if args else _NOTHING
            if method == "append" or method == "add":
                added = Value(added.labels, (Elem(added.labels, added.const),))
            elif added.elements is None:
                added = Value(added.labels, (Elem(added.labels, starred=True),))
            frame.env[base] = _concat(frame.env.get(base, _NOTHING), added)
            return _NOTHING
        if method in ("split", "splitlines") and receiver.labels:
            return Value(receiver.labels, (Elem(receiver.labels, starred=True),))
        return Value(_join([receiver, *args]).labels)

    def _local_function(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name) and func.id in self._functions:
            return func.id
        name = self._resolve(func)
        if name and name.startswith(self._module + "."):
            short = name[len(self._module) + 1 :]
            return short if short in self._functions else None
        return None

    # ---- sinks -----------------------------------------------------------------------------
    def _check_sink(self, node: ast.Call, name: str, frame: _Frame) -> bool:
        """Judge a call to `name` if it is a sink; False when it is not one."""
        roles = self._file_sink_roles(node, name)
        if roles is not None:
            reaches: list[Reach] = []
            for role, arg in roles:
                value = self._value(arg, frame)
                if value.labels and not value.templated:
                    reaches.append((role, value.labels))
            if reaches:
                self._report("LPS203", node, name, reaches)
            return True
        if self._is_command_sink(name):
            self._check_command(node, name, frame)
            return True
        return False

    def _file_sink_roles(self, node: ast.Call, name: str) -> list[tuple[str, ast.expr]] | None:
        """The arguments of a file sink that choose what it changes, each with its role.

        Data written into the file, an owner id, a ``remove=`` callable or a temp-file suffix are
        left out: with the path fixed, they cannot make the call touch another file.
        """
        if name in self._sinks.files:
            return [(_ARGUMENT, arg) for arg in _call_operands(node)]
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        unknown = [(_PATH, a.value) for a in node.args if isinstance(a, ast.Starred)]
        short = name.rsplit(".", 1)[-1]
        if name in ("open", "io.open", "builtins.open"):
            positions = (_PATH,)
        elif name.split(".")[-2:-1] == ["fileutils"]:
            positions = (None,) * _FILEUTILS_PATH_AT.get(short, 0) + (_PATH,)
        elif name.startswith("shutil."):
            positions = (_PATH,) if short in _SHUTIL_ONE_PATH else (_PATH, _PATH)
        elif name.startswith("os.") and name.count(".") == 1 and short in _OS_FILE_SINKS:
            positions = _os_sink_positions(short)
        else:
            return None
        # Fewer positional arguments than roles is normal: the rest come by keyword or default.
        chosen = [(r, a) for r, a in zip(positions, args, strict=False) if r is not None]
        chosen += [(_PATH, k.value) for k in node.keywords if k.arg in _PATH_KEYWORDS]
        if _MODE in positions:
            chosen += [(_MODE, k.value) for k in node.keywords if k.arg == "mode"]
        return chosen + unknown

    def _is_command_sink(self, name: str) -> bool:
        if name in self._sinks.commands or name in _SUBPROCESS_SINKS or name in _SHELL_SINKS:
            return True
        if name.startswith(_OS_EXEC_PREFIXES):
            return True
        last = name.rsplit(".", 1)[-1]
        return last in _EXECUTE_NAMES or last.endswith("_execute")

    def _check_command(self, node: ast.Call, name: str, frame: _Frame) -> None:
        if name in _SHELL_SINKS or _keyword_true(node, "shell"):
            command = self._value(_first_arg(node), frame)
            labels = command.labels if command.elements is None else _join_elems(command.elements)
            if labels:
                self._report("LPS204", node, name, [("in a shell command line", labels)])
            return
        if name in _SUBPROCESS_SINKS or name.startswith(_OS_EXEC_PREFIXES):
            argv = self._argv_from_list(node, name, frame)
            if argv is not None:
                self._judge_argv(node, name, argv)
            return
        for argv in self._argv_variants(node, frame):
            self._judge_argv(node, name, argv)

    def _argv_variants(self, node: ast.Call, frame: _Frame) -> list[list[Elem]]:
        """``execute(*cmd, x)``: one argv per variant of each unpacked list."""
        argvs: list[list[Elem]] = [[]]
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self._value(arg.value, frame)
                shapes = value.shapes() or ((Elem(value.labels, starred=True),),)
            else:
                elem = self._elem(arg, frame)
                shapes = (elem if isinstance(elem, tuple) else (elem,),)
            argvs = [a + list(shape) for a in argvs for shape in shapes][:_MAX_VARIANTS]
        return argvs

    def _argv_from_list(self, node: ast.Call, name: str, frame: _Frame) -> list[Elem] | None:
        args = list(node.args)
        if name.startswith(("os.spawn", "os.posix_spawn")) and args and name.startswith("os.spawn"):
            args = args[1:]  # the mode comes first
        if name.startswith(_OS_EXEC_PREFIXES):
            program = self._value(args[0], frame) if args else _NOTHING
            if program.labels:
                self._report("LPS204", node, name, [("as the program", program.labels)])
                return None
            rest = [self._elem(arg, frame) for arg in args[1:]]
            flat = _flatten(rest)
            return [Elem(_EMPTY, program.const), *flat[1:]] if flat else None
        command = self._value(_first_arg(node), frame)
        if command.elements is None:
            if command.labels:
                self._report("LPS204", node, name, [("as the whole command", command.labels)])
            return None
        for variant in command.shapes()[1:]:
            self._judge_argv(node, name, list(variant))
        return list(command.shapes()[0])

    def _judge_argv(self, node: ast.Call, name: str, argv: list[Elem]) -> None:
        if not argv:
            return
        first = argv[0]
        if first.labels:
            how = "as the whole argument list" if first.starred else "as the program"
            self._report("LPS204", node, name, [(how, first.labels)])
            return
        programs = sorted(os.path.basename(word) for word in first.words())
        labels = _join_elems(argv[1:])
        if not labels:
            return
        wrapped = _wrapped_command(argv) if set(programs) <= _TRANSPARENT_WRAPPERS else None
        if (
            programs == ["ip"]
            and [e.const for e in argv[1:3]] == ["netns", "exec"]
            and len(argv) > 4
        ):
            # ``ip netns exec NS prog …``: the namespace is one operand; judge what runs in it.
            wrapped = None if argv[3].starred else argv[4:]
        if wrapped is not None:
            self._judge_argv(node, name, wrapped)
        elif any(p in _EXEC_WRAPPERS for p in programs) or _runs_subcommand(argv):
            shown = "/".join(programs)
            how = f"as arguments of {shown}, which runs a command"
            self._report("LPS204", node, name, [(how, labels)])
        elif _changes_files(programs, argv):
            self._report_operands(node, name, "/".join(programs), argv[1:])

    def _report_operands(self, node: ast.Call, name: str, program: str, args: list[Elem]) -> None:
        """A destructive command: every caller value among its arguments is one finding.

        No split into operands and option values: without each command's grammar the split is
        wrong both ways (``mount.quobyte --disable-xattrs VOLUME`` is an operand after a flag,
        ``-c CONFIG`` a path given as an option value, ``mkfs -t TYPE`` picks a program).
        """
        labels = _join_elems(args)
        if labels:
            self._report("LPS203", node, name, [(f"as an operand of {program}", labels)])

    def _report(self, rule: str, node: ast.Call, sink: str, reaches: list[Reach]) -> None:
        anchor = self._outer_call or node
        # One finding per sink (or per entrypoint line that leads to one): four os.chown calls on
        # the same path are one wide contract, not four.
        key = (rule, anchor.lineno) if self._outer_call else (rule, sink)
        old = self._flows.get(key)
        merged = merge_reaches(old.reaches if old else (), reaches)
        if old is not None:
            self._flows[key] = dataclasses.replace(old, reaches=merged)
            return
        self._flows[key] = FlowFact(
            rule, anchor.lineno, anchor.col_offset, sink, node.lineno, merged, (*self._stack[1:],)
        )


# ---- narrowing ---------------------------------------------------------------------------------
def _holds_when(test: ast.expr, outcome: bool, frame: _Frame) -> set[str]:
    """Names that a narrowing check has confined when `test` evaluated to `outcome`."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _holds_when(test.operand, not outcome, frame)
    if isinstance(test, ast.BoolOp):
        # ``a and b`` true: both hold; ``a or b`` false: neither held, so both negations hold.
        if isinstance(test.op, ast.And) == outcome:
            return set().union(*(_holds_when(v, outcome, frame) for v in test.values))
        return set()
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare_narrows(test, outcome)
    if isinstance(test, ast.Call) and outcome:
        return _call_narrows(test, frame)
    return set()


def _compare_narrows(test: ast.Compare, outcome: bool) -> set[str]:
    op, right = test.ops[0], test.comparators[0]
    positive = isinstance(op, ast.In | ast.Eq | ast.Is)
    if not isinstance(op, ast.In | ast.NotIn | ast.Eq | ast.NotEq | ast.Is | ast.IsNot):
        return set()
    if positive != outcome:
        return set()
    left = test.left
    if isinstance(left, ast.Call) and _callee_tail(left) == "commonpath":
        return {n.id for n in ast.walk(left) if isinstance(n, ast.Name)}
    if isinstance(left, ast.Name) and _is_fixed(right):
        return {left.id}
    return set()


def _call_narrows(test: ast.Call, frame: _Frame) -> set[str]:
    tail = _callee_tail(test)
    func = test.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        receiver = func.value.id
        if tail == "startswith":
            # A prefix test only confines a path once ``..`` and symlinks are resolved.
            return {receiver} if receiver in frame.normalised else set()
        if tail in _CHECK_METHODS:
            return {receiver}
    regex = tail in ("match", "fullmatch") or dotted_name(func) in _REGEX_FUNCS
    if regex or tail.endswith(_VALIDATOR_SUFFIXES):
        return {a.id for a in test.args if isinstance(a, ast.Name)}
    return set()


def _narrow(frame: _Frame, names: set[str]) -> None:
    for name in names:
        if name in frame.env:
            frame.env[name] = _NOTHING


# ---- small helpers -----------------------------------------------------------------------------
def _wide_params(
    func: ast.FunctionDef | ast.AsyncFunctionDef, aliases: Mapping[str, ast.expr]
) -> list[str]:
    """Parameters not already narrowed by a contract annotation (or a module-level alias of one)."""
    args = func.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [
        a.arg
        for a in every
        if a.arg not in ("self", "cls") and not narrowing_annotation(a.annotation, aliases)
    ]


def narrowing_annotation(
    annotation: ast.expr | None,
    aliases: Mapping[str, ast.expr],
    seen: frozenset[str] = frozenset(),
) -> bool:
    """True when `annotation` has a leastpriv marker (PathUnder, Match, OneOf, Range) or Literal,
    written in it or in a module-level alias it names (`seen` stops alias cycles)."""
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in aliases and node.id not in seen:
            if narrowing_annotation(aliases[node.id], aliases, seen | {node.id}):
                return True
            continue
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else None
        )
        if name in _NARROWING_MARKERS:
            return True
    return False


def _bind_arguments(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    call: ast.Call,
    evaluate: Callable[[ast.expr], Value],
) -> dict[str, Value]:
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    env: dict[str, Value] = {}
    extra: list[Elem] = []
    position = 0
    for arg in call.args:
        value = evaluate(arg.value if isinstance(arg, ast.Starred) else arg)
        if isinstance(arg, ast.Starred):
            # Unknown length: the unpacked values may land on any remaining parameter.
            for name in params[position:]:
                env[name] = Value(value.labels)
            extra.extend(value.elements or (Elem(value.labels, starred=True),))
            position = len(params)
        elif position < len(params):
            env[params[position]] = value
            position += 1
        else:
            extra.append(Elem(value.labels, value.const))
    if func.args.vararg is not None:
        env[func.args.vararg.arg] = Value(_join_elems(extra), tuple(extra))
    kwargs = _EMPTY
    for keyword in call.keywords:
        value = evaluate(keyword.value)
        if keyword.arg is not None and keyword.arg in params + [
            a.arg for a in func.args.kwonlyargs
        ]:
            env[keyword.arg] = value
        else:
            kwargs |= value.labels
    if func.args.kwarg is not None:
        env[func.args.kwarg.arg] = Value(kwargs)
    return env


def final_flows(flows: Iterable[FlowFact]) -> tuple[FlowFact, ...]:
    """`flows` in line order, without a wide file contract where arbitrary execution is found
    at the same line: running any command subsumes it."""
    flows = list(flows)
    exec_lines = {flow.line for flow in flows if flow.rule == "LPS204"}
    kept = [f for f in flows if f.rule == "LPS204" or f.line not in exec_lines]
    return tuple(sorted(kept, key=lambda f: (f.line, f.rule)))


def merge_reaches(
    old: Sequence[tuple[str, tuple[str, ...]]], new: list[Reach]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Roles in first-seen order; a parameter already shown in an earlier role is not repeated."""
    merged: dict[str, set[str]] = {role: set(params) for role, params in old}
    for role, labels in new:
        merged.setdefault(role, set()).update(labels)
    shown: set[str] = set()
    out = []
    for role, params in merged.items():
        fresh = params - shown
        shown |= fresh
        if fresh:
            out.append((role, tuple(sorted(fresh))))
    return tuple(out)


def _changes_files(programs: list[str], argv: list[Elem]) -> bool:
    """True when a program of `programs` writes its operands, given its sub-command."""
    first = argv[1].const if len(argv) > 1 else None
    return any(
        (p in _DESTRUCTIVE or p.startswith(_DESTRUCTIVE_PREFIXES))
        and first not in _READ_ONLY_SUBCOMMANDS.get(p, ())
        for p in programs
    )


def _os_sink_positions(short: str) -> tuple[str, ...]:
    """Roles of the positional arguments of an ``os`` file function."""
    if short in _TWO_PATH_SINKS:
        return (_PATH, _PATH)
    if short in ("chmod", "lchmod"):
        return (_PATH, _MODE)  # a caller-chosen mode can make any fixed file setuid
    return (_PATH,)


def _is_format(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mod)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
    )


def _call_operands(node: ast.Call) -> list[ast.expr]:
    return [*node.args, *(k.value for k in node.keywords)]


def _first_arg(node: ast.Call) -> ast.expr | None:
    if node.args:
        first = node.args[0]
        return first.value if isinstance(first, ast.Starred) else first
    for keyword in node.keywords:
        if keyword.arg == "args":
            return keyword.value
    return None


def _keyword_true(node: ast.Call, name: str) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    )


def _wrapped_command(argv: list[Elem]) -> list[Elem] | None:
    """``env LC_ALL=C qemu-img info PATH`` → ``qemu-img info PATH``, when that program is fixed.

    Options, ``NAME=value`` settings and numbers are skipped; None when a caller-chosen element
    comes before the inner program (the caller may then choose the program).
    """
    for index, elem in enumerate(argv[1:], start=1):
        if elem.labels or elem.starred or elem.const is None:
            return None
        word = elem.const
        if not (word.startswith("-") or "=" in word or word.replace(".", "").isdigit()):
            return argv[index:]
    return None


def _runs_subcommand(argv: list[Elem]) -> bool:
    """``ip netns exec NS CMD…``: after a constant "exec", the rest is a command."""
    consts = [e.const for e in argv]
    if "exec" not in consts:
        return False
    return bool(_join_elems(argv[consts.index("exec") + 1 :]))


def _sequence(parts: list[Elem | tuple[Elem, ...]]) -> Value:
    elements = _flatten(parts)
    labelled = [e for e in elements if e.labels]
    templated = bool(labelled) and all(e.templated for e in labelled)
    return Value(_join_elems(elements), tuple(elements), templated=templated)


def _flatten(parts: Iterable[Elem | tuple[Elem, ...]]) -> list[Elem]:
    out: list[Elem] = []
    for part in parts:
        out.extend(part if isinstance(part, tuple) else (part,))
    return out


def _concat(left: Value, right: Value) -> Value:
    labels = left.labels | right.labels
    if left.elements is not None and right.elements is not None:
        variants = tuple(dict.fromkeys(a + b for a in left.shapes() for b in right.shapes()))
        return Value(
            labels,
            left.elements + right.elements,
            variants=variants if 1 < len(variants) <= _MAX_VARIANTS else (),
        )
    if left.elements is not None and right.labels and right.const is None:
        tail = (Elem(right.labels, starred=True),)
        return Value(labels, left.elements + tail, variants=tuple(v + tail for v in left.variants))
    return Value(labels)


def _join(values: Iterable[Value]) -> Value:
    values = list(values)
    labels = frozenset().union(*(v.labels for v in values)) if values else _EMPTY
    if len(values) == 1:
        return values[0]
    shapes = [v.elements for v in values]
    if any(shape is None for shape in shapes):
        return Value(labels)
    variants = tuple(dict.fromkeys(shape for v in values for shape in v.shapes()))
    return Value(
        labels,
        _common_shape([s for s in shapes if s is not None]),
        variants=variants if 1 < len(variants) <= _MAX_VARIANTS else (),
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
        prefix.append(Elem(_EMPTY, choices=frozenset().union(*(h.words() for h in heads))))
        tails = [tail[1:] for tail in tails]
        if not any(tails):
            return tuple(prefix)
    rest = _join_elems(elem for tail in tails for elem in tail)
    return (*prefix, Elem(rest, starred=True))


def _join_elems(elements: Iterable[Elem]) -> frozenset[str]:
    return frozenset().union(*(e.labels for e in elements))


def _copy(frame: _Frame) -> _Frame:
    return _Frame(dict(frame.env), set(frame.normalised), list(frame.returns), dict(frame.closures))


def _merge_into(frame: _Frame, branches: list[_Frame]) -> None:
    names = set().union(*(b.env for b in branches))
    frame.env = {n: _join([b.env.get(n, _NOTHING) for b in branches]) for n in names}
    frame.normalised = set.intersection(*(b.normalised for b in branches))
    for branch in branches:
        frame.closures.update(branch.closures)


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _callee_tail(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_fixed(node: ast.expr) -> bool:
    """A constant, a literal collection of constants, or a module-level NAME in capitals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    if isinstance(node, ast.Dict):
        return True
    name = dotted_name(node)
    return name is not None and name.rsplit(".", 1)[-1].isupper()
