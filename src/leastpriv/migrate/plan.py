"""Join filters, call sites and the capability catalog into a migration plan.

The plan answers, for one project: which commands it runs as root, what each needs (from the
catalog, never guessed), which small contexts to create (one per distinct capability set), and,
for each shape of call, a narrow ``<verb>_<object>_privileged`` function whose contract is inferred
from the literal arguments the call sites pass. What cannot be inferred is listed for review.
"""

from __future__ import annotations

import ast
import dataclasses
import keyword
import posixpath
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leastpriv import caps, sourcetree
from leastpriv.audit.model import SkippedFile
from leastpriv.migrate import catalog as command_catalog
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate import runoptions, templates
from leastpriv.migrate.callsites import FoundCall, OptionalArgs, find_call_sites
from leastpriv.migrate.model import CommandEntry, Filter, FilterProblem, RootCallSite


@dataclass(frozen=True)
class Param:
    """A variable operand of a suggested function, with the contract inferred for it."""

    name: str
    annotation: str  # Python source, e.g. 'Annotated[str, Match(r"[0-9]+")]'
    marker: str  # "PathUnder" | "Match" | "OneOf"
    # For PathUnder: the module constant holding the root, its value and where it comes from.
    root_constant: str | None = None
    root_value: str | None = None
    root_origin: str | None = None


@dataclass(frozen=True)
class Template:
    """One argv item the callers build from fixed text and varying parts: ``of={output_path}``."""

    parts: tuple[str | Param, ...]


@dataclass(frozen=True)
class OptionalPart:
    """Argv items the callers append only under a condition: ``[--cipher {cipher}]``.

    The function takes one parameter for it, which the call site always passes: None (or False,
    for items without a value) leaves the items out, a value puts them in, that value checked by
    the parameter's contract where the callers appended it (`leastpriv.migrate.callsites`).
    """

    param: Param  # its annotation is the value's contract, or "bool" without a value
    items: tuple[str | Param, ...]  # in order; `param` where the value goes

    @property
    def takes_value(self) -> bool:
        return self.param in self.items


@dataclass(frozen=True)
class SuggestedFunction:
    """One narrow privileged function replacing the call sites that share one argv shape."""

    name: str
    command: str
    program: str  # the program path it runs, fixed
    # After the program, in order: fixed literals, parameters, items built from both, and items
    # there only when a parameter says so.
    argv: tuple[str | Param | Template | OptionalPart, ...]
    call_sites: tuple[RootCallSite, ...]
    filters: tuple[Filter, ...]
    environment: tuple[tuple[str, str], ...] = ()  # from an `env VAR=value program` prefix
    # Exit codes accepted and stdin, as the callers' execute() keywords asked (runoptions).
    options: runoptions.RunOptions = runoptions.DEFAULT

    @property
    def params(self) -> list[Param]:
        out: list[Param] = []
        for item in self.argv:
            parts = item.parts if isinstance(item, Template) else (item,)
            out += [part.param if isinstance(part, OptionalPart) else part for part in parts
                    if isinstance(part, (Param, OptionalPart))]
        if self.options.stdin:
            out.append(STDIN_PARAM)
        return out


# What the callers passed as ``process_input``, as execute() fed it to the command: bytes.
STDIN_PARAM = Param("process_input", f"Annotated[bytes, MaxLen({runoptions.STDIN_LIMIT})]",
                    "MaxLen")


@dataclass(frozen=True)
class SuggestedContext:
    """One small context: the functions whose commands need exactly these capabilities."""

    name: str
    capabilities: tuple[str, ...]
    needs_uid0: bool
    functions: tuple[SuggestedFunction, ...]
    warning: str = ""


@dataclass(frozen=True)
class CommandPlan:
    """One command run as root: what the catalog says about it and who uses it."""

    command: str
    entry: CommandEntry | None  # None: not in the catalog, needs review
    filters: tuple[Filter, ...]
    call_sites: tuple[RootCallSite, ...]


@dataclass(frozen=True)
class Review:
    """Something the plan cannot decide: a maintainer has to look at it."""

    path: str
    line: int
    subject: str  # the command, or the call's function id
    reason: str


@dataclass
class Plan:
    root: str
    project: str
    filters: list[Filter]
    problems: list[FilterProblem]
    call_sites: list[RootCallSite]
    skipped: list[SkippedFile]
    commands: list[CommandPlan]
    contexts: list[SuggestedContext]
    review: list[Review] = field(default_factory=list)
    # The project runs its commands with oslo.concurrency's execute(): a generated function
    # raises its ProcessExecutionError, which is what the callers catch.
    oslo_concurrency: bool = False


