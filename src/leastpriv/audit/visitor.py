"""One walk over one file's AST, yielding the `ModuleFacts` every rule reads.

The walk records imports, contexts, entrypoints, calls and rootwrap use; names are resolved and the
entrypoints' data flow is analysed after the walk, once every import and module-level function of
the file is known.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from leastpriv import caps
from leastpriv.audit import dataflow
from leastpriv.audit.astnames import dotted_name
from leastpriv.audit.facts import (
    CallFact,
    ContextFact,
    EntrypointFact,
    FunctionSummary,
    ModuleFacts,
    RootwrapFact,
    Suppression,
)

# The constructors that make a privsep context, by the dotted name they resolve to.
CONTEXT_CLASSES = {
    "oslo_privsep.priv_context.PrivContext": "oslo.privsep",
    "leastpriv.PrivContext": "leastpriv",
    "leastpriv.context.PrivContext": "leastpriv",
    "leastpriv.compat.oslo.PrivContext": "leastpriv",
}
_PRIVSEP_INIT = "oslo_privsep.priv_context.init"
_ENTRYPOINT_DECORATORS = frozenset({"entrypoint", "entrypoint_with_timeout"})
# Module-level names of a Sphinx ``conf.py``; two of them in a file of that name make it one.
_SPHINX_SETTINGS = frozenset(
    {"extensions", "master_doc", "root_doc", "html_theme", "man_pages", "latex_documents",
     "templates_path", "source_suffix", "texinfo_documents"}
)
_ROOTWRAP_COMMAND = re.compile(r"[\w.]+-rootwrap\b")
_SUPPRESSION = re.compile(r"#\s*leastpriv:\s*ignore\s*\[([A-Za-z0-9_, ]+)\]\s*(?:--|:|—)?\s*(.*)$")
# Any other "# leastpriv:" comment is a directive the audit cannot read (ignroe[...],
# ignore[LPS-203]): kept as malformed so that LPS001 says it silences nothing.
_DIRECTIVE = re.compile(r"#\s*leastpriv:(.*)$")


def suppressions(source: str) -> dict[int, Suppression]:
    """The ``# leastpriv: ignore[...]`` comments of `source`, by line."""
    found: dict[int, Suppression] = {}
    if "leastpriv:" not in source:
        return found
    for number, line in enumerate(source.splitlines(), start=1):
        match = _SUPPRESSION.search(line)
        if match:
            rules = frozenset(r.strip().upper() for r in match.group(1).split(",") if r.strip())
            found[number] = Suppression(rules, match.group(2).strip())
        elif directive := _DIRECTIVE.search(line):
            found[number] = Suppression(frozenset(), "", malformed=directive.group(0).strip())
    return found


def scan_module(
    source: str,
    *,
    path: str,
    module: str,
    is_package: bool,
    sinks: dataflow.Sinks = dataflow.NO_EXTRA_SINKS,
    summarise: bool = False,
    decorators: Mapping[str, str] | None = None,
) -> ModuleFacts:
    """Parse `source` and collect its facts; a syntax error becomes ``ModuleFacts.error``.

    Function summaries (for entrypoints of other modules that call into this one) are made when
    `summarise` is set or the module defines a context or an entrypoint: its helpers are the
    likely callees. Summarising every caller module too would cost a tenth of the run on nova.
    """
    facts = ModuleFacts(path=path, module=module, parsed=True, suppressions=suppressions(source))
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as exc:
        facts.error = (
            getattr(exc, "lineno", None) or 1,
            f"cannot parse: {exc.__class__.__name__}: {exc}",
        )
        return facts
    visitor = _ModuleVisitor(facts, is_package, decorators or {})
    visitor.visit(tree)
    visitor.finish(sinks, summarise)
    return facts


