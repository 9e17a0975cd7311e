"""``leastpriv migrate --apply``: the plan as a patch that rewrites the call sites it converts.

The patch (a unified diff in git's format, applied with ``git apply``) does three things:

* adds the plan's stubs as a package of the project, ``<project>/privileged_calls/`` (one module
  per context, as ``--stubs`` writes them);
* rewrites each converted call site onto its function, keeping everything around it: the file
  is edited as a concrete syntax tree (libcst), so formatting and comments stay byte for byte,
  and only the call expression and one import per module change. The new call passes, by name,
  exactly the caller's own expressions for the parts that vary: ``utils.execute('chown',
  str(uid), path, run_as_root=True)`` becomes ``file_owner.chown_file_privileged(owner=str(uid),
  path=path)``;
* puts ``# TODO(leastpriv): <reason>`` above each run-as-root call site it leaves alone, and above
  each call that forwards ``run_as_root=<name>`` (the caller decides, so each caller has to be
  converted instead).

A call site is converted only when nothing about the rewrite is a guess: it is an execute-style
call (``run_as_root=True``) and the plan gave it a function. The function takes over the keywords
it can fix (`leastpriv.migrate.runoptions`: the exit codes ``check_exit_code`` accepts, the stdin
``process_input`` feeds, passed as ``encodeutils.to_utf8(<caller's expression>)`` as ``execute``
encoded it); a call with any other keyword (retries, timeouts, a value computed at run time) is
left with its reason. The function returns ``(stdout, stderr)`` decoded as
``processutils.execute`` decodes them and, in a project that uses oslo.concurrency, raises its
``ProcessExecutionError`` with the exit code and output, so a caller that reads the result or
catches the error reads it as before.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from leastpriv.migrate import templates
from leastpriv.migrate.callsites import FoundCall, OptionalArgs
from leastpriv.migrate.model import RootCallSite
from leastpriv.migrate.plan import (
    OptionalPart,
    Param,
    Plan,
    SuggestedFunction,
    Template,
    is_boolean,
    program_index,
)
from leastpriv.migrate.stubs import WIDTH, render_module, seal

PACKAGE = "privileged_calls"
# A statement that can carry comment lines above it.
_Statement = TypeVar("_Statement", cst.SimpleStatementLine, cst.If, cst.While, cst.For, cst.With)
TODO = "# TODO(leastpriv): "
# Keywords an execute-style call may carry that the rewrite can drop: they only say "as root".
_DROPPED = frozenset({"run_as_root", "root_helper"})


@dataclass
class Conversion:
    """What `--apply` did with one run-as-root call site."""

    site: RootCallSite
    converted: bool
    reason: str = ""  # why not, when not


@dataclass
class Applied:
    """The patch, and per call site what happened."""

    patch: str
    conversions: list[Conversion] = field(default_factory=list)

    @property
    def share_converted(self) -> float:
        total = len(self.conversions)
        return sum(c.converted for c in self.conversions) / total if total else 0.0


def apply_plan(plan: Plan, calls: Sequence[FoundCall]) -> Applied:
    """The patch for `plan`, whose call sites are `calls` (as `find_call_sites` found them)."""
    root = Path(plan.root)
    owner: dict[RootCallSite, tuple[str, SuggestedFunction]] = {}
    for context in plan.contexts:
        for function in context.functions:
            for site in function.call_sites:
                owner[site] = (context.name, function)
    reviewed = {(item.path, item.line): item.reason for item in plan.review}
    by_file: dict[str, list[FoundCall]] = defaultdict(list)
    for call in calls:
        by_file[call.site.path].append(call)
    diffs, conversions = [], []
    for context in plan.contexts:
        path = f"{plan.project}/{PACKAGE}/{context.name}.py"
        diffs.append(_new_file(path, seal(render_module(plan, context))))
    if plan.contexts:
        diffs.append(_new_file(f"{plan.project}/{PACKAGE}/__init__.py", ""))
    for relative in sorted(set(by_file) | _forwarding_files(root, plan)):
        source = (root / relative).read_text(encoding="utf-8")
        rewriter = _Rewriter(plan.project, by_file.get(relative, []), owner, reviewed, source)
        try:
            module = MetadataWrapper(cst.parse_module(source))
            new = module.visit(rewriter).code
        except cst.ParserSyntaxError as exc:
            for call in by_file.get(relative, []):
                conversions.append(Conversion(call.site, False, f"libcst cannot parse: {exc}"))
            continue
        new = _add_imports(new, plan.project, sorted(rewriter.imports),
                           encodeutils=rewriter.encodes and not _ENCODEUTILS.search(source))
        conversions += rewriter.conversions
        # Calls the tree walk never met at their line (a sudo string, a root helper string).
        conversions += [Conversion(call.site, False, f"runs as root {_VIA.get(call.site.via, '')}")
                        for left in rewriter.by_line.values() for call in left]
        if new != source:
            diffs.append(_diff(relative, source, new))
    return Applied("".join(diffs), conversions)


def _forwarding_files(root: Path, plan: Plan) -> set[str]:
    """Files that forward ``run_as_root=<name>``: they get a TODO even without a call site."""
    out = set()
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if "/tests/" in f"/{relative}" or relative.startswith(f"{plan.project}/{PACKAGE}/"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "run_as_root=run_as_root" in text:
            out.add(relative)
    return out


class _Rewriter(cst.CSTTransformer):
    """Rewrites the converted calls of one file and marks the others, statement by statement."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        project: str,
        calls: list[FoundCall],
        owner: dict[RootCallSite, tuple[str, SuggestedFunction]],
        reviewed: dict[tuple[str, int], str],
        source: str = "",
    ) -> None:
        self.project = project
        self.lines = source.splitlines()
        self.by_line: dict[int, list[FoundCall]] = defaultdict(list)
        for call in calls:
            self.by_line[call.site.line].append(call)
        self.owner = owner
        self.reviewed = reviewed
        self.imports: set[str] = set()
        self.encodes = False  # a rewritten call encodes its process_input (oslo_utils)
        self.conversions: list[Conversion] = []
        self.todos: list[list[str]] = []  # one list per open statement
        self.used = 0  # > 0 while inside an expression whose value is used

    # -- statements: where TODO comments go ---------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        self.todos.append([])
        return True

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        return self._with_todos(original, updated)

    # Compound statements: a call in their header gets its TODO above the statement.
    def _open(self, node: cst.CSTNode) -> bool:
        self.todos.append([])
        return True

    def _close(self, original: _Statement, updated: _Statement) -> _Statement:
        return self._with_todos(original, updated)

    visit_If = visit_While = visit_For = visit_With = _open
    leave_If = leave_While = leave_For = leave_With = _close  # type: ignore[assignment]

    def _with_todos(self, original: cst.CSTNode, node: _Statement) -> _Statement:
        notes = self.todos.pop() if self.todos else []
        if not notes:
            return node
        # Wrapped to fit in WIDTH columns at the statement's indentation (pycodestyle's E501).
        column = self.get_metadata(PositionProvider, original).start.column
        comments: list[cst.EmptyLine] = [
            cst.EmptyLine(comment=cst.Comment(line))
            for note in dict.fromkeys(notes)
            for line in textwrap.wrap(TODO + note, WIDTH - column, subsequent_indent="#   ",
                                      break_long_words=False, break_on_hyphens=False)]
        above: list[cst.EmptyLine] = list(node.leading_lines)
        return node.with_changes(leading_lines=above + comments)

    # -- calls ----------------------------------------------------------------------------------

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        line = self.get_metadata(PositionProvider, original).start.line
        forwarded = any(arg.keyword is not None and arg.keyword.value == "run_as_root"
                        and isinstance(arg.value, cst.Name)
                        and arg.value.value not in ("True", "False", "None")
                        for arg in original.args)
        if forwarded and self.todos:
            self.todos[-1].append("run_as_root is forwarded: convert each caller instead")
        calls = [c for c in self.by_line.get(line, []) if c.site.via == "run_as_root"]
        others = [c for c in self.by_line.pop(line, []) if c.site.via != "run_as_root"]
        for call in others:
            self._leave(call, f"runs as root {_VIA.get(call.site.via, 'another way')}")
        if not calls or not _is_execute(original):
            for call in calls:
                self.by_line[line].append(call)  # an inner call on the same line may match
            return updated
        self.by_line.pop(line, None)
        call = calls[0]
        for extra in calls[1:]:
            self._leave(extra, "several run-as-root calls on one line")
        reason = self._why_not(call, original)
        if reason:
            self._leave(call, reason)
            return updated
        context, function = self.owner[call.site]
        position = self.get_metadata(PositionProvider, original).start
        text = self.lines[position.line - 1]
        indent = len(text) - len(text.lstrip(" "))
        self.imports.add(context)
        self.encodes |= function.options.stdin
        self.conversions.append(Conversion(call.site, True))
        return _new_call(context, function, call, column=position.column, indent=indent)

    def _why_not(self, call: FoundCall, node: cst.Call) -> str:
        if call.site not in self.owner:
            return self.reviewed.get((call.site.path, call.site.line),
                                     "no function in the plan for this call")
        # The plan took over exactly the keywords the call site was read with; a call that
        # does not show the same ones here is not the one planned.
        written = ["**" if arg.keyword is None else arg.keyword.value for arg in node.args
                   if arg.star == "**" or (arg.keyword is not None
                                           and arg.keyword.value not in _DROPPED)]
        if written != [name for name, _ in call.keywords]:
            return "its keywords differ from the ones the plan read: convert it by hand"
        return ""

    def _leave(self, call: FoundCall, reason: str) -> None:
        self.conversions.append(Conversion(call.site, False, reason))
        if self.todos:
            self.todos[-1].append(reason)