UID0_WARNING = (
    "capabilities do not help: this command checks for uid 0 (or its peer's uid). Keep it behind "
    "one dedicated, narrow function run by a root daemon, or keep rootwrap/sudo with a narrow "
    "filter for it until the command itself can run unprivileged."
)


def build_plan(root: Path, *, include_tests: bool = False, jobs: int | None = None) -> Plan:
    """Read `root` (filter files, rootwrap.conf, Python sources) and plan its migration."""
    root = Path(root)
    filters, problems = filter_files.read_filters(filter_files.find_filter_files(root), root=root)
    scan = find_call_sites(root, filters, include_tests=include_tests, jobs=jobs)
    return plan_from(
        root=root.as_posix(),
        project=project_name(root),
        filters=filters,
        problems=problems,
        calls=scan.calls,
        skipped=scan.skipped,
        catalog=command_catalog.load_catalog(),
        oslo_concurrency=_uses_oslo_concurrency(root, scan.calls),
    )


def _uses_oslo_concurrency(root: Path, calls: Iterable[FoundCall]) -> bool:
    """Whether a file with a run-as-root call imports oslo.concurrency (its execute())."""
    for path in sorted({call.site.path for call in calls}):
        try:
            if "oslo_concurrency" in (root / path).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def project_name(root: Path) -> str:
    """The package a tree holds: its single top-level package, else the directory name."""
    root = Path(root).resolve()
    if root.is_dir():
        packages = sorted(
            child.name for child in root.iterdir() if sourcetree.is_file(child / "__init__.py")
        )
        if len(packages) == 1:
            return packages[0]
    return _identifier(root.stem if root.is_file() else root.name) or "project"


def plan_from(
    *,
    root: str,
    project: str,
    filters: Sequence[Filter],
    problems: Sequence[FilterProblem],
    calls: Sequence[FoundCall],
    skipped: Sequence[SkippedFile],
    catalog: object,
    oslo_concurrency: bool = False,
) -> Plan:
    """The plan for already-read filters and call sites; `catalog` answers ``lookup(command)``."""
    lookup = catalog.lookup  # type: ignore[attr-defined]
    commands = _command_plans(filters, calls, lookup)
    entries = {plan.command: plan.entry for plan in commands}
    functions, review = suggest_functions(calls, filters, project=project,
                                          oslo_concurrency=oslo_concurrency)
    review += _unknown_commands(commands)
    contexts = group_contexts(functions, entries)
    return Plan(
        root=root,
        project=project,
        filters=list(filters),
        problems=list(problems),
        call_sites=[call.site for call in calls],
        skipped=list(skipped),
        commands=commands,
        contexts=contexts,
        review=sorted(review, key=lambda item: (item.path, item.line, item.subject)),
        oslo_concurrency=oslo_concurrency,
    )


def _unknown_commands(commands: Iterable[CommandPlan]) -> list[Review]:
    """One review item per command the catalog does not know, at its first use."""
    out = []
    for command in commands:
        if command.entry is None:
            place = (command.call_sites or command.filters)[0]
            reason = "not in the capability catalog"
            out.append(Review(place.path, place.line, command.command, reason))
    return out


def _command_plans(
    filters: Sequence[Filter], calls: Sequence[FoundCall],
    lookup: Callable[[str], CommandEntry | None],
) -> list[CommandPlan]:
    by_filter: dict[str, list[Filter]] = defaultdict(list)
    by_call: dict[str, list[RootCallSite]] = defaultdict(list)
    for flt in filters:
        if flt.path != filter_files.IMPLICIT_PATH:  # rootwrap's own privsep-helper filter
            by_filter[flt.command].append(flt)
    for call in calls:
        if call.site.command is not None:
            by_call[call.site.command].append(call.site)
    return [
        CommandPlan(name, lookup(name), tuple(by_filter[name]), tuple(by_call[name]))
        for name in sorted(set(by_filter) | set(by_call))
    ]


# -- suggested functions -------------------------------------------------------------------------


