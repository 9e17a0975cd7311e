"""The sinks of the data flow, read from ``leastpriv/data/sinks.toml``.

Which calls act on files, run commands or turn a name into code, and which of their arguments
choose what they act on.

The table is data so that a sink is added by a line, not by code in the walker
(`leastpriv.audit.dataflow`), which only asks this module about the calls it meets.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from leastpriv.audit.astnames import call_operands, dotted_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

@dataclass(frozen=True)
class FileSink:
    """One group of calls that act on files, with the role of each argument."""

    kind: str
    args: tuple[str, ...]  # role per position; "" chooses nothing
    keywords: Mapping[str, str]
    # keyword -> the constant, or the names (last part) of which any, that make the call harmless
    unless: Mapping[str, object]
    # a number still chooses what the call acts on (a pid): int(pid) there is the caller's pid
    numbers: bool = False

    def harmless(self, node: ast.Call) -> bool:
        """True when the call passes a keyword of `unless` with its constant (``flags=0``) or one
        of its names (``Loader=yaml.SafeLoader``)."""
        return any(
            k.arg is not None and k.arg in self.unless and _is_one_of(k.value, self.unless[k.arg])
            for k in node.keywords
        )


def _is_one_of(node: ast.expr, wanted: object) -> bool:
    if isinstance(wanted, list):
        name = dotted_name(node)
        return name is not None and name.rsplit(".", 1)[-1] in wanted
    return isinstance(node, ast.Constant) and node.value == wanted


@dataclass(frozen=True)
class MethodSink:
    """Methods of library objects that act on files."""

    kind: str
    receivers: frozenset[str]  # the calls that make such an object (its Value.origin)
    receiver: str  # the role of the object itself when it carries a caller value; "" none
    args: tuple[str, ...]
    keywords: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sinks:
    """The sinks configured beyond the built-in ones (``extra-file-sinks``, …)."""

    files: frozenset[str] = frozenset()
    commands: frozenset[str] = frozenset()


NO_EXTRA_SINKS = Sinks()


@dataclass(frozen=True)
class SinkTable:
    """Every sink: the shipped table and the project's extra ones."""

    roles: Mapping[str, str]
    files: Mapping[str, FileSink]
    file_tails: Mapping[str, FileSink]  # "*.fileutils.x" entries, by ".fileutils.x"
    methods: Mapping[str, tuple[MethodSink, ...]]
    dispatch: frozenset[str]
    dispatch_kind: str
    getters: Mapping[str, int]  # getattr → 1: the position of the member's name
    namespaces: frozenset[str]  # globals, vars: indexed by a name, any function
    workdir: frozenset[str]
    workdir_kind: str
    workdir_keywords: frozenset[str]  # cwd=
    environment: frozenset[str]  # env=, env_variables=
    joiners: frozenset[str]  # os.path.join, pathlib.Path: a path from their arguments
    derived: frozenset[str]  # pathlib methods returning a path of the same origin
    shell: frozenset[str]
    argv: frozenset[str]
    argv_at: Mapping[str, int]  # argument-list sinks whose list is not first: NSPopen(ns, argv)
    exec_prefixes: tuple[str, ...]
    execute: frozenset[str]
    execute_suffix: str
    stdin: frozenset[str]  # keywords that give a command its standard input
    quoters: frozenset[str]  # shlex.quote: a caller value made one word of a shell line
    sanitisers: frozenset[str]  # int, ipaddress.ip_address: results carry no caller text
    programs: Mapping[str, str]  # names whose value is a known program: sys.executable
    # eventlet.spawn → 0: library calls that call the function at that position ("each": map,
    # "target": threading.Thread's keywords)
    callbacks: Mapping[str, int | str] = field(default_factory=dict)
    extra: Sinks = field(default=NO_EXTRA_SINKS)

    def role(self, role: str) -> str:
        """How a finding words `role` (``"path"`` → ``"as the path"``)."""
        return self.roles.get(role, f"as the {role}")

    def file_sink(self, name: str) -> FileSink | None:
        """The file sink `name` resolves to, through a ``*.`` tail entry when needed."""
        if name in self.files:
            return self.files[name]
        parts = name.split(".")
        return self.file_tails.get("." + ".".join(parts[-2:])) if len(parts) >= 2 else None

    def file_arguments(self, node: ast.Call, name: str) -> list[tuple[str, str, ast.expr]] | None:
        """(kind, role, argument) for each argument of a file sink that chooses what it changes;
        None when `name` is no file sink. A starred argument may land on any role: a path."""
        if name in self.extra.files:
            return [("file", "argument", arg) for arg in call_operands(node)]
        sink = self.file_sink(name)
        if sink is None:
            return None
        if sink.harmless(node):
            return []
        chosen = [
            (sink.kind, role, _number_operand(arg) if sink.numbers else arg)
            for role, arg in zip(sink.args, node.args, strict=False)
            if role and not isinstance(arg, ast.Starred)
        ]
        chosen += [(sink.kind, "path", a.value) for a in node.args if isinstance(a, ast.Starred)]
        chosen += [
            (sink.kind, sink.keywords[k.arg], k.value)
            for k in node.keywords
            if k.arg is not None and k.arg in sink.keywords
        ]
        # IPRoute(**options): the mapping may hold any keyword, the one that chooses among them.
        roles = [*sink.keywords.values(), *(r for r in sink.args if r)]
        chosen += [(sink.kind, roles[0], k.value) for k in node.keywords if k.arg is None and roles]
        return chosen

    def method_sinks(self, method: str) -> tuple[MethodSink, ...]:
        return self.methods.get(method, ())

    def matches(self, name: str, names: frozenset[str]) -> bool:
        """`name` is in `names`, directly or through a ``*.`` tail entry."""
        if name in names:
            return True
        parts = name.split(".")
        return len(parts) >= 2 and "*." + ".".join(parts[-2:]) in names

    def command_style(self, name: str) -> str | None:
        """How command sink `name` takes its command: shell, argv, exec, execute; None: no sink."""
        if name in self.shell:
            return "shell"
        if name in self.argv or name in self.argv_at:
            return "argv"
        if name.startswith(self.exec_prefixes):
            return "exec"
        last = name.rsplit(".", 1)[-1]
        if name in self.extra.commands or last in self.execute:
            return "execute"
        if last.endswith(self.execute_suffix):
            return "execute"
        return None


