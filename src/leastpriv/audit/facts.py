"""Compact, picklable facts one file yields; the per-file workers return these, never ASTs.

The visitor (`leastpriv.audit.visitor`) fills a `ModuleFacts` per file in one walk; the rules read
them, file by file or across the whole tree. Lines are 1-based, columns 0-based as in `ast`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContextFact:
    """A ``PrivContext(...)`` bound to a module-level name."""

    name: str  # the name it is bound to: "sys_admin_pctxt"
    line: int
    col: int
    cfg_section: str | None
    capabilities: tuple[str, ...]  # "CAP_*" names in kernel order
    unresolved: tuple[str, ...]  # capability expressions the analyser could not read
    framework: str  # "oslo.privsep" | "leastpriv"
    # The identity it declares, as written (``user="root"``, ``user=0``); None when it declares
    # none, which for a leastpriv daemon means it never runs as uid 0.
    user: str | None = None
    # Capability lists named from other modules (``capabilities=capsets.NET``), dotted through
    # the imports; the tree index adds what they hold to `capabilities`.
    capability_refs: tuple[str, ...] = ()


# The kinds of flow in which the caller runs anything it likes; a flow of one of them subsumes a
# file flow at the same line.
EXECUTION_KINDS = frozenset(
    {"program", "argv", "shell", "command-string", "runs-program", "argv-tail", "dispatch",
     "workdir"}
)


@dataclass(frozen=True)
class FlowFact:
    """A parameter of an entrypoint that reaches a sink without a narrowing check."""

    # What the sink does with it (leastpriv.audit.sinks, leastpriv.audit.commands): "file",
    # "library", "netns", "operand", "path-option", "kernel-setting", "name-operand", or one of
    # EXECUTION_KINDS. The rules pick the kinds they report.
    kind: str
    line: int  # in the entrypoint's body: the sink, or the call that leads to it
    col: int
    sink: str  # "os.chmod", "subprocess.Popen"
    sink_line: int
    # (role, parameters) in the order met: ("as the path", ("path",)), ("as the mode", ("mode",)),
    # ("as the program", ("cmd",)), ("as an operand of rm", ("target",)). Only dangerous roles.
    reaches: tuple[tuple[str, tuple[str, ...]], ...]
    via: tuple[str, ...] = ()  # helpers between the entrypoint and the sink

    @property
    def params(self) -> tuple[str, ...]:
        """Every parameter that reaches the sink, in any role, sorted."""
        return tuple(sorted({p for _, params in self.reaches for p in params}))


@dataclass(frozen=True)
class OutCall:
    """A call to a function of another module that passes it parameters of the caller.

    Followed after the walk, through that function's `FunctionSummary`, when the callee is a
    module of the audited tree (neutron's ``read_file`` entrypoint → ``neutron.common.utils``).
    """

    target: str  # dotted, through the caller's imports: "neutron.common.utils.read_file"
    line: int  # in the function analysed: the call, or the helper call that leads to it
    col: int
    # (position, keyword, or "*N" for an unpacked sequence from position N on; its parameters)
    args: tuple[tuple[int | str, tuple[str, ...]], ...]
    via: tuple[str, ...] = ()
    # A check the entrypoint makes before everything after it: "raises" for a call written as a
    # statement of its body (``validate.check_name(name)``), "true" for ``if not f(x): raise``.
    # When the callee confines the parameter (ModuleFacts.checks), it is narrow from `line` on.
    guard: str = ""


@dataclass(frozen=True)
class FunctionSummary:
    """Where the parameters of one module-level function (or a method of a module-level class,
    as ``Class.method``) go: its flows and its calls out."""

    params: tuple[str, ...]  # positional parameters in order
    keywords: tuple[str, ...]  # every parameter a keyword may name
    flows: tuple[FlowFact, ...]
    calls: tuple[OutCall, ...]
    vararg: str | None = None  # the *args parameter, which takes the positions after `params`
    receiver: str | None = None  # a method's ``self``: the object it is called on


@dataclass(frozen=True)
class EntrypointFact:
    """A function decorated with ``<context>.entrypoint`` or ``entrypoint_with_timeout(...)``."""

    name: str  # the function's; "f" for ``f = ctx.entrypoint(g)``
    line: int  # the ``def`` line (the call's for the call form)
    col: int
    first_line: int  # the first decorator line; suppressions there apply too
    context_ref: str | None  # dotted name of the context as written, resolved through imports
    params: tuple[str, ...]
    unannotated: tuple[str, ...]
    framework: str  # "oslo.privsep" | "leastpriv"
    method: bool = False  # defined in a class or a function body, not at module level
    qualname: str = ""  # its place in the module: "flush", "Connector.flush", "outer.inner"
    flows: tuple[FlowFact, ...] = ()
    calls_out: tuple[OutCall, ...] = ()


@dataclass(frozen=True)
class CallFact:
    """A call whose callee resolves, through imports or module-level names, to a dotted name."""

    line: int
    col: int
    caller: str  # id of the enclosing function, or the module id
    target: str  # "nova.privsep.path.writefile"
    name_used: str  # as written: "nova.privsep.path.writefile", "fs.writefile"


@dataclass(frozen=True)
class RootwrapFact:
    """A use of rootwrap (or of a root helper) in Python code or in a filter file."""

    kind: str  # "run_as_root" | "root_helper" | "rootwrap_command" | "privsep_helper" | "filters"
    line: int
    col: int
    scope: str  # enclosing function id, module id, or the filter file's path
    detail: str


@dataclass(frozen=True)
class IdentityFact:
    """A ``user = NAME`` line of a configuration file section (``[privsep_osbrick]``)."""

    section: str
    line: int
    user: str


@dataclass(frozen=True)
class Suppression:
    """``# leastpriv: ignore[LPS201,LPS205] -- reason`` on one line."""

    rules: frozenset[str]
    reason: str
    malformed: str = ""  # a "# leastpriv:" comment that is no ignore[...] it can read


@dataclass
class ModuleFacts:
    """Everything the rules need to know about one file."""

    path: str  # relative to the root, with "/"
    module: str  # dotted module id; for filter files, the relative path
    kind: str = "python"  # "python" | "filters" | "config"
    parsed: bool = False  # False: the cheap pre-check found nothing worth a parse
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target
    # Module-level names assigned another name (``NET = privileged.net``): local -> dotted target.
    assigned: dict[str, str] = field(default_factory=dict)
    # Functions that confine parameters: name -> ("raises" when they return only where the
    # parameters are confined, "true" when they are when it returns true; those parameters).
    checks: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # Module-level names bound to an object (``REMOVER = Remover()``): local -> dotted callee.
    instances: dict[str, str] = field(default_factory=dict)
    star_imports: tuple[str, ...] = ()  # modules imported with ``from MODULE import *``
    # Module-level names bound to a context's decorator (``as_root = ctx.entrypoint``): the
    # context's dotted name, for the modules that import the name and decorate with it.
    decorators: dict[str, str] = field(default_factory=dict)
    imported: tuple[str, ...] = ()  # dotted modules named by imports (for files not parsed)
    contexts: list[ContextFact] = field(default_factory=list)
    entrypoints: list[EntrypointFact] = field(default_factory=list)
    calls: list[CallFact] = field(default_factory=list)
    rootwrap: list[RootwrapFact] = field(default_factory=list)
    summaries: dict[str, FunctionSummary] = field(default_factory=dict)  # non-empty ones only
    # Module-level names bound to a list of capabilities only, for contexts of other modules.
    capability_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    identities: list[IdentityFact] = field(default_factory=list)  # config files: ``user =``
    suppressions: dict[int, Suppression] = field(default_factory=dict)
    error: tuple[int, str] | None = None  # (line, message) when the file could not be read

    @property
    def top_package(self) -> str:
        return self.module.split(".", 1)[0]