def suggest_functions(
    calls: Iterable[FoundCall], filters: Sequence[Filter], *, project: str,
    oslo_concurrency: bool = False,
) -> tuple[list[SuggestedFunction], list[Review]]:
    """One function per argv shape (program, subcommand, length) and run options; the rest
    listed for review."""
    groups: dict[tuple[Shape, runoptions.RunOptions], list[FoundCall]] = defaultdict(list)
    review = []
    for call in calls:
        # Through a **kwargs dict (via "kwargs"), --apply never rewrites the call: the function
        # is a suggestion from what the call shows.
        options = runoptions.read(kw for kw in call.keywords
                                  if not (kw[0] == "**" and call.site.via == "kwargs"))
        reason = _unplannable(call) or (options if isinstance(options, str) else "")
        if not reason and options != runoptions.DEFAULT and not oslo_concurrency:
            reason = ("exit codes or stdin are taken over only from oslo.concurrency's "
                      "execute(), which this project does not use")
        if reason:
            review.append(Review(call.site.path, call.site.line, call.site.function, reason))
        else:
            groups[(_shape(call), options)].append(call)  # type: ignore[index]
    by_name = {flt.name: flt for flt in filters}
    functions: list[SuggestedFunction] = []
    taken: set[str] = set()
    for key in sorted(groups, key=_group_order):
        function = _function_for(groups[key], by_name, project=project, taken=taken,
                                 options=key[1])
        taken.add(function.name)
        functions.append(function)
    return functions, review


def _group_order(key: tuple[Shape, runoptions.RunOptions]) -> tuple[object, ...]:
    (command, subcommand, length, optional), options = key
    codes = (-1,) if options.ok_codes is None else options.ok_codes
    return (command or "", subcommand, length, codes != (0,), codes, options.stdin,
            repr(optional))


def _unplannable(call: FoundCall) -> str:
    site = call.site
    if site.via == "root_helper" and not site.argv:
        return "root helper: every command it runs needs its own plan"
    if site.command is None:
        return "the command is not a literal: find what it runs and plan that"
    if any(source == "*" for source in call.sources):
        what = f" ({call.unknown})" if call.unknown else ""
        return f"part of the argv is built at run time{what}: list its operands and type them"
    return ""


# A call's shape: its program (None when not a literal), its subcommand ("" when none), how many
# words it has, and where it appends which items under a condition (the kind of test and the
# items, not the name tested).
Shape = tuple[str | None, str, int, tuple[tuple[int, str, tuple[str | None, ...]], ...]]


def _shape(call: FoundCall) -> Shape:
    argv = call.site.argv[program_index(call.site.argv):]
    subcommand = argv[1] if len(argv) > 1 and argv[1] and not argv[1].startswith("-") else ""
    optional = tuple((index, part.test, part.items) for index, part in call.optional)
    return (call.site.command, subcommand, len(argv), optional)


def program_index(argv: Sequence[str | None]) -> int:
    """Where the program is in `argv`: after an ``env VAR=value`` prefix, else 0."""
    if not argv or argv[0] is None or Path(argv[0]).name != "env":
        return 0
    index = 1
    while index < len(argv) and argv[index] is not None and "=" in argv[index]:  # type: ignore[operator]
        index += 1
    return index


def _function_for(
    calls: list[FoundCall], filters: dict[str, Filter], *, project: str, taken: set[str],
    options: runoptions.RunOptions = runoptions.DEFAULT,
) -> SuggestedFunction:
    first = calls[0]
    start = program_index(first.site.argv)
    program = _program_path(first, filters, start)
    environment = tuple(
        tuple(item.split("=", 1)) for item in first.site.argv[1:start] if item is not None
    )
    argv: list[str | Param | Template | OptionalPart] = []
    names: set[str] = set()
    role = _FIRST_OPERAND_ROLE.get(first.site.command or "")
    optional = dict(first.optional)
    for position in range(start + 1, len(first.site.argv)):
        if position in optional:
            conditions = [dict(call.optional)[position].condition for call in calls]
            argv.append(_optional_part(optional[position], conditions, position - start, names,
                                       project=project, command=first.site.command or ""))
            continue
        values = [call.site.argv[position] for call in calls]
        sources = [call.origins[position] if call.origins else call.sources[position]
                   for call in calls]
        # Operands of file commands are paths; their flags ("-R", "g+w") are not.
        path_like = first.site.command in _PATH_COMMANDS and not (values[0] or "").startswith("-")
        display = [call.sources[position] for call in calls]
        if role and path_like:
            # chown OWNER PATH...: the first operand is an owner (or mode), not a path.
            display, path_like, role = [role] * len(calls), False, None
        built = _template(values, display, position - start, names, project=project,
                          command=first.site.command or "", path_like=path_like)
        if built is not None:
            argv.append(built)
            continue
        operand = _operand(
            values, sources, position - start, names, project=project, path_like=path_like,
            command=first.site.command or "", display=display,
        )
        argv.append(operand)
    sites = tuple(call.site for call in calls)
    matched = tuple(dict.fromkeys(filters[s.filter] for s in sites if s.filter in filters))
    suggested = function_name(
        first.site.command or "", first.site.argv[start:], first.sources[start:]
    )
    name = unique_name(suggested, taken)
    return SuggestedFunction(
        name, first.site.command or "", program, tuple(argv), sites, matched,
        environment, options,  # type: ignore[arg-type]
    )


