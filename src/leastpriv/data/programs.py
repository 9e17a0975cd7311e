"""How each program treats its arguments: the ``[program.NAME]`` tables of ``commands.toml``.

The capability facts of the same file (its ``[[command]]`` tables) are read by
`leastpriv.migrate.catalog`; this module reads the argument facts, for the audit (which
caller-chosen arguments are dangerous) and for migrate (which rootwrap filters give root away).
The fields are described at the top of the tables and in docs/capability-catalog.md.
"""

from __future__ import annotations

import functools
import posixpath
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["KnowledgeBase", "OperandKind", "Program", "load", "parse"]

Runs = Literal["program", "wrapper", "string"] | None
_FIELDS = frozenset({"changes", "operands", "read_only", "path_options", "program_options", "runs",
                     "string_options", "command_options", "value_options", "changes_when",
                     "subcommands", "assignments", "leading_operands", "kernel_setting",
                     "stdin_code", "prints", "gives_root", "input", "input_when",
                     "format_options", "script_arguments", "script_operand",
                     "sandbox_options"})
OperandKind = Literal["path", "name"]
_RUNS = (None, "program", "wrapper", "string")


@dataclass(frozen=True)
class Program:
    """The argument facts of one program; an unknown program has none of them."""

    name: str
    changes: str | None = None
    operands: Literal["paths", "names"] = "paths"
    read_only: frozenset[str] = frozenset()
    path_options: frozenset[str] = frozenset()
    program_options: frozenset[str] = frozenset()  # the value is a program it runs
    runs: Runs = None
    string_options: frozenset[str] = frozenset()
    script_operand: bool = False  # without a string option its first operand is its script (sed)
    sandbox_options: frozenset[str] = frozenset()  # they keep its script from running (--sandbox)
    # how the script of a string option reads the words after it: "shell" ($0, $1…), "python"
    script_arguments: Literal["shell", "python"] | None = None
    command_options: frozenset[str] = frozenset()  # find -exec: a command up to ";" or "{} +"
    value_options: frozenset[str] = frozenset()  # the value is no path, program or code
    format_options: frozenset[str] = frozenset()  # a file, then its text's format (-fprintf)
    changes_when: frozenset[str] = frozenset()  # it changes nothing without one of these words
    # sub-command -> the kinds of its operands in order (the last repeats); others: `operands`
    subcommands: Mapping[str, tuple[OperandKind, ...]] = field(default_factory=dict, hash=False)
    assignments: bool = False  # NAME=value words before its program set the environment (env)
    leading_operands: int = 0  # a wrapper's own operands before its program (timeout DURATION)
    kernel_setting: bool = False
    stdin_code: bool = False  # its standard input is code or a command line it runs (at, xargs)
    prints: bool = False  # it prints its operands' content, which the caller gets back (cat)
    gives_root: str | None = None
    # what it makes of its standard input when that is host-wide configuration (iptables-restore
    # "replaces the host's IPv4 firewall with it"), and the words of which one must be in its
    # argv for it to read standard input at all (nft -f -, ipset restore); none: it always does
    input: str | None = None
    input_when: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KnowledgeBase:
    """Every ``[program.NAME]`` table, the name prefixes, and the options that take a path."""

    programs: Mapping[str, Program]
    prefixes: Mapping[str, str]  # "mkfs." -> "mkfs": mkfs.ext4 is read as mkfs
    path_options: frozenset[str]  # for every program
    code_env: frozenset[str] = frozenset()  # variables that make a program load code ("LD_*")
    code_settings: frozenset[str] = frozenset()  # kernel settings whose value is a program
    code_files: frozenset[str] = frozenset()  # other files whose text the kernel runs

    def program(self, command: str) -> Program:
        """The facts of `command` (``/sbin/rm`` → rm), through a prefix when not named itself."""
        name = posixpath.basename(command.strip())
        if name in self.programs:
            return self.programs[name]
        for prefix, target in self.prefixes.items():
            if name.startswith(prefix) and target in self.programs:
                return self.programs[target]
        return Program(name)

    def takes_path(self, program: str, option: str) -> bool:
        """True when `option` of `program` (``-f``, ``of=``, ``--config=``) names a file."""
        return option in self.path_options or option in self.program(program).path_options

    def takes_value(self, program: str, option: str) -> bool:
        """True when `option` of `program` takes a value that is no path, program or code
        (``find -name``)."""
        return option in self.program(program).value_options

    def takes_program(self, program: str, option: str) -> bool:
        """True when the value of `option` of `program` is a program it runs
        (``--dhcp-script=``)."""
        return option in self.program(program).program_options

    def loads_code(self, variable: str) -> bool:
        """True when a program loads or runs code named by `variable` (``LD_PRELOAD``, ``PATH``)."""
        return any(
            variable == name or (name.endswith("*") and variable.startswith(name[:-1]))
            for name in self.code_env
        )

    def runs_setting(self, key: str) -> bool:
        """True when the value of kernel setting `key` is a program the kernel runs as root
        (``kernel.core_pattern``)."""
        return key in self.code_settings

    def runs_written(self, path: str) -> bool:
        """True when text written into the file at `path` is a program the kernel runs as root
        (``/proc/sys/kernel/core_pattern``, ``/sys/kernel/uevent_helper``)."""
        setting = path.removeprefix("/proc/sys/").replace("/", ".")
        return path in self.code_files or (path.startswith("/proc/sys/") and setting in
                                           self.code_settings)

    def gives_root(self) -> dict[str, str]:
        """Program → how running it as root with free arguments gives root away."""
        return {name: p.gives_root for name, p in self.programs.items() if p.gives_root}