_VIA = {"root_helper": "through a root helper string", "sudo": "through sudo",
        "kwargs": "through a **kwargs dict", "run_as_root": "where no call was found"}


def _is_execute(node: cst.Call) -> bool:
    return any(arg.keyword is not None and arg.keyword.value == "run_as_root"
               for arg in node.args)


def _new_call(context: str, function: SuggestedFunction, call: FoundCall, *, column: int,
              indent: int) -> cst.BaseExpression:
    """``context.function(name=<caller's expression>, ...)`` for one converted call site, which
    starts at `column` of a line indented by `indent`: on one line when it fits in `WIDTH`
    columns, else one argument a line, aligned with the parenthesis or, failing that, indented
    four more than the line (pycodestyle's visual and hanging indents)."""
    start = program_index(call.site.argv)
    arguments: list[str] = []
    optional = dict(call.optional)
    for offset, item in enumerate(function.argv, start=start + 1):
        if isinstance(item, OptionalPart):
            arguments.append(f"{item.param.name}={_condition(optional[offset])}")
            continue
        literal, source = call.site.argv[offset], call.sources[offset]
        arguments += [f"{param.name}={expression}"
                      for param, expression in _arguments(item, literal, source)]
    if function.options.stdin:
        # execute() sent process_input as UTF-8 bytes; the function takes bytes.
        given = dict(call.keywords)["process_input"]
        arguments.append(f"process_input=encodeutils.to_utf8({given})")
    name = f"{context}.{function.name}"
    code = f"{name}({', '.join(arguments)})"
    aligned = column + len(name) + 1
    if column + len(code) <= WIDTH or not arguments:
        pass
    elif all(aligned + len(argument) + 2 <= WIDTH for argument in arguments):
        code = f"{name}(" + f",\n{' ' * aligned}".join(arguments) + ")"
    else:
        hanging = " " * (indent + 4)
        code = f"{name}(\n{hanging}" + f",\n{hanging}".join(arguments) + ")"
    # The continuation lines' spaces are absolute columns, not relative to the block's indent.
    expression = cst.parse_expression(code).visit(_Absolute())
    if not isinstance(expression, cst.BaseExpression):  # the transformer removes nothing
        raise TypeError(f"not an expression: {code}")
    return expression


