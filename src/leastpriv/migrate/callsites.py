"""Find the calls that run a command as root: rootwrap, a root helper, or plain sudo.

Four shapes, each seen in real projects:

* ``execute(..., run_as_root=True)`` through any function (processutils, ``utils.execute``,
  ``self._execute``, project wrappers): a truthy literal is what counts, not the callee's name;
* ``run_as_root`` passed through a ``**kwargs`` dict (``kwargs = {'run_as_root': True}``,
  ``dict(run_as_root=True)``, ``kwargs['run_as_root'] = True``);
* ``root_helper=`` strings and ``'sudo cinder-rootwrap %s' % CONF.rootwrap_config``;
* shell strings and argv lists starting with ``sudo``.

Each file is read once, in parallel, and only parsed when one of the trigger words occurs in it.
The argument expressions of non-literal operands are kept (``FoundCall.sources``): the plan reads
them to infer a narrow contract (a path joined under ``CONF.instances_path`` becomes ``PathUnder``).

An argv list written down and then grown under a condition of the caller's is kept as what it is
when the condition is one a function can take over exactly (`OptionalArgs`): ``if cipher is not
None: cmd.extend(['--cipher', cipher])`` or ``if readonly: cmd.append('--readonly')``, the ``if``
alone in its body and beside the list's binding, its items literals and at most the condition's
own name, which is not bound again before the call. Any other growth (a loop, an option whose name
is a variable, an ``else``) is a tail of unknown length.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leastpriv.audit.model import SkippedFile
from leastpriv.migrate import filters as filter_files
from leastpriv.migrate.model import Filter, RootCallSite
from leastpriv.sourcetree import iter_files, map_files, module_name

_TRIGGERS = ("run_as_root", "root_helper", "sudo")
_SUDO_STRING = re.compile(r"\s*sudo(\s+\S|\s*$)")
# sudo options that take a value; the program comes after them.
_SUDO_VALUE_OPTIONS = frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"})
# Keywords that only say "as root": every other keyword changes how the command runs.
_ROOT_KEYWORDS = frozenset({"run_as_root", "root_helper"})
_UNKNOWN_TAIL = "*"  # source text of an operand list whose length is not known
# List methods that change a bound list after it was written down.
_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"})
# Callee names whose positional arguments are the command line (execute, _execute, ssh_execute,
# trycmd, run_command, call, …).
_RUNS_ARGV = re.compile(r"exec|run|cmd|call|command", re.IGNORECASE)


@dataclass(frozen=True)
class OptionalArgs:
    """Items a caller appends to its argv only when a condition on one of its names holds."""

    condition: str  # the name tested ("cipher")
    # "is not None" (``if cipher is not None:``) or "truthy" (``if readonly:``)
    test: str
    # The items appended, in order: literals, and None where the condition's name itself goes.
    items: tuple[str | None, ...]

    @property
    def takes_value(self) -> bool:
        return None in self.items


class _Optional(ast.expr):
    """An argv item standing for `OptionalArgs`: there or not, as the condition says."""

    def __init__(self, part: OptionalArgs) -> None:
        super().__init__()
        self.part = part
        self.stale = False  # its condition's name was bound again: unknown at the call


class _Unknown(ast.expr):
    """Argv items of unknown number, and what made them unknown (for the call's TODO)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass(frozen=True)
class FoundCall:
    """A run-as-root call site and the source text of each argv item (the literal when literal)."""

    site: RootCallSite
    sources: tuple[str, ...]
    callee: str = ""  # the called name as written ("utils.execute"), empty for bare strings
    # What a name operand was last bound to in its function ("console_log" →
    # "os.path.join(CONF.instances_path, ...)"); the source itself when it is not a bound name.
    origins: tuple[str, ...] = ()
    # The call's other keywords, (name, source) in order ("check_exit_code", "[0, 4]"): how the
    # command runs. run_as_root and root_helper are left out; a ``**`` splat is ("**", source).
    keywords: tuple[tuple[str, str], ...] = ()
    # (argv index, what that item stands for) for each item appended under a condition.
    optional: tuple[tuple[int, OptionalArgs], ...] = ()
    unknown: str = ""  # what made the first unknown part of the argv unknown, when one is


@dataclass
class FileCalls:
    """What one file holds: its call sites, or why it could not be read."""

    calls: list[FoundCall] = field(default_factory=list)
    skipped: SkippedFile | None = None


@dataclass
class CallSiteScan:
    """Every run-as-root call site of a tree, in path and line order, and the files skipped."""

    calls: list[FoundCall]
    skipped: list[SkippedFile]

    @property
    def sites(self) -> list[RootCallSite]:
        return [call.site for call in self.calls]


def find_call_sites(
    root: Path,
    filters: Sequence[Filter] = (),
    *,
    include_tests: bool = False,
    jobs: int | None = None,
) -> CallSiteScan:
    """Every run-as-root call under `root`, each with the filter its literal argv would match."""
    root = Path(root)
    unreadable: list[tuple[Path, str]] = []
    paths = list(iter_files(root, include_tests=include_tests, unreadable=unreadable))
    results = map_files(functools.partial(scan_file, root), paths, jobs=jobs)
    calls = [call for result in results for call in result.calls]
    skipped = [result.skipped for result in results if result.skipped is not None]
    skipped += [SkippedFile(_relative(root, d), 0, f"cannot read directory: {why}")
                for d, why in unreadable]
    return CallSiteScan(calls=attach_filters(calls, filters), skipped=skipped)


def attach_filters(calls: Iterable[FoundCall], filters: Sequence[Filter]) -> list[FoundCall]:
    """The calls with ``site.filter`` set to the name of the first filter their argv matches."""
    out = []
    for call in calls:
        matched = None
        if filters and call.site.command is not None:
            matched = filter_files.match(filters, call.site.argv)
        site = dataclasses.replace(call.site, filter=matched.name if matched else None)
        out.append(dataclasses.replace(call, site=site))
    return out


def scan_file(root: Path, path: Path) -> FileCalls:
    """The run-as-root calls in one file; a file that cannot be read or parsed is reported."""
    relative = _relative(root, path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return FileCalls(skipped=SkippedFile(relative, 0, f"cannot read: {exc.strerror}"))
    # Most files never mention root: skip the parse, which is the expensive part.
    if not any(word in text for word in _TRIGGERS):
        return FileCalls()
    visitor = _Visitor(module_name(root, path), relative)
    try:  # generated code may nest deeper than the parser or the recursive walk can follow
        try:
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", 0) or 0
            return FileCalls(skipped=SkippedFile(relative, line, f"cannot parse: {exc}"))
        visitor.index_blocks(tree)
        visitor.visit(tree)
    except RecursionError:
        return FileCalls(skipped=SkippedFile(relative, 0, "cannot parse: nested too deeply"))
    return FileCalls(calls=sorted(visitor.found, key=lambda call: call.site.line))


def _relative(root: Path, path: Path) -> str:
    root = Path(root)
    if root.is_file():
        return Path(path).name
    return Path(path).relative_to(root).as_posix()


def _truthy_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value)


def _dict_sets_root(node: ast.AST) -> bool:
    """``{'run_as_root': True}`` or ``dict(run_as_root=True)``."""
    if isinstance(node, ast.Dict):
        return any(
            isinstance(key, ast.Constant) and key.value == "run_as_root" and _truthy_literal(value)
            for key, value in zip(node.keys, node.values, strict=False)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return any(kw.arg == "run_as_root" and _truthy_literal(kw.value) for kw in node.keywords)
    return False


def _only_root(keyword: ast.keyword) -> bool:
    """``**dict(run_as_root=True)`` or ``**{'run_as_root': True}``: a splat that only says "as
    root" (a named dict may hold anything)."""
    value = keyword.value
    if keyword.arg is not None or not _dict_sets_root(value):
        return False
    if isinstance(value, ast.Dict):
        return all(isinstance(key, ast.Constant) and key.value in _ROOT_KEYWORDS
                   for key in value.keys)
    return all(kw.arg in _ROOT_KEYWORDS for kw in value.keywords)  # type: ignore[attr-defined]


def _is_stringish(node: ast.AST) -> bool:
    """A string written in the source, possibly formatted: the shape of a root helper command."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_stringish(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _is_stringish(node.func.value)
    return False


def _literal(node: ast.AST) -> str | None:
    value = getattr(node, "value", None)
    if isinstance(node, ast.Constant) and isinstance(value, (str, int, float)):
        return None if isinstance(value, bool) else str(value)
    return None


class _Scope:
    """What a function body has bound so far: literal argv lists and run-as-root kwargs dicts."""

    def __init__(self) -> None:
        self.lists: dict[str, ast.expr] = {}
        self.values: dict[str, ast.expr] = {}  # other names bound in the function
        self.params: set[str] = set()  # the function's parameters
        self.root_kwargs: set[str] = set()
        self.list_blocks: dict[str, int] = {}  # the block (statement list) each list was bound in
        # The names conditions of `OptionalArgs` test -> the items they stand for.
        self.conditions: dict[str, list[_Optional]] = defaultdict(list)


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, path: str) -> None:
        self.names = [module]
        self.path = path
        self.scopes = [_Scope()]
        self.found: list[FoundCall] = []
        self.seen_strings: set[int] = set()  # ids of sudo strings already reported via a list
        self.block_of: dict[int, int] = {}  # id of a statement -> id of the list it is in
        self.statement: ast.stmt | None = None  # the expression statement being visited
        # id of a statement alone in the body of an ``if`` without ``else`` -> that ``if``.
        self.lone_if: dict[int, ast.If] = {}
        self.owner_of: dict[int, ast.AST] = {}  # id of a statement list -> the node holding it

    def index_blocks(self, tree: ast.AST) -> None:
        """Which statement list (a body, an else, a handler's body) each statement is in."""
        for node in ast.walk(tree):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list):
                    self.block_of.update((id(stmt), id(block)) for stmt in block)
                    self.owner_of[id(block)] = node
            if isinstance(node, ast.If) and len(node.body) == 1 and not node.orelse:
                self.lone_if[id(node.body[0])] = node

    # -- scopes ---------------------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.append(node.name)
        self.scopes.append(_Scope())
        self.generic_visit(node)
        self.scopes.pop()
        self.names.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.append(node.name)
        self.scopes.append(_Scope())
        arguments = node.args
        self.scopes[-1].params = {arg.arg for arg in (
            *arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
            *filter(None, (arguments.vararg, arguments.kwarg)))}
        self.generic_visit(node)
        self.scopes.pop()
        self.names.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Expr(self, node: ast.Expr) -> None:
        # A bare string statement is a docstring or a comment block, never a command.
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            self.statement = node
            self.generic_visit(node)
            self.statement = None

    # -- bindings -------------------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        scope = self.scopes[-1]
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._bind(scope, target.id, node.value)
                scope.list_blocks[target.id] = self.block_of.get(id(node), -1)
            elif self._is_run_as_root_item(target) and _truthy_literal(node.value):
                scope.root_kwargs.add(target.value.id)  # type: ignore[attr-defined]
        self.generic_visit(node)

    def _bind(self, scope: _Scope, name: str, value: ast.expr) -> None:
        scope.lists.pop(name, None)
        scope.root_kwargs.discard(name)
        scope.values[name] = value
        if isinstance(value, (ast.List, ast.Tuple, ast.BinOp)):
            scope.lists[name] = value
        if _dict_sets_root(value):
            scope.root_kwargs.add(name)

    @staticmethod
    def _is_run_as_root_item(target: ast.expr) -> bool:
        """``kwargs['run_as_root']`` as an assignment target."""
        return (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and isinstance(target.slice, ast.Constant)
            and target.slice.value == "run_as_root"
        )

    # -- calls ----------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        # dict(run_as_root=True) builds the kwargs of a call; that call is the call site.
        is_dict = isinstance(node.func, ast.Name) and node.func.id == "dict"
        via = None if is_dict else self._call_via(node)
        if via is not None:
            callee = _callee(node.func)
            # A wrapper such as qemu_img_info(path, run_as_root=True) runs a command we cannot
            # see from here: its arguments are not an argv.
            argv = self._call_argv(node) if _RUNS_ARGV.search(callee.rsplit(".", 1)[-1]) else []
            keywords = tuple((kw.arg or "**", ast.unparse(kw.value)) for kw in node.keywords
                             if kw.arg not in _ROOT_KEYWORDS and not _only_root(kw))
            self._record(node, via, argv, callee=callee, keywords=keywords)
        elif self._updates_root_kwargs(node):
            self.scopes[-1].root_kwargs.add(node.func.value.id)  # type: ignore[attr-defined]
        elif (isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS
              and isinstance(node.func.value, ast.Name)):
            added: list[ast.expr] | None = None
            if node.func.attr == "append" and len(node.args) == 1 and not node.keywords:
                added = [node.args[0]]
            elif node.func.attr == "extend" and len(node.args) == 1 and not node.keywords:
                added = _literal_items(node.args[0])
            # Only a statement of its own (``cmd.append(x)``) adds an item for certain.
            statement = self.statement if self.statement is not None and \
                self.statement.value is node else None  # type: ignore[attr-defined]
            self._grown(node.func.value.id, tail_only=node.func.attr in ("append", "extend"),
                        statement=statement, added=added,
                        what=ast.unparse(node.args[0]) if len(node.args) == 1 else "")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._grown(node.target.id, tail_only=isinstance(node.op, ast.Add), statement=node,
                        added=_literal_items(node.value), what=ast.unparse(node.value))
        self.generic_visit(node)

    def _grown(self, name: str, *, tail_only: bool, statement: ast.stmt | None = None,
               added: list[ast.expr] | None = None, what: str = "") -> None:
        """A bound list changed after it was written down (``optional_args.append(...)``).

        Appended to in the same statement list as it was bound (``cmd = [...]`` then
        ``cmd.append(lv_path)``, no branch between them), it is its literal and what was added;
        appended to anywhere else (under an ``if``, in a loop), its literal followed by a tail of
        unknown length; changed any other way, nothing about it is known any more.
        """
        scope = self.scopes[-1]
        if name not in scope.lists:
            return
        if not tail_only:
            del scope.lists[name]
            return
        same_block = statement is not None and \
            self.block_of.get(id(statement), -2) == scope.list_blocks.get(name, -3)
        if same_block and added is not None:
            known = ast.List(elts=added, ctx=ast.Load())
            scope.lists[name] = ast.BinOp(left=scope.lists[name], op=ast.Add(), right=known)
            return
        branch = self.lone_if.get(id(statement)) if statement is not None else None
        part: OptionalArgs | None = _optional_args(branch.test, added) if branch is not None \
            and added is not None else None
        # The name tested is the function's own (a parameter or a local): a global could change
        # between the test and the call without the function binding it.
        local = part is not None and (part.condition in scope.params
                                      or part.condition in scope.values)
        if part is not None and local and \
                self.block_of.get(id(branch), -2) == scope.list_blocks.get(name):
            item = _Optional(part)
            scope.conditions[part.condition].append(item)
            optional = ast.List(elts=[item], ctx=ast.Load())
            scope.lists[name] = ast.BinOp(left=scope.lists[name], op=ast.Add(), right=optional)
            return
        owner = self.owner_of.get(self.block_of.get(id(statement), -1))
        if added is None:
            reason = f"{what or 'a list'} adds items of unknown number"
        elif isinstance(owner, (ast.For, ast.AsyncFor, ast.While)):
            reason = f"items appended to {name} in a loop"
        elif branch is not None and not local:
            reason = (f"items appended to {name} under a condition no parameter can take "
                      "over: its test, a name not the function's own, or an item not a literal "
                      "nor the name tested")
        else:
            reason = f"items appended to {name} in a nested or else branch"
        unknown = _Unknown(reason)
        scope.lists[name] = ast.BinOp(left=scope.lists[name], op=ast.Add(), right=unknown)

    def visit_Name(self, node: ast.Name) -> None:
        """A name bound again (assigned, a loop's or a ``with``'s target, deleted): an item
        appended under a condition on it is not what the name holds at the call any more."""
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            for item in self.scopes[-1].conditions.pop(node.id, []):
                item.stale = True

    def _call_via(self, node: ast.Call) -> str | None:
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        if "run_as_root" in keywords and _truthy_literal(keywords["run_as_root"]):
            return "run_as_root"
        for kw in node.keywords:
            if kw.arg is None and self._is_root_kwargs(kw.value):
                return "kwargs"
        if "root_helper" in keywords and _is_stringish(keywords["root_helper"]):
            for value in ast.walk(keywords["root_helper"]):
                self.seen_strings.add(id(value))  # reported here, not again as a sudo string
            return "root_helper"
        return None

    def _is_root_kwargs(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.scopes[-1].root_kwargs
        return _dict_sets_root(node)

    @staticmethod
    def _updates_root_kwargs(node: ast.Call) -> bool:
        """``kwargs.update(run_as_root=True)``."""
        func = node.func
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "update"
            and isinstance(func.value, ast.Name)
            and any(kw.arg == "run_as_root" and _truthy_literal(kw.value) for kw in node.keywords)
        )

    def _call_argv(self, node: ast.Call) -> list[ast.expr | None]:
        """The argv items of an execute-style call; None stands for operands of unknown length."""
        items: list[ast.expr | None] = []
        for index, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                items.extend(self._expand(arg.value))
            elif index == 0 and self._is_sequence(arg):
                # execute(['ip', 'link', ...], run_as_root=True): the list is the whole argv.
                items.extend(self._expand(arg))
            else:
                items.append(arg)
        return items

    def _is_sequence(self, node: ast.expr) -> bool:
        return isinstance(node, (ast.List, ast.Tuple)) or self._bound_list(node) is not None

    def _bound_list(self, node: ast.expr) -> ast.expr | None:
        """The literal list a name stands for: a local, or a class or module constant
        (``self.LVM_CMD_PREFIX``, ``LVM.LVM_CMD_PREFIX``)."""
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute) and node.attr.isupper():
            name = node.attr
        else:
            return None
        for scope in reversed(self.scopes):
            if name in scope.lists:
                return scope.lists[name]
        return None

    def _expand(self, node: ast.expr, depth: int = 0) -> list[ast.expr | None]:
        bound = self._bound_list(node) if depth < 8 else None
        if bound is not None:
            return self._expand(bound, depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            items: list[ast.expr | None] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    items.extend(self._expand(element.value, depth + 1))
                elif isinstance(element, _Optional) and element.stale:
                    items.append(_Unknown(f"{element.part.condition!r} is bound again between "
                                          "its test and the call"))
                else:
                    items.append(element)
            return items
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._expand(node.left, depth + 1) + self._expand(node.right, depth + 1)
        if isinstance(node, _Unknown):
            return [node]
        if isinstance(node, ast.Call):
            return [_Unknown(f"the items {ast.unparse(node)} returns")]
        return [_Unknown(f"the items of {ast.unparse(node)}, built elsewhere")]

    # -- sudo strings and lists -----------------------------------------------------------------

    def visit_List(self, node: ast.List | ast.Tuple) -> None:
        first = node.elts[0] if node.elts else None
        is_sudo = isinstance(first, ast.Constant) and first.value == "sudo"
        if is_sudo and id(first) not in self.seen_strings:
            self.seen_strings.add(id(first))
            self._record_sudo(node, list(node.elts[1:]))
        self.generic_visit(node)

    visit_Tuple = visit_List

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        fresh = id(node) not in self.seen_strings
        if isinstance(value, str) and fresh and _SUDO_STRING.match(value):
            words: list[ast.expr | None] = [
                None if ("%" in word or "{" in word) else ast.Constant(word)
                for word in value.split()[1:]
            ]
            self._record_sudo(node, words)

    def _record_sudo(self, node: ast.expr, words: list[ast.expr | None]) -> None:
        words = _skip_sudo_options(words)
        first = _literal(words[0]) if words and words[0] is not None else None
        if first is not None and "rootwrap" in first:
            # 'sudo cinder-rootwrap %s' % CONF.rootwrap_config: a root helper, any command.
            self._record(node, "root_helper", [])
        else:
            self._record(node, "sudo", words)

    # -- recording ------------------------------------------------------------------------------

    def _record(
        self, node: ast.expr, via: str, items: list[ast.expr | None], callee: str = "",
        keywords: tuple[tuple[str, str], ...] = (),
    ) -> None:
        argv = tuple(_literal(item) if item is not None else None for item in items)
        sources = tuple(_source(item) for item in items)
        origins = tuple(self._origin(item) for item in items)
        command = _program(argv)
        site = RootCallSite(
            path=self.path,
            line=node.lineno,
            function=".".join(self.names),
            command=command,
            argv=argv,
            via=via,
        )
        optional = tuple((index, item.part) for index, item in enumerate(items)
                         if isinstance(item, _Optional))
        unknown = next((item.reason for item in items if isinstance(item, _Unknown)), "")
        self.found.append(FoundCall(site=site, sources=sources, callee=callee, origins=origins,
                                    keywords=keywords, optional=optional, unknown=unknown))

    def _origin(self, node: ast.expr | None) -> str:
        if isinstance(node, ast.Name) and node.id in self.scopes[-1].values:
            return _source(self.scopes[-1].values[node.id])
        return _source(node)


def _optional_args(test: ast.expr, added: list[ast.expr]) -> OptionalArgs | None:
    """What ``if <test>: <list>.extend(<added>)`` appends, when a function can take it over
    exactly: the test is ``NAME is not None`` or ``NAME``, the items literal strings and at most
    one ``NAME`` (the value the option takes). None for anything else."""
    if isinstance(test, ast.Name):
        name, kind = test.id, "truthy"
    elif (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
          and len(test.ops) == 1 and isinstance(test.ops[0], ast.IsNot)
          and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
        name, kind = test.left.id, "is not None"
    else:
        return None
    items: list[str | None] = []
    for item in added:
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            items.append(item.value)
        elif isinstance(item, ast.Name) and item.id == name and None not in items:
            items.append(None)
        else:
            return None  # a name the condition does not test, an option named by a variable, …
    return OptionalArgs(name, kind, tuple(items)) if items else None


def _literal_items(node: ast.expr) -> list[ast.expr] | None:
    """The items of a list or tuple written out (``[self.dev_name, self.dev_path]``)."""
    if isinstance(node, (ast.List, ast.Tuple)) and not any(
            isinstance(item, ast.Starred) for item in node.elts):
        return list(node.elts)
    return None


def _program(argv: Sequence[str | None]) -> str | None:
    """The program an argv runs, as a basename; ``env VAR=x prog`` runs ``prog``."""
    items = list(argv)
    if items and items[0] is not None and Path(items[0]).name == "env":
        items = items[1:]
        while items and items[0] is not None and "=" in items[0]:
            items = items[1:]
    if not items or items[0] is None:
        return None
    return Path(items[0]).name


def _skip_sudo_options(words: list[ast.expr | None]) -> list[ast.expr | None]:
    index = 0
    while index < len(words):
        node = words[index]
        word = _literal(node) if node is not None else None
        if word is None or not word.startswith("-"):
            break
        index += 2 if word in _SUDO_VALUE_OPTIONS else 1
    return words[index:]


def _source(node: ast.expr | None) -> str:
    if node is None or isinstance(node, _Unknown):
        return _UNKNOWN_TAIL
    if isinstance(node, _Optional):
        return f"<if {node.part.condition}>"
    literal = _literal(node)
    return literal if literal is not None else ast.unparse(node)


def _callee(func: ast.expr) -> str:
    try:
        return ast.unparse(func)
    except (ValueError, AttributeError):  # unusual nodes: the name is only informative
        return ""