_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _program_path(call: FoundCall, filters: dict[str, Filter], start: int) -> str:
    """A fixed, absolute program path: the filter's, else the caller's when absolute."""
    site_filter = filters.get(call.site.filter or "")
    # EnvFilter's exec path is "env", not the command: only a path naming the command is kept.
    exec_path = site_filter.exec_path if site_filter is not None else ""
    if exec_path.startswith("/") and Path(exec_path).name == call.site.command:
        return exec_path
    first = call.site.argv[start] or ""
    if first.startswith("/"):
        return first
    # Resolved here, on a fixed search path, so the stub never depends on the caller's $PATH.
    found = shutil.which(call.site.command or "", path=_SYSTEM_PATH)
    return found or f"/usr/bin/{call.site.command}"


# -- contracts -----------------------------------------------------------------------------------

# Identifier shapes, by what the caller's expression is called. None of them may start with "-":
# an operand that starts with a dash is read as an option by the program it is passed to.
_UUID = r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}"
_UUID_HINT = re.compile(r"uuid|_id\b|^id$")
_IDENTIFIER_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(hint), regex)
    for hint, regex in (
        # An iSCSI qualified name (RFC 3720 3.2.6.3): iqn., eui. or naa. forms.
        (r"iqn|initiator", r"iqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9.-]+(:[A-Za-z0-9_.:-]+)?"
                           r"|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32}"),
        (_UUID_HINT.pattern, _UUID),
        # An NFS (host:/path) or CIFS (//host/share) export.
        (r"export", r"[A-Za-z0-9_.:\[\]-]+:/[A-Za-z0-9_./-]*|//[A-Za-z0-9_.-]+/[A-Za-z0-9_.$/-]+"),
        (r"\bip\b|addr|cidr|address", r"[0-9a-fA-F.:]+(/[0-9]{1,3})?"),
        # A system user or group; not a CHAP or API user name (cinder generates those mixed-case).
        (r"uid|gid|owner|group|(?<!auth_)(?<!chap_)user", r"[0-9]+|[a-z_][a-z0-9_-]{0,31}"),
        (r"mode|perm", r"[0-7]{3,4}|[ugoa]*[-+=][rwxXst]+"),
        (r"size|count|bytes|length|\bbs\b|seek|skip|offset", r"[0-9]+[bkKmMgGtT]?"),
        # Not dev_name or device_name: a device-mapper or mapping name ('crypt-<volume>').
        (r"dev(ice)?(?!ice|_name)", r"/dev/[A-Za-z0-9_./:-]+"),
        # Whole words only: "export_location" holds "port" and is not a number.
        (r"(?<![a-z])(port|pid|num|index)(?![a-z])", r"[0-9]+"),
    )
)
# The rules above checked against the parameter's name before any path rule.
_NAMED_FIRST = 7
_NAME_REGEX = r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]*"
# A Linux interface name: at most 15 bytes (IFNAMSIZ - 1).
_INTERFACE = r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}"
# A MAC address (port_mac, mac_address), as ip and ovs-vsctl take it: six colon-separated octets.
_MAC = r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}"
_MAC_HINT = re.compile(r"(^|_)mac($|_)")
_INTERFACE_HINT = re.compile(r"dev|device|iface|interface|link|port|bridge|tap|veth|nic")
_NETWORK_COMMANDS = frozenset({
    "ip", "tc", "bridge", "brctl", "ethtool", "ovs-vsctl", "ovs-ofctl", "arping", "sysctl",
})
_DEVICE_PATH = re.compile(r"(^|_)dev(ice)?_path(_[0-9]+)?$")
_PATH_HINT = re.compile(r"path|file|dir|mount|folder|log|\.join\(|^['\"]?/")
_PATH_COMMANDS = frozenset({
    "chown", "chmod", "chgrp", "rm", "mkdir", "rmdir", "cp", "mv", "cat", "tee", "truncate",
    "touch", "ln", "find", "du", "df", "stat", "readlink", "chattr",
})


# The role of the first operand of commands whose later operands are paths.
_FIRST_OPERAND_ROLE = {"chown": "owner", "chgrp": "group", "chmod": "mode"}


