"""Run the audit over a tree: read each file once, in parallel, then judge the tree as a whole.

Two cheap passes keep the work proportional to what can matter:

1. Every file is read. Only a file that mentions a marker (``privsep``, ``PrivContext``,
   ``entrypoint``, ``rootwrap``, ``run_as_root`` …) is parsed and walked; of the others only the
   import lines are kept, read with a regex.
2. Once the modules that define entrypoints are known, the files skipped in pass 1 that import one
   of them — callers that mention no marker, like ``from vif_plug_ovs import linux_net`` — are
   parsed too, for their call sites.

Workers return `ModuleFacts` (small, picklable), never ASTs. Module-wide and tree-wide rules run
after the per-file work, in this process.
"""

from __future__ import annotations

import functools
import io
import re
import tokenize
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from leastpriv import sourcetree
from leastpriv.audit import dataflow, summaries
from leastpriv.audit.facts import FlowFact, IdentityFact, ModuleFacts, RootwrapFact
from leastpriv.audit.index import TreeIndex, defines_entrypoints, may_call
from leastpriv.audit.model import (
    AuditResult,
    CallSite,
    ContextInfo,
    EntrypointInfo,
    Finding,
    SkippedFile,
)
from leastpriv.audit.options import AuditOptions
from leastpriv.audit.rules import RULES, Hit, Rule
from leastpriv.audit.visitor import imported_modules, scan_module

__all__ = ["AuditOptions", "audit", "audit_source", "audit_with_flows"]

# A file that contains none of these cannot define a context or an entrypoint, nor use rootwrap.
_MARKERS = (
    "privsep",
    "PrivContext",
    "entrypoint",
    "privileged",
    "rootwrap",
    "run_as_root",
    "root_helper",
    "leastpriv",
)
Progress = Callable[[int, int], None]
# Configuration files whose sections may give a context an identity (``[privsep_osbrick]``).
_CONFIG_SUFFIXES = (".conf", ".conf.sample", ".ini")
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_USER = re.compile(r"^user\s*[=:]\s*([^\s#;]+)")
_DEFAULTS = AuditOptions()  # frozen, so one shared default is safe
# An expression nested deeper than the parser or the recursive walk can follow (a generated
# ``1 + 1 + ... + 1`` of a few hundred terms is enough for the walk).
_TOO_DEEP = "cannot parse: nested too deeply to analyse"


def audit(
    root: Path, options: AuditOptions = _DEFAULTS, *, progress: Progress | None = None
) -> AuditResult:
    """Audit every file under `root`; findings sorted, inline suppressions applied."""
    root = Path(root)
    facts, total = _collect(root, options, progress)
    return _result(root, facts, options, total)


def audit_with_flows(
    root: Path, options: AuditOptions = _DEFAULTS
) -> tuple[AuditResult, dict[str, tuple[FlowFact, ...]]]:
    """`audit`, and each entrypoint's flows by its id (what the rules judged, with their kinds):
    for measuring the rules against labelled code (benchmarks/audit_accuracy.py)."""
    root = Path(root)
    facts, total = _collect(root, options, None)
    result = _result(root, facts, options, total)  # composes the flows across modules
    flows = {
        f"{m.module}.{e.name}": e.flows for m in facts if m.kind == "python" for e in m.entrypoints
    }
    return result, flows


def _collect(
    root: Path, options: AuditOptions, progress: Progress | None
) -> tuple[list[ModuleFacts], int]:
    """Every file's facts (both passes), and how many files were read."""
    unreadable: list[tuple[Path, str]] = []
    files = list(
        sourcetree.iter_files(
            root,
            suffixes=(),
            include_tests=options.include_tests,
            exclude=options.exclude,
            unreadable=unreadable,
        )
    )
    python = [p for p in files if p.suffix == ".py"]
    filters = [p for p in files if _is_filter_file(root, p)]
    configs = [p for p in files if p.name.endswith(_CONFIG_SUFFIXES) and p not in filters]
    total = len(python) + len(filters) + len(configs)
    scan = functools.partial(_scan_python, root, _sinks(options), False, frozenset())
    facts = sourcetree.map_files(
        scan, python, jobs=options.jobs, progress=_offset(progress, 0, total)
    )
    facts += [_scan_filters(root, path) for path in filters]
    facts += [_scan_config(root, path) for path in configs]
    if progress is not None:
        progress(total, total)
    facts = _parse_decorated(root, facts, options)
    facts = _parse_callers(root, facts, options)
    facts += [_unreadable(_relative(root, d), why) for d, why in unreadable]
    return facts, total