class _ModuleVisitor(ast.NodeVisitor):
    """Walks one module once; `finish` resolves names and runs the data flow."""

    def __init__(
        self, facts: ModuleFacts, is_package: bool, decorators: Mapping[str, str]
    ) -> None:
        self.facts = facts
        # Names other modules bind to a context's decorator, dotted: the context's id as there.
        self._known_decorators = decorators
        module = facts.module
        self._package = module if is_package else module.rpartition(".")[0]
        self._scope: list[str] = []
        self._module_names: set[str] = set()
        self.lists: dict[str, ast.expr] = {}  # module-level NAME = [...] (capability lists)
        # Module-level NAME = X[...]: type aliases such as ``Path = Annotated[str, PathUnder(…)]``,
        # whose markers narrow every parameter annotated with the alias.
        self._aliases: dict[str, ast.expr] = {}
        self._functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._entrypoints: list[_Made] = []
        # Module-level names bound to a context's decorator (``entrypoint = ctx.entrypoint``,
        # ``timed = ctx.entrypoint_with_timeout(10)``): the context expression.
        self._decorators: dict[str, ast.expr] = {}
        # Entrypoints defined in a class or a function body rather than at module level.
        self._methods: set[ast.FunctionDef | ast.AsyncFunctionDef] = set()
        self._classes: list[bool] = []  # per scope: is it a class body
        self._raw_calls: list[tuple[ast.Call, str, str]] = []  # (node, dotted text, caller)
        self._contexts: list[tuple[str, ast.Call]] = []
        self._names: dict[str, ast.expr] = {}  # module-level NAME = other.name
        self._instances: dict[str, ast.expr] = {}  # module-level NAME = Callee(...): the callee
        self._classdefs: list[ast.ClassDef] = []  # module-level classes
        # The context classes this module can call: the frameworks', and its own subclasses.
        self._context_classes = dict(CONTEXT_CLASSES)

    # ---- names -----------------------------------------------------------------------------
    def resolve(self, node: ast.expr) -> str | None:
        """The dotted name `node` refers to: through imports, module-level names, or builtins."""
        text = dotted_name(node)
        return None if text is None else self.resolve_text(text)

    def resolve_text(self, text: str) -> str | None:
        root, _, rest = text.partition(".")
        if root in self.facts.imports:
            base = self.facts.imports[root]
        elif root in self._module_names:
            base = f"{self.facts.module}.{root}"
        elif not rest:
            return root  # a builtin (open) or a name bound locally
        else:
            return None  # an attribute of a local object: not resolvable statically
        return f"{base}.{rest}" if rest else base

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self._package.split(".") if self._package else []
        base = ".".join(parts[: len(parts) - (level - 1)]) if level > 1 else self._package
        return f"{base}.{module}" if module and base else (module or base)

    def _caller(self) -> str:
        return ".".join([self.facts.module, *self._scope])

    # ---- imports and module-level names ----------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.facts.imports[alias.asname] = alias.name
            else:
                root = alias.name.split(".", 1)[0]
                self.facts.imports.setdefault(root, root)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node.module, node.level)
        for alias in node.names:
            if alias.name == "*":
                self.facts.star_imports += (base,)
            else:
                self.facts.imports[alias.asname or alias.name] = (
                    f"{base}.{alias.name}" if base else alias.name
                )

    def visit_Assign(self, node: ast.Assign) -> None:
        if not self._scope:
            for target in node.targets:
                self._module_names.update(_bound_names(target))
                if isinstance(target, ast.Name):
                    if isinstance(node.value, ast.List | ast.Tuple | ast.Set | ast.BinOp):
                        self.lists[target.id] = node.value
                    elif isinstance(node.value, ast.Subscript):
                        self._aliases[target.id] = node.value
            self._bind(node.targets, node.value)
        elif len(self._scope) == 1 and self._classes[-1] and isinstance(node.value, ast.Call):
            # A context as an attribute of a module-level class: ``Contexts.net``.
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self._contexts.append((f"{self._scope[0]}.{target.id}", node.value))
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if not self._scope and isinstance(node.target, ast.Name) and node.value is not None:
            self._module_names.add(node.target.id)
            self._bind([node.target], node.value)
        self.generic_visit(node)

    def _bind(self, targets: list[ast.expr], value: ast.expr) -> None:
        """What module-level names are bound to, for contexts and names of contexts:
        ``a = b = X`` (b names what a names), ``a, b = X, Y``, ``a: T = X``."""
        first: str | None = None
        for target in targets:
            if isinstance(target, ast.Name):
                if first is None:
                    first = target.id
                    self._bind_name(first, value)
                else:
                    self._names[target.id] = ast.Name(first)
            elif (
                isinstance(target, ast.Tuple | ast.List)
                and isinstance(value, ast.Tuple | ast.List)
                and len(target.elts) == len(value.elts)
            ):
                for element, item in zip(target.elts, value.elts, strict=True):
                    if isinstance(element, ast.Name):
                        self._bind_name(element.id, item)

    def _bind_name(self, name: str, value: ast.expr) -> None:
        wrapped = self._call_form(value)
        if wrapped is not None:  # ``f = ctx.entrypoint(f)``
            self._entrypoints.append(_Made(wrapped[0], wrapped[1], name, value))
        elif _makes_decorator(value):
            self._decorators[name] = value.value if isinstance(value, ast.Attribute) else value
        elif isinstance(value, ast.Name) and value.id in self._decorators:
            self._decorators[name] = self._decorators[value.id]
        elif isinstance(value, ast.Call):
            self._contexts.append((name, value))
            self._instances[name] = value.func  # REMOVER = Remover(): its methods are Remover's
        elif isinstance(value, ast.Dict):
            # Contexts held in a dict by constant keys: ``CONTEXTS['net']``.
            for key, item in zip(value.keys, value.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and isinstance(item, ast.Call)
                ):
                    self._contexts.append((f"{name}[{key.value!r}]", item))
        elif isinstance(value, ast.Name | ast.Attribute):
            self._names[name] = value  # ``NET = privileged.net``: another name for a context

    def _decorator_context(self, node: ast.expr) -> ast.expr | str | None:
        """The context of a decorator that makes an entrypoint: ``@ctx.entrypoint``,
        ``@ctx.entrypoint_with_timeout(…)``, or a name bound to either, in this module (an
        expression) or in another (the context's dotted name)."""
        context = _entrypoint_context(node)
        if context is not None:
            return context
        name = node.func if isinstance(node, ast.Call) else node
        if isinstance(name, ast.Name) and name.id in self._decorators:
            found = self._decorators[name.id]
            return _entrypoint_context(found) or found
        if self._known_decorators:
            return self._known_decorators.get(self.resolve(name) or "")
        return None

    def _call_form(
        self, value: ast.expr
    ) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.expr | str] | None:
        """``ctx.entrypoint(func)`` (or through a decorator's name) of a module-level function
        defined above: the function and the context."""
        if not (isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords):
            return None
        func = value.args[0]
        if not (isinstance(func, ast.Name) and func.id in self._functions):
            return None
        context = self._decorator_context(value.func)
        return None if context is None else (self._functions[func.id], context)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if not self._scope:
            self._module_names.add(node.name)
            self._classdefs.append(node)
        self._enter(node, is_class=True)

    def _enter(
        self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, *, is_class: bool
    ) -> None:
        self._scope.append(node.name)
        self._classes.append(is_class)
        self.generic_visit(node)
        self._classes.pop()
        self._scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not self._scope:
            self._module_names.add(node.name)
            self._functions[node.name] = node
        for decorator in node.decorator_list:
            context = self._decorator_context(decorator)
            if context is not None:
                # oslo.privsep sends ``func.__module__ + "." + func.__name__`` and its daemon
                # imports that name: its id. One defined in a class (static methods too) or a
                # function is never the function the daemon runs; its place is kept as well.
                place = ".".join([*self._scope, node.name])
                self._entrypoints.append(_Made(node, context, node.name, qualname=place))
                if self._scope:
                    self._methods.add(node)
                break
        self._enter(node, is_class=False)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Expr(self, node: ast.Expr) -> None:
        # Docstrings and bare strings are prose: "nova-rootwrap" in a docstring is not a use.
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            self.generic_visit(node)

    # ---- uses ------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        text = dotted_name(node.func)
        if text is not None:
            self._raw_calls.append((node, text, self._caller()))
        for keyword in node.keywords:
            self._rootwrap_keyword(node, keyword)
        self.generic_visit(node)

    def _rootwrap_keyword(self, node: ast.Call, keyword: ast.keyword) -> None:
        value = keyword.value
        if keyword.arg == "run_as_root" and isinstance(value, ast.Constant) and value.value is True:
            self._rootwrap("run_as_root", node, "run_as_root=True")
        elif keyword.arg == "root_helper" and not (
            isinstance(value, ast.Constant) and value.value is None
        ):
            if self.resolve(node.func) == _PRIVSEP_INIT:
                self._rootwrap("privsep_helper", node, "priv_context.init(root_helper=...)")
            else:
                self._rootwrap("root_helper", node, "root_helper=...")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "rootwrap" in node.value:
            match = _ROOTWRAP_COMMAND.search(node.value)
            if match:
                self._rootwrap("rootwrap_command", node, match.group(0))

    def _rootwrap(self, kind: str, node: ast.expr, detail: str) -> None:
        self.facts.rootwrap.append(
            RootwrapFact(kind, node.lineno, node.col_offset, self._caller(), detail)
        )

    # ---- after the walk --------------------------------------------------------------------
    def finish(self, sinks: dataflow.Sinks, summarise: bool) -> None:
        if self._is_sphinx_conf():
            # Its tuples name programs for man pages and manuals: documentation, not uses.
            self.facts.rootwrap = [r for r in self.facts.rootwrap if r.kind != "rootwrap_command"]
        for cls in self._classdefs:  # class TracedContext(priv_context.PrivContext)
            bases = [self._context_classes.get(self.resolve(b) or "") for b in cls.bases]
            framework = next((b for b in bases if b is not None), None)
            if framework is not None:
                self._context_classes[f"{self.facts.module}.{cls.name}"] = framework
        for name, call in self._contexts:
            context = self._context(name, call)
            if context is not None:
                self.facts.contexts.append(context)
        self._capability_lists()
        for name, decorator in self._decorators.items():
            ref = self._context_ref(_entrypoint_context(decorator) or decorator)
            if ref is not None and "." in ref:
                self.facts.decorators[name] = ref
        for name, value in self._names.items():
            target = self.resolve(value)
            if target is not None and "." in target:
                self.facts.assigned[name] = target
        for name, value in self._instances.items():
            target = self.resolve(value)
            if target is not None and "." in target:
                self.facts.instances[name] = target
        for node, text, caller in self._raw_calls:
            target = self.resolve_text(text)
            if target is not None and "." in target:
                self.facts.calls.append(
                    CallFact(node.lineno, node.col_offset, caller, target, text)
                )
        # The methods of module-level classes, as "Class.method": an object made in an
        # entrypoint is followed into them, and other modules call them through summaries.
        methods = {
            f"{cls.name}.{stmt.name}": stmt
            for cls in self._classdefs
            for stmt in cls.body
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        flows = dataflow.FlowAnalysis(
            {**methods, **self._functions}, self.facts.module, self.resolve, sinks,
            aliases=self._aliases, classes={cls.name: cls for cls in self._classdefs},
        )
        for made in self._entrypoints:
            self.facts.entrypoints.append(self._entrypoint(made, flows))
        if not (summarise or self._entrypoints or self.facts.contexts):
            return
        for name, func in self._functions.items():
            kind, confined = flows.check(func)
            if confined:
                self.facts.checks[name] = (kind, confined)
        for name, func in [*self._functions.items(), *methods.items()]:
            summary = _summary(func, flows, name.rpartition(".")[0] or None)
            if summary is not None:
                self.facts.summaries[name] = summary

    def _capability_lists(self) -> None:
        for name, value in self.lists.items():
            held = _Capabilities()
            held.read(value, self)
            if held.found and not (held.unresolved or held.refs):
                self.facts.capability_lists[name] = tuple(caps.names(held.found))

    def _is_sphinx_conf(self) -> bool:
        names = self._module_names & _SPHINX_SETTINGS
        return self.facts.path.rsplit("/", 1)[-1] == "conf.py" and len(names) >= 2

    def _context(self, name: str, call: ast.Call) -> ContextFact | None:
        made = self._constructor(call)
        if made is None:
            return None
        framework, arguments = made
        capabilities = _Capabilities()
        capabilities.read(arguments.get("capabilities"), self)
        return ContextFact(
            name,
            call.lineno,
            call.col_offset,
            _cfg_section(arguments, framework),
            tuple(caps.names(capabilities.found)),
            tuple(capabilities.unresolved),
            framework,
            _declared_user(arguments.get("user")),
            tuple(capabilities.refs),
        )

    def _constructor(self, call: ast.Call) -> tuple[str, dict[str, ast.expr]] | None:
        """The framework and the arguments by parameter name of the context `call` makes:
        directly, or through a module-level factory function that returns one
        (``def _context(section, caps): return PrivContext(..., capabilities=caps)``), its
        parameters replaced by the factory call's arguments."""
        framework = self._context_classes.get(self.resolve(call.func) or "")
        if framework is not None:
            return framework, _arguments(call, _SIGNATURES[framework])
        factory = self._functions.get(call.func.id) if isinstance(call.func, ast.Name) else None
        made = self._returned_context(factory) if factory is not None else None
        if factory is None or made is None:
            return None
        framework, inner = made
        params = [a.arg for a in (*factory.args.posonlyargs, *factory.args.args)]
        params += [a.arg for a in factory.args.kwonlyargs]
        given = _arguments(call, tuple(params))
        arguments = {
            key: given.get(value.id, value) if isinstance(value, ast.Name) else value
            for key, value in _arguments(inner, _SIGNATURES[framework]).items()
        }
        return framework, arguments

    def _returned_context(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> tuple[str, ast.Call] | None:
        for stmt in func.body:
            if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call):
                framework = self._context_classes.get(self.resolve(stmt.value.func) or "")
                if framework is not None:
                    return framework, stmt.value
        return None

    def _entrypoint(self, made: _Made, flows: dataflow.FlowAnalysis) -> EntrypointFact:
        func = made.func
        args = func.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        every = [a for a in every if a.arg not in ("self", "cls")]
        context_ref = self._context_ref(made.context)
        found, calls_out = flows.run(func)
        if made.call is None:
            line, col = func.lineno, func.col_offset
            first_line = min([func.lineno, *(d.lineno for d in func.decorator_list)])
        else:  # the call form: where the entrypoint is made
            line, col, first_line = made.call.lineno, made.call.col_offset, made.call.lineno
        return EntrypointFact(
            name=made.name,
            qualname=made.qualname or made.name,
            line=line,
            col=col,
            first_line=first_line,
            context_ref=context_ref,
            params=tuple(a.arg for a in every),
            unannotated=tuple(a.arg for a in every if a.annotation is None),
            framework=self._framework(context_ref),
            method=func in self._methods,
            flows=found,
            calls_out=calls_out,
        )

    def _context_ref(self, node: ast.expr | str) -> str | None:
        """The dotted name of a context expression; ``CONTEXTS['net']`` for a constant key."""
        if isinstance(node, str):
            return node  # named by another module's decorator, resolved there
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                base = self.resolve(node.value)
                return None if base is None else f"{base}[{key.value!r}]"
        found = self.resolve(node)
        if self.facts.star_imports and (found is None or "." not in found):
            # A name no import or assignment binds may come from ``from pkg import *``: a name
            # of this module, which the tree index looks up in the modules imported so.
            text = dotted_name(node)
            return None if text is None else f"{self.facts.module}.{text}"
        return found

    def _framework(self, context_ref: str | None) -> str:
        local = {c.name: c.framework for c in self.facts.contexts}
        if context_ref and context_ref.startswith(self.facts.module + "."):
            name = context_ref[len(self.facts.module) + 1 :]
            if name in local:
                return local[name]
        if context_ref and context_ref.split(".", 1)[0] == "leastpriv":
            return "leastpriv"
        uses_leastpriv = any(t.split(".", 1)[0] == "leastpriv" for t in self.facts.imports.values())
        return "leastpriv" if uses_leastpriv else "oslo.privsep"


def _summary(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    flows: dataflow.FlowAnalysis,
    owner: str | None = None,
) -> FunctionSummary | None:
    """What another module's entrypoint would see if it passed its parameters to `func`, a
    method of the class `owner` when given (called on an object or the class, so its ``self``
    or ``cls`` is not among the positions)."""
    args = func.args
    if not (args.posonlyargs or args.args or args.kwonlyargs or args.vararg):
        return None
    found, calls = flows.run(func, owner)
    if not (found or calls):
        return None
    positional = tuple(a.arg for a in (*args.posonlyargs, *args.args))
    receiver = dataflow.receiver_param(func) if owner else None
    if receiver is not None:
        positional = positional[1:]
    return FunctionSummary(
        positional, (*positional, *(a.arg for a in args.kwonlyargs)), found, calls,
        args.vararg.arg if args.vararg else None, receiver,
    )


def _declared_user(node: ast.expr | None) -> str | None:
    """The ``user=`` of a context as text: its value when constant, its source otherwise."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    if isinstance(node, ast.Constant):
        return str(node.value)
    return ast.unparse(node)


# The parameters of each framework's context constructor that may be given by position.
_SIGNATURES = {
    "oslo.privsep": ("prefix", "cfg_section", "pypath", "capabilities", "logger_name", "timeout"),
    "leastpriv": ("name",),
}
_COLLECTIONS = frozenset({"list", "tuple", "set", "frozenset"})
_MAX_NESTING = 8  # lists built from lists: deeper is a cycle or a mistake


def _bound_names(target: ast.expr) -> Iterable[str]:
    """The names an assignment target binds: ``a``, and ``a``, ``b`` of ``a, (b, c.d)``."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _bound_names(element)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def _arguments(call: ast.Call, positional: tuple[str, ...]) -> dict[str, ast.expr]:
    """The call's arguments by parameter name (`positional` names the positional ones)."""
    found = {
        name: arg
        for name, arg in zip(positional, call.args, strict=False)
        if not isinstance(arg, ast.Starred)
    }
    found.update((k.arg, k.value) for k in call.keywords if k.arg)
    return found


def _cfg_section(arguments: dict[str, ast.expr], framework: str) -> str | None:
    section = arguments.get("cfg_section")
    if isinstance(section, ast.Constant) and isinstance(section.value, str):
        return section.value
    if section is not None:
        return None  # computed: unknown statically
    if framework == "oslo.privsep":
        return "privsep"  # oslo.privsep's default
    first = arguments.get("name")
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value.replace(".", "_")
    return None


class _Capabilities:
    """The capabilities an expression holds: ``[c.CAP_X, 12]``, a module-level list or tuple
    by name, ``A + [c.CAP_Y]``, ``[*A, c.CAP_Y]``, ``list(A)``. A list named from another module
    is kept in `refs` (dotted) for the tree index to read; what no rule reads, in `unresolved`."""

    def __init__(self) -> None:
        self.found: list[caps.Capability] = []
        self.unresolved: list[str] = []
        self.refs: list[str] = []

    def read(self, node: ast.expr | None, visitor: _ModuleVisitor, depth: int = 0) -> None:
        if node is None:
            return
        if depth > _MAX_NESTING:
            self.unresolved.append(ast.unparse(node))
        elif isinstance(node, ast.Name) and node.id in visitor.lists:
            self.read(visitor.lists[node.id], visitor, depth + 1)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    self.read(element.value, visitor, depth + 1)
                else:
                    self._element(element)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.BitOr):
            self.read(node.left, visitor, depth + 1)
            self.read(node.right, visitor, depth + 1)
        elif (
            isinstance(node, ast.Call)
            and dotted_name(node.func) in _COLLECTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            self.read(node.args[0], visitor, depth + 1)
        else:
            target = visitor.resolve(node)
            if target is not None and "." in target:
                self.refs.append(target)
            else:
                self.unresolved.append(ast.unparse(node))

    def _element(self, element: ast.expr) -> None:
        try:
            self.found.append(caps.parse(_capability_token(element)))
        except ValueError:
            self.unresolved.append(ast.unparse(element))


class _Made(NamedTuple):
    """An entrypoint the walk met: its function, the context expression, its name (the
    function's, or the one ``f = ctx.entrypoint(g)`` binds), the call that made it (None for a
    decorator), and its place in the module."""

    func: ast.FunctionDef | ast.AsyncFunctionDef
    context: ast.expr | str
    name: str
    call: ast.expr | None = None
    qualname: str = ""  # its place in the module: "Class.method"


def _makes_decorator(value: ast.expr) -> bool:
    """``ctx.entrypoint`` or ``ctx.entrypoint_with_timeout(…)``: a decorator that makes one."""
    if isinstance(value, ast.Attribute):
        return value.attr in _ENTRYPOINT_DECORATORS
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "entrypoint_with_timeout"
    )