# Documentation-level names of KEY=VALUE operands and --option= values (dd(1), targetcli, …),
# used when the caller's own expression does not name the value (``units.Mi``).
_KEY_NAMES = {
    "if": "input_path", "of": "output_path", "bs": "block_size", "count": "count",
    "seek": "seek", "skip": "skip", "target": "target_iqn", "reference": "reference_path",
    "size": "size", "conv": "conversion", "iflag": "input_flags", "oflag": "output_flags",
}
_PATH_KEYS = frozenset({"if", "of", "reference", "file", "path", "config", "keyfile"})
_GENERIC_NAMES = frozenset({"value", "arg", "args", "item", "x", "s", "v", "val", "data"})


def _template(
    values: list[str | None],
    display: list[str],
    position: int,
    names: set[str],
    *,
    project: str,
    command: str,
    path_like: bool,
) -> Template | None:
    """The item as fixed text and parameters, when every caller builds it the same way.

    None when the callers do not share one shape with fixed text (then the item is one
    parameter), or when a caller's literal does not fit that shape.
    """
    shapes = {templates.literal_text(templates.parse(source))
              for source, value in zip(display, values, strict=True) if value is None}
    if len(shapes) != 1:
        return None
    (shape,) = shapes
    if all(text == "\0" for text in shape):
        return None  # nothing fixed around it: an ordinary operand
    # Per expression of the shape: what each call site passes there (a literal or a source).
    columns: list[list[tuple[str | None, str]]] = [[] for text in shape if text == "\0"]
    for source, value in zip(display, values, strict=True):
        if value is None:
            pieces = [str(part) for part in templates.parse(source)
                      if isinstance(part, templates.Expr)]
            for column, piece in zip(columns, pieces, strict=True):
                column.append((None, piece))
        else:
            split = templates.split_literal(value, shape)
            if split is None:
                return None
            for column, piece in zip(columns, split, strict=True):
                column.append((piece, repr(piece)))
    parts: list[str | Param] = []
    expressions = iter(columns)
    previous = ""
    for text in shape:
        if text != "\0":
            parts.append(text)
            previous = text
            continue
        column = next(expressions)
        key = re.sub(r"^-+", "", previous.rsplit(" ", 1)[-1]).rstrip("=:").lower()
        name = _expression_name([source for _, source in column], key, position, names)
        names.add(name)
        literals = [value for value, _ in column]
        variable = next(source for value, source in column if value is None)
        if previous.endswith("/"):
            # '/dev/mapper/%s' % dev_name: one component of a path the caller wrote, a name (no
            # "/", not "." or ".."), never an absolute path of its own.
            param = Param(name, f'Annotated[str, Match(r"{_NAME_REGEX}")]', "Match")
        else:
            param = infer_contract(name, variable, project=project,
                                   path_like=path_like or key in _PATH_KEYS, command=command)
        parts.append(widen(param, [v for v in literals if v is not None]))
    return Template(tuple(parts))


def _expression_name(sources: list[str], key: str, position: int, taken: set[str]) -> str:
    """The callers' own name for a value (``volume_file``), else the key's documented meaning."""
    candidates = {_identifier(source.rsplit(".", 1)[-1]) for source in sources
                  if re.fullmatch(r"[A-Za-z_][\w.]*", source)}
    own = [name for name in candidates if name and name not in _GENERIC_NAMES and len(name) > 2
           and not any(source.rsplit(".", 1)[-1].isupper() or source.startswith("units.")
                       for source in sources)]
    fallback = _KEY_NAMES.get(key) or _identifier(key) or f"arg{position}"
    return unique_name(own[0] if len(own) == 1 else fallback, taken, suffix="")


def _optional_part(
    part: OptionalArgs, conditions: list[str], position: int, names: set[str], *, project: str,
    command: str,
) -> OptionalPart:
    """The parameter for items the callers append when their `conditions` hold: named after the
    names the callers test, its contract inferred from that name as for any operand."""
    name = _param_name(conditions, position, names)
    names.add(name)
    if not part.takes_value:
        return OptionalPart(Param(name, "bool", ""), tuple(i or "" for i in part.items))
    key = re.sub(r"^-+", "", next((i for i in part.items if i), "")).lower()
    param = infer_contract(name, name, project=project, path_like=key in _PATH_KEYS,
                           command=command)
    return OptionalPart(param, tuple(param if item is None else item for item in part.items))