def _program(name: str, table: Mapping[str, Any]) -> Program:
    unknown = set(table) - _FIELDS
    runs = table.get("runs")
    operands = table.get("operands", "paths")
    subcommands = {sub: tuple(kinds) for sub, kinds in table.get("subcommands", {}).items()}
    bad_kinds = any(not kinds or set(kinds) - {"path", "name"} for kinds in subcommands.values())
    bad_script = table.get("script_arguments") not in (None, "shell", "python")
    bad_operands = operands not in ("paths", "names")
    if unknown or runs not in _RUNS or bad_script or bad_operands or bad_kinds:
        raise ValueError(
            f"[program.{name}]: unknown fields {sorted(unknown)} or bad runs/operands/subcommands"
        )
    return Program(
        name=name,
        changes=table.get("changes"),
        operands=operands,
        read_only=frozenset(table.get("read_only", ())),
        path_options=frozenset(table.get("path_options", ())),
        program_options=frozenset(table.get("program_options", ())),
        runs=runs,
        string_options=frozenset(table.get("string_options", ())),
        script_operand=bool(table.get("script_operand", False)),
        sandbox_options=frozenset(table.get("sandbox_options", ())),
        script_arguments=table.get("script_arguments"),
        command_options=frozenset(table.get("command_options", ())),
        value_options=frozenset(table.get("value_options", ())),
        format_options=frozenset(table.get("format_options", ())),
        changes_when=frozenset(table.get("changes_when", ())),
        subcommands=subcommands,
        assignments=bool(table.get("assignments", False)),
        leading_operands=int(table.get("leading_operands", 0)),
        kernel_setting=bool(table.get("kernel_setting", False)),
        stdin_code=bool(table.get("stdin_code", False)),
        prints=bool(table.get("prints", False)),
        gives_root=table.get("gives_root"),
        input=table.get("input"),
        input_when=frozenset(table.get("input_when", ())),
    )


def parse(text: str) -> KnowledgeBase:
    """The argument facts of a ``commands.toml`` text; ValueError for a malformed table."""
    data = tomllib.loads(text)
    programs = {name: _program(name, table) for name, table in data.get("program", {}).items()}
    return KnowledgeBase(
        programs=programs,
        prefixes=dict(data.get("prefix", {})),
        path_options=frozenset(data.get("options", {}).get("path", ())),
        code_env=frozenset(data.get("options", {}).get("code_env", ())),
        code_settings=frozenset(data.get("options", {}).get("code_settings", ())),
        code_files=frozenset(data.get("options", {}).get("code_files", ())),
    )


@functools.lru_cache(maxsize=1)
def load() -> KnowledgeBase:
    """The knowledge base shipped with leastpriv (read once per process)."""
    text = resources.files("leastpriv").joinpath("data/commands.toml").read_text(encoding="utf-8")
    return parse(text)