def audit_source(
    source: str, *, path: str, module: str, options: AuditOptions = _DEFAULTS
) -> list[Finding]:
    """The findings one file alone can show (the file rules), suppressions applied.

    A file that does not parse yields no findings: the caller (flake8) reports syntax errors.
    """
    try:
        facts = scan_module(
            source,
            path=path,
            module=module,
            is_package=path.endswith("__init__.py"),
            sinks=_sinks(options),
        )
    except RecursionError:
        return []  # as for a syntax error: nothing to report from a file it cannot walk
    if facts.error is not None:
        return []
    return sorted(_file_findings(facts, options))


def may_matter(source: str) -> bool:
    """True when `source` names a marker: without one it defines no context or entrypoint and
    uses no rootwrap, so no file rule can find anything in it."""
    return any(marker in source for marker in _MARKERS)


# ---- per-file work (runs in worker processes) --------------------------------------------------
def _scan_python(
    root: Path,
    sinks: dataflow.Sinks,
    force: bool,
    summarise: frozenset[str],
    path: Path,
    *,
    decorators: Mapping[str, str] | None = None,
) -> ModuleFacts:
    relative = _relative(root, path)
    module = sourcetree.module_name(root, path)
    is_package = path.name == "__init__.py"
    try:
        source = _decode(path.read_bytes())
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return ModuleFacts(relative, module, error=(1, f"cannot read: {exc}"))
    if force or may_matter(source):
        try:
            return scan_module(
                source,
                path=relative,
                module=module,
                is_package=is_package,
                sinks=sinks,
                summarise=relative in summarise,
                decorators=decorators,
            )
        except RecursionError:  # one generated file must not end the whole run
            return ModuleFacts(relative, module, error=(1, _TOO_DEEP))
    return ModuleFacts(
        relative, module, imported=imported_modules(source, module=module, is_package=is_package)
    )


def _decode(data: bytes) -> str:
    """The text of a Python file as the interpreter reads it: a byte-order mark or an encoding
    cookie (``# -*- coding: latin-1 -*-``) chooses the codec, UTF-8 otherwise. A bad cookie is a
    SyntaxError, as for the interpreter."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)  # "utf-8-sig" drops the mark, which ast.parse refuses


def _scan_filters(root: Path, path: Path) -> ModuleFacts:
    """A rootwrap filter file: an LPS302 fact, and an LPS303 fact per ``privsep-helper`` filter."""
    relative = _relative(root, path)
    facts = ModuleFacts(relative, relative, kind="filters", parsed=True)
    lines = _read_lines(path, facts)
    entries = [
        (n, line)
        for n, line in enumerate(lines, start=1)
        if ":" in line and not line.lstrip().startswith(("#", "["))
    ]
    if entries:
        facts.rootwrap.append(
            RootwrapFact(
                "filters", entries[0][0], 0, relative, f"{len(entries)} filters in {path.name}"
            )
        )
    for number, line in entries:
        if "privsep-helper" in line:
            name = line.split(":", 1)[0].strip()
            facts.rootwrap.append(
                RootwrapFact(
                    "privsep_helper", number, 0, relative, f"filter '{name}' allows privsep-helper"
                )
            )
    return facts


def _read_lines(path: Path, facts: ModuleFacts) -> list[str]:
    """The file's lines; none, with the reason recorded on `facts`, when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        facts.error = (1, f"cannot read: {exc}")
        return []


def _unreadable(relative: str, why: str) -> ModuleFacts:
    """A directory the walk could not list: reported as skipped, never fatal."""
    return ModuleFacts(relative, relative, error=(0, f"cannot read directory: {why}"))


def _scan_config(root: Path, path: Path) -> ModuleFacts:
    """A configuration file: each ``user =`` line with the section it is in."""
    relative = _relative(root, path)
    facts = ModuleFacts(relative, relative, kind="config", parsed=True)
    lines = _read_lines(path, facts)
    section = ""
    for number, line in enumerate(lines, start=1):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        user = _USER.match(line)
        if user and section:
            facts.identities.append(IdentityFact(section, number, user.group(1)))
    return facts