def widen(param: Param, literals: Iterable[str]) -> Param:
    """`param`, its contract widened where a caller's literal would not pass it.

    A `Match` gains the literal itself as an alternative; a `PathUnder` whose root was guessed
    takes the literals' common directory (``/dev`` for ``/dev/null``) as a second root.
    """
    literals = sorted(set(literals))
    if param.marker == "Match":
        regex = re.search(r'Match\(r"(.*)"\)', param.annotation)
        if regex is None:
            return param
        pattern = regex.group(1)
        missing = [v for v in literals if re.fullmatch(pattern, v, re.ASCII) is None]
        if not missing:
            return param
        wider = "|".join([pattern] + [re.escape(v) for v in missing])
        return dataclasses.replace(param, annotation=f'Annotated[str, Match(r"{wider}")]')
    if param.marker == "PathUnder" and literals:
        outside = [v for v in literals
                   if not (v.startswith("/") and v.startswith((param.root_value or "") + "/"))]
        if not outside:
            return param
        extra = sorted({posixpath.dirname(v) or "/" for v in outside if v.startswith("/")})
        special = any(v.startswith("/dev/") for v in outside)
        roots = ", ".join([param.root_constant or "ROOT"] + [repr(d) for d in extra])
        flag = ", allow_special=True" if special else ""
        return dataclasses.replace(param, annotation=f"Annotated[str, PathUnder({roots}{flag})]")
    return param


def _operand(
    values: list[str | None],
    sources: list[str],
    position: int,
    names: set[str],
    *,
    project: str,
    path_like: bool = False,
    command: str = "",
    display: list[str] | None = None,
) -> str | Param:
    """A fixed literal when every call site passes the same one, else a typed parameter.

    `sources` are what the callers' operands stand for (used for the contract), `display` the
    expressions as written (used for the parameter's name).
    """
    literals = {value for value in values if value is not None}
    if None not in values and len(literals) == 1:
        return values[0]  # type: ignore[return-value]
    name = _param_name(display or sources, position, names)
    names.add(name)
    if None not in values:
        choices = ", ".join(repr(value) for value in sorted(literals))
        return Param(name, f"Annotated[str, OneOf({choices})]", "OneOf")
    source = name if display and name in _FIRST_OPERAND_ROLE.values() else next(
        source for source, value in zip(sources, values, strict=False) if value is None)
    param = infer_contract(name, source, project=project, path_like=path_like, command=command)
    return widen(param, [value for value in values if value is not None])


def infer_contract(
    name: str, source: str, *, project: str, path_like: bool = False, command: str = ""
) -> Param:
    """The narrowest contract the caller's expression suggests for one operand.

    Its name decides first (``uid``, ``mode``, ``size`` are never paths, whatever the command),
    then whether it looks like a path, then what kind of identifier it is.
    """
    if is_boolean(source):
        # execute() turns each argument into a string: a comparison arrives as "True"/"False".
        return Param(name, "Annotated[str, OneOf('False', 'True')]", "OneOf")
    if _MAC_HINT.search(name):
        return Param(name, f'Annotated[str, Match(r"{_MAC}")]', "Match")
    # port_id is a port's UUID, not an interface: the identifier rules' uuid and _id go first.
    if (command in _NETWORK_COMMANDS and _INTERFACE_HINT.search(name)
            and not _UUID_HINT.search(name)):
        return Param(name, f'Annotated[str, Match(r"{_INTERFACE}")]', "Match")
    for hint, regex in _IDENTIFIER_RULES[:_NAMED_FIRST]:
        if hint.search(name):
            return Param(name, f'Annotated[str, Match(r"{regex}")]', "Match")
    if _DEVICE_PATH.search(name):
        # A device node (blkid, mdadm, nvme, cryptsetup on a volume's device): beneath /dev, where
        # every node is special; the guessed /var/lib/<project> would refuse every real one.
        return Param(name, "Annotated[str, PathUnder(DEV_DIR, allow_special=True)]", "PathUnder",
                     "DEV_DIR", "/dev", "literal")
    if path_like or _PATH_HINT.search(source.lower()) or _PATH_HINT.search(name):
        constant, value, origin = path_root(source, name, project=project)
        return Param(
            name, f"Annotated[str, PathUnder({constant})]", "PathUnder", constant, value, origin
        )
    lowered = f"{name} {source.lower()}"
    for hint, regex in _IDENTIFIER_RULES:
        if hint.search(lowered):
            return Param(name, f'Annotated[str, Match(r"{regex}")]', "Match")
    return Param(name, f'Annotated[str, Match(r"{_NAME_REGEX}")]', "Match")


def is_boolean(source: str) -> bool:
    """Whether the caller's expression is a comparison or a boolean operation."""
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, (ast.Compare, ast.BoolOp)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))