def _number_operand(node: ast.expr) -> ast.expr:
    """``int(pid)`` → ``pid``: the flow removes a caller's text through int(), which a number
    that is itself the choice (a pid) keeps."""
    if isinstance(node, ast.Call) and dotted_name(node.func) in ("int", "abs") and node.args:
        return node.args[0]
    return node


def _file_sinks(tables: list[Mapping[str, Any]]) -> tuple[dict[str, FileSink], dict[str, FileSink]]:
    exact: dict[str, FileSink] = {}
    tails: dict[str, FileSink] = {}
    for table in tables:
        sink = FileSink(table.get("kind", "file"), tuple(table.get("args", ())),
                        dict(table.get("keywords", {})), dict(table.get("unless", {})),
                        bool(table.get("numbers", False)))
        for name in table["names"]:
            (tails if name.startswith("*.") else exact)[name.removeprefix("*")] = sink
    return exact, tails


def _method_sinks(tables: list[Mapping[str, Any]]) -> dict[str, tuple[MethodSink, ...]]:
    found: dict[str, list[MethodSink]] = {}
    for table in tables:
        sink = MethodSink(table.get("kind", "library"), frozenset(table["receivers"]),
                          table.get("receiver", ""), tuple(table.get("args", ())),
                          dict(table.get("keywords", {})))
        for name in table["names"]:
            found.setdefault(name, []).append(sink)
    return {name: tuple(sinks) for name, sinks in found.items()}


def parse(text: str, extra: Sinks = NO_EXTRA_SINKS) -> SinkTable:
    """A sink table from TOML text (KeyError or ValueError when malformed)."""
    data = tomllib.loads(text)
    files, tails = _file_sinks(data.get("file", []))
    commands = data["commands"]
    dispatch, workdir, paths = data["dispatch"], data["workdir"], data["paths"]
    return SinkTable(
        roles=dict(data.get("roles", {})),
        files=files,
        file_tails=tails,
        methods=_method_sinks(data.get("method", [])),
        dispatch=frozenset(dispatch["names"]),
        dispatch_kind=dispatch.get("kind", "dispatch"),
        getters=dict(dispatch.get("getters", {})),
        namespaces=frozenset(dispatch.get("namespaces", ())),
        workdir=frozenset(workdir["names"]),
        workdir_kind=workdir.get("kind", "workdir"),
        workdir_keywords=frozenset(workdir.get("keywords", ())),
        environment=frozenset(workdir.get("environment", ())),
        joiners=frozenset(paths.get("joiners", ())),
        derived=frozenset(paths.get("derived", ())),
        shell=frozenset(commands["shell"]),
        argv=frozenset(commands["argv"]),
        argv_at=dict(commands.get("argv_at", {})),
        exec_prefixes=tuple(commands["exec_prefixes"]),
        execute=frozenset(commands["execute"]),
        execute_suffix=commands["execute_suffix"],
        stdin=frozenset(commands.get("stdin", ())),
        quoters=frozenset(commands.get("quoters", ())),
        sanitisers=frozenset(data["values"]["sanitisers"]),
        programs=dict(commands.get("programs", {})),
        callbacks=dict(data.get("callbacks", {})),
        extra=extra,
    )


@functools.lru_cache(maxsize=8)
def load(extra: Sinks = NO_EXTRA_SINKS) -> SinkTable:
    """The shipped table, with the project's extra sinks (read once per process and setting)."""
    text = resources.files("leastpriv").joinpath("data/sinks.toml").read_text(encoding="utf-8")
    return parse(text, extra)