def _parse_callers(
    root: Path, facts: list[ModuleFacts], options: AuditOptions
) -> list[ModuleFacts]:
    """Pass 2: parse the skipped files that import a module defining entrypoints, and the
    modules whose functions entrypoints pass their parameters to (summarised for that, parsed
    again when pass 1 parsed them without summaries); then, once more, the modules those
    functions call into."""
    targets = defines_entrypoints(facts)
    callers = {
        i for i, m in enumerate(facts) if _skipped(m) and may_call(m.imported, targets)
    }
    summarised: set[int] = set()
    for _ in range(summaries.MAX_DEPTH):
        helpers = {i for i in _callees(facts) if _unsummarised(facts[i])} - summarised
        if not (callers or helpers):
            break
        facts = _parse(root, facts, options, callers | helpers, helpers)
        summarised |= helpers
        callers = set()
    return facts


def _parse_decorated(
    root: Path, facts: list[ModuleFacts], options: AuditOptions
) -> list[ModuleFacts]:
    """Parse again the files that import a module binding a name to a context's decorator
    (``as_root = privileged.net.entrypoint``), knowing those names: ``@as_root`` there makes
    an entrypoint, which one file alone cannot tell. Trees without such names pay nothing."""
    known = {
        f"{m.module}.{name}": context for m in facts for name, context in m.decorators.items()
    }
    if not known:
        return facts
    known |= _reexported(facts, known)
    modules = frozenset(name.rpartition(".")[0] for name in known)
    order = [
        i
        for i, m in enumerate(facts)
        if m.kind == "python"
        and m.error is None
        and m.module not in modules
        and may_call(tuple(m.imports.values()) if m.parsed else m.imported, modules)
    ]
    scan = functools.partial(
        _scan_python, root, _sinks(options), True, frozenset(), decorators=known
    )
    parsed = sourcetree.map_files(scan, [root / facts[i].path for i in order], jobs=options.jobs)
    facts = list(facts)
    for index, module in zip(order, parsed, strict=True):
        facts[index] = module
    return facts


def _reexported(facts: list[ModuleFacts], known: dict[str, str]) -> dict[str, str]:
    """The decorator names packages re-export (``from .decorators import as_root`` in an
    ``__init__``), one hop, read from the imports of parsed and unparsed files alike."""
    found: dict[str, str] = {}
    for module in facts:
        if not module.path.endswith("__init__.py"):
            continue
        if module.parsed:
            pairs = list(module.imports.items())
        else:  # the regex keeps the imported names, not their local aliases
            pairs = [(name.rpartition(".")[2], name) for name in module.imported]
        for local, target in pairs:
            if target in known:
                found[f"{module.module}.{local}"] = known[target]
    return found


def _skipped(module: ModuleFacts) -> bool:
    return module.kind == "python" and not module.parsed and module.error is None


def _unsummarised(module: ModuleFacts) -> bool:
    """Not parsed, or parsed in pass 1 for a marker alone (a helper module that names
    ``run_as_root`` or ``privileged``), which makes no summaries: parsed (again) to make them."""
    if _skipped(module):
        return True
    return (
        module.kind == "python"
        and module.parsed
        and not (module.entrypoints or module.contexts or module.summaries)
    )


def _callees(facts: list[ModuleFacts]) -> set[int]:
    """Indexes of the modules that parsed code calls into with its entrypoints' parameters."""
    position = {m.module: i for i, m in enumerate(facts) if m.kind == "python"}
    found = set()
    for module in facts:
        for call in summaries.calls_out(module):
            callee = summaries.module_of(_through_instance(module, call.target), position)
            if callee is not None and callee != module.module:
                found.add(position[callee])
    return found


def _through_instance(module: ModuleFacts, target: str) -> str:
    """``OPS.write`` with ``OPS = impl.OsCommand()`` in the module: ``impl.OsCommand.write``, so
    that the module defining the class is summarised too."""
    prefix = module.module + "."
    head, _, rest = target.removeprefix(prefix).partition(".")
    made_by = module.instances.get(head) if target.startswith(prefix) and rest else None
    return f"{made_by}.{rest}" if made_by else target