def _entrypoint_context(decorator: ast.expr) -> ast.expr | None:
    """The context expression of ``@ctx.entrypoint`` / ``@ctx.entrypoint_with_timeout(…)``."""
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(node, ast.Attribute) and node.attr in _ENTRYPOINT_DECORATORS:
        return node.value
    return None


def _capability_token(node: ast.expr) -> str | int:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, int | str):
        return node.value
    raise ValueError("not a capability expression")


def imported_modules(source: str, *, module: str, is_package: bool) -> tuple[str, ...]:
    """The dotted names a file imports, read with a regex: the cheap look of a file not parsed."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for match in _IMPORT_FROM.finditer(source):
        dots, base, imported = match.group(1), match.group(2), match.group(3)
        base = _relative(package, len(dots), base) if dots else base
        names.add(base)
        names.update(f"{base}.{n}" if base else n for n in _alias_names(imported))
    for match in _IMPORT.finditer(source):
        names.update(_alias_names(match.group(1)))
    return tuple(sorted(n for n in names if n))


_IMPORT_FROM = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M
)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n]*)", re.M)


def _alias_names(text: str) -> Iterable[str]:
    for part in text.strip("()").replace("\\", " ").replace("\n", " ").split(","):
        words = part.split("#", 1)[0].split()
        if words:
            yield words[0]


def _relative(package: str, level: int, module: str) -> str:
    parts = package.split(".") if package else []
    base = ".".join(parts[: len(parts) - (level - 1)]) if level > 1 else package
    return f"{base}.{module}" if module and base else (module or base)