_JOIN_HEAD = re.compile(r"(?:os\.path\.join|posixpath\.join)\(\s*([^,()]+)")
_CONFIG_ATTR = re.compile(r"(?:CONF|conf|configuration|config)(?:\.[A-Za-z_]\w*)*\.([A-Za-z_]\w*)$")


def path_root(source: str, name: str, *, project: str) -> tuple[str, str, str]:
    """(constant name, value, origin) of the directory a path operand should stay under.

    A literal head of ``os.path.join`` is used as it is; a configuration option names the
    constant and its origin (the deployed value must be filled in); else a per-project default.
    """
    head = source
    joined = _JOIN_HEAD.search(source)
    if joined:
        head = joined.group(1).strip()
    literal = re.fullmatch(r"""['"](/[^'"]*)['"]""", head)
    if literal:
        value = literal.group(1).rstrip("/") or "/"
        return _constant_name(Path(value).name or "root") + "_DIR", value, "literal"
    option = _CONFIG_ATTR.search(head)
    if option:
        return option.group(1).upper(), f"/var/lib/{project}", head
    return f"{_constant_name(name)}_ROOT", f"/var/lib/{project}", ""


def _constant_name(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_").upper() or "ROOT"


def _param_name(sources: list[str], position: int, taken: set[str]) -> str:
    """A parameter name from the callers' expression (``self.vg_name`` → ``vg_name``)."""
    # str(owner_uid) is named after owner_uid, properties['auth_method'] after auth_method.
    sources = [str(templates.parse(source)[0]) if len(templates.parse(source)) == 1 else source
               for source in sources]
    sources = [re.sub(r"""^.*\[['"](\w+)['"]\]$""", r"\1", source) for source in sources]
    candidates = [_identifier(source.rsplit(".", 1)[-1]) for source in sources]
    simple = [c for c in candidates if c and re.fullmatch(r"[a-z_][a-z0-9_]*", c)]
    base = simple[0] if simple and len(set(simple)) == 1 else f"arg{position}"
    return unique_name(base, taken, suffix="")


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower()
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        return ""
    return name


# -- names ---------------------------------------------------------------------------------------

# command -> (verb, object); an object of None means "name it after the path operand".
_VERB_OBJECT: dict[str, tuple[str, str | None]] = {
    "chown": ("chown", None), "chgrp": ("chgrp", None), "chmod": ("chmod", None),
    "rm": ("remove", None), "mkdir": ("create", None), "rmdir": ("remove", None),
    "touch": ("create", None), "truncate": ("truncate", None), "tee": ("write", None),
    "cat": ("read", None), "cp": ("copy", None), "mv": ("move", None), "ln": ("link", None),
    "find": ("find", None), "du": ("measure", None), "df": ("report", "disk_usage"),
    "dd": ("copy", "blocks"), "mount": ("mount", "filesystem"), "umount": ("unmount", "filesystem"),
    "mkfs": ("make", "filesystem"), "lvcreate": ("create", "logical_volume"),
    "lvremove": ("remove", "logical_volume"), "lvextend": ("extend", "logical_volume"),
    "lvchange": ("change", "logical_volume"), "lvrename": ("rename", "logical_volume"),
    "lvconvert": ("convert", "logical_volume"), "lvdisplay": ("show", "logical_volume"),
    "lvs": ("list", "logical_volumes"), "vgs": ("list", "volume_groups"),
    "pvs": ("list", "physical_volumes"), "vgcreate": ("create", "volume_group"),
    "vgremove": ("remove", "volume_group"), "pvcreate": ("create", "physical_volume"),
    "kill": ("signal", "process"), "blockdev": ("query", "block_device"),
    "losetup": ("attach", "loop_device"), "kpartx": ("map", "partitions"),
    "exportfs": ("export", "filesystems"), "sync": ("sync", "filesystems"),
    "modprobe": ("load", "kernel_module"), "sysctl": ("set", "sysctl"),
    "conntrack": ("flush", "conntrack"), "dnsmasq": ("start", "dnsmasq"),
}
# Commands whose first words are an object and a verb: `ip link set`, `qemu-img convert`.
_SUBCOMMAND_TOOLS = frozenset({
    "ip", "tc", "bridge", "brctl", "ovs-vsctl", "ovs-ofctl", "qemu-img", "cryptsetup", "iscsiadm",
    "multipath", "tgtadm", "cinder-rtstool", "nvme", "zfs", "zpool", "ploop", "iscsictl", "rbd",
})
_OBJECT_NOISE = re.compile(r"^(self|cls)_|_(path|file|name|dir)$")


def function_name(command: str, argv: Sequence[str | None], sources: Sequence[str]) -> str:
    """``<verb>_<object>_privileged`` from the command and its literal arguments."""
    verb, obj = _verb_object(command, argv, sources)
    return f"{_identifier(verb) or 'run'}_{_identifier(obj) or 'command'}_privileged"


def _verb_object(
    command: str, argv: Sequence[str | None], sources: Sequence[str]
) -> tuple[str, str]:
    words = [word for word in argv[1:] if word is not None and not word.startswith("-")]
    if command in _VERB_OBJECT:
        verb, obj = _VERB_OBJECT[command]
        return verb, obj or _path_object(argv, sources) or "file"
    if command == "ip" and len(words) >= 2:
        # ip link set DEV up -> set_link_up
        tail = argv[-1] if len(argv) > 4 and argv[-1] in words[2:] else None
        return words[1], "_".join(filter(None, (words[0], tail)))
    if command in _SUBCOMMAND_TOOLS and words:
        return words[0], command
    return "run", command


def _path_object(argv: Sequence[str | None], sources: Sequence[str]) -> str:
    """The name of the last non-literal operand (``console_log_path`` → ``console_log``)."""
    for value, source in zip(reversed(argv[1:]), reversed(sources[1:]), strict=False):
        if value is None:
            name = _identifier(source.rsplit(".", 1)[-1])
            while name and _OBJECT_NOISE.search(name):
                name = _OBJECT_NOISE.sub("", name)
            return name if name not in {"", "path", "file", "name", "target", "dest"} else ""
    return ""


def unique_name(name: str, taken: set[str], *, suffix: str = "_privileged") -> str:
    """`name`, or `name` with a number before `suffix` when it is taken."""
    if name not in taken:
        return name
    stem = name[: len(name) - len(suffix)] if suffix and name.endswith(suffix) else name
    number = 2
    while f"{stem}_{number}{suffix}" in taken:
        number += 1
    return f"{stem}_{number}{suffix}"


# -- contexts ------------------------------------------------------------------------------------

# Names for the capability sets real projects need; others are named after their capabilities.
_CONTEXT_NAMES: dict[frozenset[str], str] = {
    frozenset({"CAP_CHOWN"}): "file_owner",
    frozenset({"CAP_CHOWN", "CAP_FOWNER"}): "file_owner",
    frozenset({"CAP_FOWNER"}): "file_mode",
    frozenset({"CAP_DAC_OVERRIDE"}): "file_access",
    frozenset({"CAP_DAC_READ_SEARCH"}): "file_read",
    frozenset({"CAP_NET_ADMIN"}): "net_admin",
    frozenset({"CAP_NET_ADMIN", "CAP_NET_RAW"}): "net_admin_raw",
    frozenset({"CAP_SYS_ADMIN"}): "sys_admin",
    frozenset({"CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"}): "sys_admin_block",
    frozenset({"CAP_KILL"}): "kill",
}


def context_name(capabilities: Iterable[str], *, needs_uid0: bool = False) -> str:
    """A short name for a capability set (``{CAP_CHOWN}`` → ``file_owner``)."""
    capset = frozenset(capabilities)
    name = _CONTEXT_NAMES.get(capset)
    if name is None:
        ordered = caps.names(capset) if capset else []
        name = "_".join(cap.removeprefix("CAP_").lower() for cap in ordered) or "no_caps"
    return f"{name}_uid0" if needs_uid0 else name


def group_contexts(
    functions: Iterable[SuggestedFunction], entries: dict[str, CommandEntry | None]
) -> list[SuggestedContext]:
    """One context per distinct (capability set, needs uid 0); unknown commands are left out."""
    groups: dict[tuple[tuple[str, ...], bool], list[SuggestedFunction]] = defaultdict(list)
    for function in functions:
        entry = entries.get(function.command)
        if entry is None:
            continue  # not in the catalog: listed for review, never given guessed capabilities
        capset = tuple(caps.names(entry.capabilities)) if entry.capabilities else ()
        groups[(capset, entry.needs_uid0)].append(function)
    contexts = [
        SuggestedContext(
            name=context_name(capset, needs_uid0=uid0),
            capabilities=capset,
            needs_uid0=uid0,
            functions=tuple(sorted(members, key=lambda f: f.name)),
            warning=UID0_WARNING if uid0 else "",
        )
        for (capset, uid0), members in groups.items()
    ]
    return sorted(contexts, key=lambda ctx: ctx.name)