class _Absolute(cst.CSTTransformer):
    def leave_ParenthesizedWhitespace(
        self, original: cst.ParenthesizedWhitespace, updated: cst.ParenthesizedWhitespace
    ) -> cst.ParenthesizedWhitespace:
        return updated.with_changes(indent=False)


def _condition(part: OptionalArgs) -> str:
    """What the call site passes for items it appended under a condition: the condition's
    outcome for items without a value; else None where the items were left out and the value,
    through str() as execute() turned each item into a string, where they were put in."""
    name = part.condition
    if not part.takes_value:
        return f"{name} is not None" if part.test == "is not None" else f"bool({name})"
    if part.test == "is not None":
        return f"None if {name} is None else str({name})"
    return f"str({name}) if {name} else None"


def _arguments(item: str | Param | Template, literal: str | None,
               source: str) -> list[tuple[Param, str]]:
    """(parameter, Python expression) for one argv item of one call site."""
    if isinstance(item, str):
        return []
    if isinstance(item, Param):
        if literal is None and is_boolean(source):
            return [(item, f"str({source})")]  # as execute() passed it: "True" or "False"
        return [(item, source if literal is None else repr(literal))]
    params = [part for part in item.parts if isinstance(part, Param)]
    if literal is None:
        pieces = [str(p) for p in templates.parse(source) if isinstance(p, templates.Expr)]
        return list(zip(params, pieces, strict=True))
    shape = tuple("\0" if isinstance(part, Param) else part for part in item.parts)
    split = templates.split_literal(literal, shape) or []
    return [(param, repr(value)) for param, value in zip(params, split, strict=True)]


_ENCODEUTILS = re.compile(r"^from oslo_utils import encodeutils$", re.MULTILINE)


def _add_imports(source: str, project: str, contexts: list[str], *,
                 encodeutils: bool = False) -> str:
    """The module with ``from <project>.privileged_calls import <context>`` after its imports
    (and oslo_utils' encodeutils, when a rewritten call encodes its stdin as execute() did)."""
    if not contexts:
        return source
    lines = source.splitlines(keepends=True)
    module = cst.parse_module(source)
    last = 0
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)
    for statement in wrapper.module.body:
        if isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body):
            last = positions[statement].end.line
        elif last:
            break
    new = [f"from {project}.{PACKAGE} import {context}\n" for context in contexts]
    if encodeutils:
        new.insert(0, "from oslo_utils import encodeutils\n")
    return "".join(lines[:last] + new + lines[last:])


def _diff(path: str, old: str, new: str) -> str:
    body = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                f"a/{path}", f"b/{path}")
    return f"diff --git a/{path} b/{path}\n" + "".join(_terminated(body))


def _new_file(path: str, text: str) -> str:
    header = f"diff --git a/{path} b/{path}\nnew file mode 100644\n"
    if not text:
        return header
    body = difflib.unified_diff([], text.splitlines(keepends=True), "/dev/null", f"b/{path}")
    return header + "".join(_terminated(body))


def _terminated(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