def _parse(
    root: Path, facts: list[ModuleFacts], options: AuditOptions, todo: set[int], summarise: set[int]
) -> list[ModuleFacts]:
    order = sorted(todo)
    scan = functools.partial(
        _scan_python,
        root,
        _sinks(options),
        True,
        frozenset(facts[i].path for i in summarise),
    )
    parsed = sourcetree.map_files(
        scan, [root / facts[i].path if root.is_dir() else root for i in order], jobs=options.jobs
    )
    facts = list(facts)
    for index, module in zip(order, parsed, strict=True):
        facts[index] = module
    return facts


# ---- judging -----------------------------------------------------------------------------------
def _selected(options: AuditOptions, scope: str) -> list[Rule]:
    return [r for r in RULES.values() if r.scope == scope and options.wants(r.id)]


def _file_findings(facts: ModuleFacts, options: AuditOptions) -> Iterable[Finding]:
    for rule in _selected(options, "file"):
        for hit in rule.check(facts, options):
            if not _suppressed(facts, rule.id, hit):
                yield _finding(rule, hit, facts.path)


def _tree_findings(
    index: TreeIndex, by_path: dict[str, ModuleFacts], options: AuditOptions
) -> Iterable[Finding]:
    for rule in _selected(options, "tree"):
        for hit in rule.check(index, options):
            facts = by_path.get(hit.path or "")
            if facts is None or not _suppressed(facts, rule.id, hit):
                yield _finding(rule, hit, hit.path or "")


def _suppressed(facts: ModuleFacts, rule_id: str, hit: Hit) -> bool:
    for line in (hit.line, *hit.also_lines):
        comment = facts.suppressions.get(line)
        if comment is not None and any(rule_id.startswith(r) for r in comment.rules):
            return True
    return False


def _finding(rule: Rule, hit: Hit, path: str) -> Finding:
    return Finding(
        hit.path or path, hit.line, hit.col, rule.id, rule.severity, hit.symbol, hit.message
    )


def _result(
    root: Path, facts: list[ModuleFacts], options: AuditOptions, files_read: int
) -> AuditResult:
    result = AuditResult(root=str(root), files_read=files_read)
    good = []
    for module in facts:
        if module.error is not None:
            result.skipped.append(SkippedFile(module.path, *module.error))
        else:
            good.append(module)
    index = TreeIndex(good)
    summaries.compose(index)
    findings = [f for m in good for f in _file_findings(m, options)]
    findings += _tree_findings(index, {m.path: m for m in good}, options)
    result.findings = sorted(set(findings))
    result.contexts = sorted(
        (
            ContextInfo(
                cid,
                loc.module.path,
                loc.context.line,
                loc.context.cfg_section,
                loc.context.capabilities,
                loc.context.framework,
            )
            for cid, loc in index.contexts.items()
            if loc.context is not None
        ),
        key=lambda c: c.id,
    )
    result.entrypoints = sorted(
        (_entrypoint_info(index, eid) for eid in index.entrypoints), key=lambda e: e.id
    )
    result.skipped.sort(key=lambda s: s.path)
    result.not_parsed = sorted(m.path for m in good if m.kind == "python" and not m.parsed)
    return result


def _entrypoint_info(index: TreeIndex, entrypoint_id: str) -> EntrypointInfo:
    located = index.entrypoints[entrypoint_id]
    entrypoint = located.entrypoint
    assert entrypoint is not None  # noqa: S101 - narrows the type: the index's are all found
    callers = tuple(
        sorted(
            (
                CallSite(c.module.path, c.call.line, c.call.caller, c.call.name_used)
                for c in index.callers.get(entrypoint_id, ())
                if c.call is not None
            ),
            key=lambda site: (site.path, site.line),
        )
    )
    return EntrypointInfo(
        entrypoint_id,
        located.module.path,
        entrypoint.line,
        index.context_of(entrypoint),
        entrypoint.params,
        callers,
    )


# ---- small helpers -----------------------------------------------------------------------------
def _sinks(options: AuditOptions) -> dataflow.Sinks:
    return dataflow.Sinks(
        frozenset(options.extra_file_sinks), frozenset(options.extra_command_sinks)
    )


def _relative(root: Path, path: Path) -> str:
    return path.name if root.is_file() else path.relative_to(root).as_posix()


def _is_filter_file(root: Path, path: Path) -> bool:
    if path.suffix == ".py":
        return False
    return path.name.endswith(".filters") or "rootwrap.d" in Path(_relative(root, path)).parts[:-1]


def _offset(progress: Progress | None, done: int, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda count: progress(done + count, total)
