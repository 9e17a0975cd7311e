"""Where the parameters of an entrypoint go: a small taint analysis over one module.

Each parameter is a label. Labels flow through assignments, string building (f-strings, ``%``,
``+``, ``join``, ``format``), list and tuple building, ``*args`` unpacking, ``os.path.join`` and
calls into functions of the same module and closures (analysed again with the labels of their
arguments, so a helper shared by two entrypoints is judged for each). An object made by a class of
the module carries the labels of its constructor's arguments, and its methods are analysed with it
as ``self``; a name bound to a function, a lambda, a ``functools.partial`` or a dict of functions
is followed where it is called, in the helper it is passed to as well. Calls into other modules
(functions, and methods of objects of their classes) are recorded as `OutCall`s and followed after
the walk (`leastpriv.audit.summaries`).

The walker knows no rule. At each sink (`leastpriv.audit.sinks`, data) it records a `FlowFact` of
a *kind* -- the path of a file call, a network namespace name, the program of a command, a run of
caller arguments, a name turned into code -- and the rules pick the kinds they report. Command
lines are judged by `leastpriv.audit.commands` with the command knowledge base; narrowing checks
and contract annotations by `leastpriv.audit.narrowing`; the values by
`leastpriv.audit.flowvalue`.

The analysis is flow-sensitive within a function (branches and match cases merge, loops run
twice) and does not model aliasing: an attribute or a container element carries the labels of the
whole object, but for lists built in place, tuples unpacked and dicts written with constant keys;
it errs towards reporting, since a reviewer can suppress a finding with a reason.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from leastpriv.audit import commands
from leastpriv.audit.astnames import (
    base_name,
    call_operands,
    dotted_name,
    first_arg,
    keyword_true,
)
from leastpriv.audit.facts import EXECUTION_KINDS, FlowFact, OutCall
from leastpriv.audit.flowvalue import (
    CALLER,
    EMPTY,
    MAX_VARIANTS,
    NOTHING,
    WORD,
    Elem,
    Value,
    concat,
    flatten,
    formatted,
    join,
    join_elems,
    percent,
    sequence,
    text,
)
from leastpriv.audit.narrowing import holds_when, wide_params
from leastpriv.audit.sinks import NO_EXTRA_SINKS, Sinks, SinkTable
from leastpriv.audit.sinks import load as load_sinks
from leastpriv.data import programs

__all__ = ["NO_EXTRA_SINKS", "FlowAnalysis", "Sinks", "dotted_name", "final_flows", "merge_reaches"]

Resolver = Callable[[ast.expr], "str | None"]
Reach = tuple[str, frozenset[str]]  # (role as worded, the parameters that reach in it)

_MAX_DEPTH = 4  # helper-call nesting followed; deeper chains are rare and cost more than they find
_NORMALISERS = frozenset({"os.path.realpath", "os.path.abspath", "os.path.normpath"})
_NORMALISING_METHODS = frozenset({"resolve", "realpath", "absolute"})


@dataclass
class _Frame:
    """One function being analysed, with the labels its parameters carry."""

    env: dict[str, Value]
    normalised: set[str] = field(default_factory=set)
    returns: list[Value] = field(default_factory=list)
    # Functions defined in the body (nova's idmapshift wraps its lchown helper in one); called
    # with the enclosing function's variables in scope.
    closures: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    # Parameters that chose the working directory (os.chdir): commands run after it may run
    # whatever the caller put there.
    workdir: frozenset[str] = frozenset()
    in_loop: bool = False  # an element appended here may be appended any number of times
    # Names bound to something called later: a function (``rm = os.unlink``, a callback
    # parameter), a lambda, a ``functools.partial(...)``, or a dict of functions (dispatch).
    callables: dict[str, ast.expr] = field(default_factory=dict)
    # Names bound to a dict written with constant keys and not changed since: each key's value,
    # so that ``entry["path"]`` is the path alone, not the content beside it.
    fields: dict[str, dict[str, Value]] = field(default_factory=dict)


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
        classes: Mapping[str, ast.ClassDef] | None = None,
    ) -> None:
        # Module-level functions by name, and the methods of module-level classes as
        # "Class.method"; an object made by one of `classes` is followed into its methods.
        self._functions = functions
        self._classes = classes or {}
        self._module = module
        self._aliases = aliases or {}
        self._resolve = resolve
        self._table: SinkTable = load_sinks(sinks)
        self._programs = programs.load()
        self._flows: dict[tuple[str, int | str], FlowFact] = {}
        self._calls: dict[OutCall, OutCall] = {}  # ordered set: loops visit a call twice
        self._stack: list[str] = []
        self._outer_call: ast.Call | None = None
        self._redirections = 0  # calls through a bound name being followed (see _call)
        self._top: frozenset[int] = frozenset()  # the statements of the function `run` walks
        self._guard: tuple[ast.Call, str] | None = None  # the check being walked (see OutCall)
        self._funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []  # being analysed
        # The class of each method, for super().
        self._owners = {id(f): key.rpartition(".")[0] for key, f in functions.items() if "." in key}

    def run(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef, owner: str | None = None
    ) -> tuple[tuple[FlowFact, ...], tuple[OutCall, ...]]:
        """The flows from the parameters of `func` not narrowed by their annotation, and the
        calls that pass them to functions of other modules (followed after the walk). For a
        method of the module's class `owner`, the object (``self``) is a parameter too: what
        its constructor was given."""
        env = {name: Value(frozenset({name}), None) for name in wide_params(func, self._aliases)}
        first = receiver_param(func)
        if owner is not None and first is not None:
            env[first] = Value(frozenset({first}), origin=f"{self._module}.{owner}")
        self._flows = {}
        self._calls = {}
        self._top = frozenset(id(s) for s in func.body)  # its own statements, not a branch's
        self._analyse(func, _Frame(env))
        flows = final_flows(self._flows.values())
        exec_lines = {flow.line for flow in flows if flow.kind in EXECUTION_KINDS}
        calls = [c for c in self._calls.values() if c.line not in exec_lines]
        return flows, tuple(calls)

    # ---- functions -------------------------------------------------------------------------
    def _analyse(self, func: ast.FunctionDef | ast.AsyncFunctionDef, frame: _Frame) -> Value:
        self._stack.append(func.name)
        self._funcs.append(func)
        try:
            self._block(func.body, frame)
        finally:
            self._stack.pop()
            self._funcs.pop()
        return join(frame.returns)

    def _call_helper(
        self,
        node: ast.Call,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        frame: _Frame,
        enclosing: dict[str, Value] | None = None,
        receiver: Value | None = None,
    ) -> Value:
        """Analyse `func` with its arguments' labels; `enclosing`: the variables a closure sees;
        `receiver`: the object a method is called on, bound to its first parameter."""
        if func in self._funcs or len(self._stack) > _MAX_DEPTH:  # recursion, or too deep
            return join(self._value(arg, frame) for arg in call_operands(node))
        bound = _bind_arguments(func, node, lambda e: self._value(e, frame), receiver)
        env = {**(enclosing or {}), **bound}
        outer = self._outer_call
        self._outer_call = outer or node
        passed = _passed(func, node, receiver)
        inner = _Frame(env, callables={
            param: callee for param, arg in passed.items()
            if (callee := self._reference(arg, frame)) is not None
        })
        try:
            return self._analyse(func, inner)
        finally:
            self._outer_call = outer
            frame.workdir |= inner.workdir  # the process's directory, changed by the helper
            if _returns_at_end(func):
                # A helper that returns only at its end, where it confined a parameter (it raised
                # otherwise: ``_check_name(name)``), confines the caller's name given to it.
                _narrow(frame, {
                    arg.id for param, arg in passed.items()
                    if isinstance(arg, ast.Name) and env[param].labels
                    and inner.env.get(param) == NOTHING
                })

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
            self._assign(stmt.target, concat(current, self._value(stmt.value, frame)), None, frame)
        elif isinstance(stmt, ast.Expr):
            if id(stmt) in self._top and isinstance(stmt.value, ast.Call):
                self._guard = (stmt.value, "raises")  # validate.check_name(name)
            self._value(stmt.value, frame)
            self._guard = None
        elif isinstance(stmt, ast.Return):
            frame.returns.append(self._value(stmt.value, frame) if stmt.value else NOTHING)
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
            managers = []
            for item in stmt.items:
                value = self._value(item.context_expr, frame)
                managers.append((item.context_expr, value))
                # An object of the module's class: its __enter__ runs, and gives the `as` name.
                value = self._dunder(item.context_expr, value, "__enter__", frame) or value
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, value, None, frame)
            leaves = self._block(stmt.body, frame)
            for expr, value in reversed(managers):
                self._dunder(expr, value, "__exit__", frame)
            return leaves
        elif isinstance(stmt, ast.Try):
            return self._try(stmt, frame)
        elif isinstance(stmt, ast.Match):
            return self._match(stmt, frame)
        elif isinstance(stmt, ast.Assert):
            _narrow(frame, holds_when(stmt.test, True, frame.normalised, self._predicate))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            frame.closures[stmt.name] = stmt
            frame.env.pop(stmt.name, None)
        return False

    def _if(self, stmt: ast.If, frame: _Frame) -> bool:
        test = stmt.test
        if (
            id(stmt) in self._top and not stmt.orelse
            and isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
            and isinstance(test.operand, ast.Call)
            and isinstance(stmt.body[-1], ast.Raise | ast.Return)
        ):
            self._guard = (test.operand, "true")  # if not validate.is_safe(name): raise
        self._value(stmt.test, frame)
        self._guard = None
        then, other = _copy(frame), _copy(frame)
        _narrow(then, holds_when(stmt.test, True, frame.normalised, self._predicate))
        _narrow(other, holds_when(stmt.test, False, frame.normalised, self._predicate))
        then_leaves = self._block(stmt.body, then)
        other_leaves = self._block(stmt.orelse, other)
        frame.returns.extend(then.returns[len(frame.returns) :])
        frame.returns.extend(other.returns[len(frame.returns) :])
        live = [f for f, leaves in ((then, then_leaves), (other, other_leaves)) if not leaves]
        if live:
            _merge_into(frame, live)
        return not live

    def _match(self, stmt: ast.Match, frame: _Frame) -> bool:
        """Each case a branch; ``case "rm":`` confines a subject name to that constant there."""
        self._value(stmt.subject, frame)
        cases = []
        for case in stmt.cases:
            inner = _copy(frame)
            if isinstance(stmt.subject, ast.Name) and _constant_pattern(case.pattern):
                _narrow(inner, {stmt.subject.id})
            cases.append((inner, self._block(case.body, inner)))
            frame.returns.extend(inner.returns[len(frame.returns) :])
        if not any(_irrefutable(case.pattern) for case in stmt.cases):
            cases.append((_copy(frame), False))  # no case matched
        live = [inner for inner, leaves in cases if not leaves]
        if live:
            _merge_into(frame, live)
        return not live

    def _loop(
        self, body: list[ast.stmt], frame: _Frame, binding: tuple[ast.expr, Value] | None
    ) -> None:
        # Twice, so a value built in one iteration reaches a sink in the next.
        for _ in range(2):
            inner = dataclasses.replace(_copy(frame), in_loop=True)
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
            for attribute in [n for n in frame.env if n.startswith(target.id + ".")]:
                del frame.env[attribute]  # a new object: what was checked of the old one is not
            frame.env[target.id] = value
            callee = self._reference(source, frame) if source is not None else None
            if callee is not None:
                frame.callables[target.id] = callee
            else:
                frame.callables.pop(target.id, None)
            frame.fields.pop(target.id, None)
            if isinstance(source, ast.Dict) and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in source.keys
            ):
                frame.fields[target.id] = {
                    str(k.value): self._value(v, frame)
                    for k, v in zip(source.keys, source.values, strict=True)
                    if isinstance(k, ast.Constant)
                }
            if source is not None and self._is_normaliser(source):
                frame.normalised.add(target.id)
            else:
                frame.normalised.discard(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            parts = value.elements or ()
            # a, b = (PATH, content): each name its own element when the lengths match.
            exact = len(parts) == len(target.elts) and not any(
                isinstance(e, ast.Starred) for e in target.elts
            ) and not any(e.starred for e in parts)
            for position, elt in enumerate(target.elts):
                part = parts[position] if exact else None
                self._assign(
                    elt.value if isinstance(elt, ast.Starred) else elt,
                    _value_of(part) if part is not None
                    else Value(value.labels, templated=value.templated),
                    None,
                    frame,
                )
        elif isinstance(target, ast.Attribute | ast.Subscript):
            frame.env.pop(dotted_name(target) or "", None)
            base = base_name(target)
            frame.fields.pop(base or "", None)
            if base is not None and value.labels:
                old = frame.env.get(base, NOTHING)
                frame.env[base] = Value(old.labels | value.labels, None, origin=old.origin)

    def _predicate(self, call: ast.Call) -> set[str]:
        """A helper of the module that is a check (its body ``return <narrowing test>``): the
        names passed to the parameters it confines when it returns true."""
        local = self._local_function(call.func)
        if local is None:
            return set()
        confined = _confined_when_true(self._functions[local])
        params = [a.arg for a in (*self._functions[local].args.posonlyargs,
                                  *self._functions[local].args.args)]
        return {
            arg.id
            for param, arg in zip(params, call.args, strict=False)
            if param in confined and isinstance(arg, ast.Name)
        }

    def check(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, tuple[str, ...]]:
        """What `func` confines, for callers in other modules: ("true", params) for a check whose
        body is ``return <narrowing test>``, ("raises", params) for one that returns only at its
        end, where it has confined them (it raised otherwise); ("", ()) for neither."""
        true = _confined_when_true(func)
        if true:
            return "true", tuple(sorted(true))
        if not _returns_at_end(func) or not any(isinstance(n, ast.Raise) for n in ast.walk(func)):
            return "", ()
        params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
        frame = _Frame({p: Value(frozenset({p})) for p in params})
        self._flows, self._calls, self._top = {}, {}, frozenset()
        self._analyse(func, frame)
        return "raises", tuple(p for p in params if frame.env.get(p) == NOTHING)

    def _is_normaliser(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        if isinstance(node.func, ast.Attribute) and node.func.attr in _NORMALISING_METHODS:
            return True
        return self._resolve(node.func) in _NORMALISERS

    # ---- expressions -----------------------------------------------------------------------
    def _value(self, node: ast.expr | None, frame: _Frame) -> Value:
        if node is None:
            return NOTHING
        if isinstance(node, ast.Constant):
            return Value(const=node.value if isinstance(node.value, str) else None)
        if isinstance(node, ast.Name):
            return frame.env.get(node.id, NOTHING)
        if isinstance(node, ast.Call):
            return self._call(node, frame)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return sequence([self._elem(elt, frame) for elt in node.elts])
        if isinstance(node, ast.JoinedStr):
            return self._template(node, frame)
        if isinstance(node, ast.BinOp):
            return self._binop(node, frame)
        if isinstance(node, ast.BoolOp | ast.Dict):
            return join(self._value(part, frame) for part in node.values)
        if isinstance(node, ast.Attribute) and self._resolve(node) in self._table.programs:
            return Value(const=self._table.programs[self._resolve(node) or ""])  # sys.executable
        field_value = _field(node, frame)
        if field_value is not None:
            return field_value
        if isinstance(node, ast.Subscript) and self._is_namespace(node.value):
            # globals()[name]: any function of the module, named by the caller.
            key = self._value(node.slice, frame)
            return Value(key.labels, origin="getattr") if key.head is None else Value(key.labels)
        if isinstance(
            node, ast.FormattedValue | ast.Attribute | ast.Subscript | ast.Starred | ast.Await
        ):
            inner = self._value(node.value, frame)
            if isinstance(node, ast.Starred | ast.Await):
                return inner
            if isinstance(node, ast.Attribute) and node.attr in self._table.derived:
                return Value(inner.labels, origin=inner.origin)  # Path(p).parent: a path too
            if isinstance(node, ast.Attribute) and dotted_name(node) in frame.env:
                return frame.env[dotted_name(node) or ""]  # self.name, after a check of it
            if isinstance(node, ast.Attribute):
                return self._attribute(node, inner, frame)
            return Value(inner.labels)
        if isinstance(node, ast.IfExp):
            self._value(node.test, frame)
            return join([self._value(node.body, frame), self._value(node.orelse, frame)])
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self._comprehension(node, frame)
        if isinstance(node, ast.Yield | ast.YieldFrom):
            # A generator's values are what a caller iterating over it gets.
            yielded = self._value(node.value, frame)
            frame.returns.append(yielded if isinstance(node, ast.Yield) else Value(yielded.labels))
            return NOTHING
        if isinstance(node, ast.NamedExpr):
            value = self._value(node.value, frame)
            self._assign(node.target, value, node.value, frame)
            return value
        for child in ast.iter_child_nodes(node):  # comparisons, lambdas: visit for nested sinks
            if isinstance(child, ast.expr):
                self._value(child, frame)
        return NOTHING

    def _attribute(self, node: ast.Attribute, obj: Value, frame: _Frame) -> Value:
        """``obj.attr``: a property of the module's class runs its getter; any other attribute
        carries the object's labels, its origin one name longer (``IpWrapper().netns``), so that
        a method called on it is looked for in the module of the object's class."""
        getter = self._method_of(obj.origin, node.attr)
        if getter is not None and not isinstance(getter, str) and "property" in _decorators(getter):
            call = ast.copy_location(ast.Call(node, [], []), node)
            return self._call_helper(call, getter, frame, receiver=obj)
        origin = f"{obj.origin}.{node.attr}" if obj.origin and obj.origin != "getattr" else None
        return Value(obj.labels, origin=self._made_in_init(obj.origin, node.attr) or origin)

    def _made_in_init(self, origin: str | None, attr: str) -> str | None:
        """What made the attribute `attr` of an object of the module's class, when its
        ``__init__`` sets it from a call (``self.ip = ip_lib.IpWrapper()``): that callee."""
        init = self._method_of(origin, "__init__")
        if init is None or isinstance(init, str) or (first := receiver_param(init)) is None:
            return None
        for stmt in ast.walk(init):
            if (
                isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                and any(dotted_name(t) == f"{first}.{attr}" for t in stmt.targets)
            ):
                return self._resolve(stmt.value.func)
        return None

    def _class_attribute(self, func: ast.expr) -> ast.expr | None:
        """``Class.name`` bound in the body of the module's class to something callable
        (``remove = staticmethod(os.unlink)``): what it calls."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        cls = self._classes.get(func.value.id)
        for stmt in cls.body if cls is not None else ():
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == func.attr for t in stmt.targets
            ):
                value = stmt.value
                if isinstance(value, ast.Call) and _decorator_call(value):
                    value = value.args[0]  # staticmethod(os.unlink)
                return value
        return None

    def _owner(self, origin: str | None) -> str | None:
        """The module's class an object was made by, when `origin` names one."""
        prefix = self._module + "."
        if origin is None or not origin.startswith(prefix):
            return None
        name = origin[len(prefix) :]
        return name if name in self._classes else None

    def _method_of(
        self, origin: str | None, method: str
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | str | None:
        """`method` of the module's class whose object `origin` names, or of its base classes in
        the module (the sink of ``self._run(...)`` is often in the base class); else the dotted
        name of a base class of another module that may have it (``runner.BaseRunner``)."""
        pending = [owner] if (owner := self._owner(origin)) else []
        seen: set[str] = set()
        foreign = None
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self._classes:
                continue
            seen.add(name)
            func = self._functions.get(f"{name}.{method}")
            if func is not None:
                return func
            for base in self._classes[name].bases:
                if isinstance(base, ast.Name) and base.id in self._classes:
                    pending.append(base.id)
                elif foreign is None and "." in (dotted := self._resolve(base) or ""):
                    foreign = dotted
        return foreign

    def _dunder(self, node: ast.expr, obj: Value, method: str, frame: _Frame) -> Value | None:
        """Run `method` of the module's class `obj` is an object of (``__enter__`` of a ``with``
        statement's manager), as called on it; None when it has none."""
        func = self._method_of(obj.origin, method)
        if func is None or isinstance(func, str):
            return None
        call = ast.copy_location(ast.Call(ast.Attribute(node, method), [], []), node)
        return self._call_helper(call, func, frame, receiver=obj)

    def _super(self, frame: _Frame) -> Value:
        """``super()`` in a method of the module's class: its object, as one of its first base
        class (a class of another module named by its dotted name)."""
        func = self._funcs[-1] if self._funcs else None
        owner = self._owners.get(id(func)) if func is not None else None
        first = receiver_param(func) if func is not None else None
        bases = self._classes[owner].bases if owner is not None and owner in self._classes else []
        base = bases[0] if bases else None
        if base is None or first is None:
            return NOTHING
        if isinstance(base, ast.Name) and base.id in self._classes:
            origin: str | None = f"{self._module}.{base.id}"
        else:
            origin = self._resolve(base)
        return Value(frame.env.get(first, NOTHING).labels, origin=origin)

    def _callback(self, node: ast.Call, name: str, frame: _Frame) -> bool:
        """A library call that calls a function it is given (``eventlet.spawn(f, *args)``,
        ``threading.Thread(target=f, args=...)``, ``map(f, items)``): that call is analysed as
        if written here. False when `name` is not one."""
        spec = self._table.callbacks.get(name)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if spec == "target" and "target" in keywords:
            func: ast.expr = keywords["target"]
            args: list[ast.expr] = [ast.Starred(keywords["args"])] if "args" in keywords else []
            spread = [ast.keyword(None, keywords["kwargs"])] if "kwargs" in keywords else []
        elif spec == "each" and len(node.args) == 2:
            func, args, spread = node.args[0], [ast.Starred(node.args[1])], []
        elif isinstance(spec, int) and len(node.args) > spec:
            func, args = node.args[spec], node.args[spec + 1 :]
            spread = [k for k in node.keywords if k.arg not in ("name", "daemon")]
        else:
            return False
        self._call(ast.copy_location(ast.Call(func, args, spread), node), frame)
        return True

    def _binop(self, node: ast.BinOp, frame: _Frame) -> Value:
        left, right = self._value(node.left, frame), self._value(node.right, frame)
        if isinstance(node.op, ast.Add):
            return concat(left, right)
        if isinstance(node.op, ast.Mod) and left.const is not None:
            # "…%s…" % x, the text written in place or bound to a name first.
            if isinstance(node.right, ast.Tuple):
                slots = [self._value(elt, frame) for elt in node.right.elts]
                return percent(left.const, slots, join(slots))
            return percent(left.const, [right], right)
        if isinstance(node.op, ast.Div) and left.origin in self._table.joiners:
            # pathlib.Path(…) / name: the same path object, one component longer.
            return dataclasses.replace(text([left, "/", right]), origin=left.origin)
        return Value(left.labels | right.labels)

    def _is_namespace(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and self._resolve(node.func) in self._table.namespaces

    def _template(self, node: ast.JoinedStr, frame: _Frame) -> Value:
        """An f-string, read as `leastpriv.audit.flowvalue.text`; ``{x:d}`` is a number."""
        pieces: list[str | Value] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                spec = part.format_spec
                numeric = isinstance(spec, ast.JoinedStr) and any(
                    isinstance(v, ast.Constant) and str(v.value)[-1:] in "dxXofeEgG"
                    for v in spec.values
                )
                pieces.append("0" if numeric else self._value(part.value, frame))
            else:
                pieces.append(str(part.value) if isinstance(part, ast.Constant) else "")
        return text(pieces)

    def _elem(self, node: ast.expr, frame: _Frame) -> Elem | tuple[Elem, ...]:
        if isinstance(node, ast.Starred):
            inner = self._value(node.value, frame)
            if inner.elements is not None:
                return inner.elements
            return Elem(inner.labels, starred=True)
        value = self._value(node, frame)
        return Elem(value.labels, value.const, templated=value.templated, head=value.head,
                    fixed_key=value.fixed_key)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, frame: _Frame
    ) -> Value:
        inner = _copy(frame)
        for generator in node.generators:
            self._assign(
                generator.target, Value(self._value(generator.iter, inner).labels), None, inner
            )
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return Value(join(self._value(part, inner) for part in parts).labels)

    def _call(self, node: ast.Call, frame: _Frame) -> Value:
        if isinstance(node.func, ast.Lambda):
            return self._call_helper(node, _lambda_def(node.func), frame, enclosing=frame.env)
        # Names bound to one another in a cycle (f = g; g = f) stop after a few redirections.
        callees = self._callees(node.func, frame) if self._redirections < _MAX_DEPTH else []
        if callees:
            self._redirections += 1
            try:
                return join(self._call(_redirected(node, callee), frame) for callee in callees)
            finally:
                self._redirections -= 1
        name = self._resolve(node.func)
        if name in ("locals", "vars") and not node.args:
            return Value(join(frame.env.values()).labels)  # "...{name}".format(**locals())
        if name == "super" and not node.args:
            return self._super(frame)
        if name is not None:
            self._callback(node, name, frame)  # map(str, cmd) is still cmd, below
        if isinstance(node.func, ast.Name) and node.func.id in frame.closures:
            closure = frame.closures[node.func.id]
            return self._call_helper(node, closure, frame, enclosing=frame.env)
        local = self._local_function(node.func)
        if local is not None:
            func, owner = self._functions[local], local.rpartition(".")[0]
            # Class.method(x): a classmethod takes the class first, any other method its object
            # from the call's own arguments.
            cls = f"{self._module}.{owner}"
            made = Value(origin=cls) if owner and "classmethod" in _decorators(func) else None
            return self._call_helper(node, func, frame, receiver=made)
        self._check_dispatch(node, frame)
        receiver = self._receiver(node, frame)
        if isinstance(node.func, ast.Attribute) and receiver is not None:
            return self._method(node, node.func.attr, receiver, frame)
        args = [self._value(arg, frame) for arg in call_operands(node)]
        if name in self._table.joiners:
            pieces: list[str | Value] = []
            for arg in args:
                pieces += [arg, "/"]
            return dataclasses.replace(text(pieces[:-1]), origin=name)
        if name is not None and name in self._table.getters:
            position = self._table.getters[name]
            member = args[position] if position < len(args) else NOTHING
            if member.labels and member.head is None:
                return Value(member.labels, origin="getattr")  # a member the caller names
            return Value(join(args).labels)  # getattr(obj, "do_" + x): one of a fixed family
        if name is not None and self._table.command_style(name) is not None:
            self._check_sink(node, name, frame)
            # What a command prints is the system's answer, not the caller's value; a Popen
            # keeps the argument lists it runs, for what communicate() feeds it.
            listed = self._value(first_arg(node), frame) if name in self._table.argv else NOTHING
            return Value(origin=name, variants=listed.shapes())
        made = frame.env.get(node.func.id, NOTHING) if isinstance(node.func, ast.Name) else NOTHING
        if self._owner(made.origin):
            name = made.origin  # cls(...) in a classmethod: an object of that class
        if name is not None and not self._check_sink(node, name, frame) and "." in name:
            self._note_call(node, name, args)
        if name is not None and self._table.matches(name, self._table.sanitisers):
            return NOTHING
        if name in self._table.quoters and args:
            return Value(args[0].labels, quoted=True)
        if name is not None and args and args[0].const is not None:
            return Value(join(args).labels, origin=name, opened=args[0].const)  # open(PATH)
        if name in ("list", "tuple", "sorted", "reversed") and len(args) == 1:
            return args[0]
        if name == "map" and len(args) == 2:
            return args[1]
        return Value(join(args).labels, origin=name)

    def _reference(self, node: ast.expr, frame: _Frame) -> ast.expr | None:
        """What calling `node` calls, when it names something the walker can follow: a function
        of the module or a dotted library function, a name already bound to one, a lambda, a
        ``functools.partial(...)``, or a dict of such (``ops = {"rm": _remove}``)."""
        if isinstance(node, ast.Name) and node.id in frame.callables:
            return frame.callables[node.id]
        if isinstance(node, ast.Lambda):
            return node
        if isinstance(node, ast.Call):
            return node if self._resolve(node.func) == "functools.partial" and node.args else None
        if isinstance(node, ast.Dict):
            known = [self._reference(v, frame) for v in node.values]
            return node if known and all(known) else None
        if self._local_function(node) is not None:
            return node
        if not isinstance(node, ast.Attribute):
            return None
        name = self._resolve(node)
        if name is not None:
            return node if "." in name else None
        # _Cleaner().clean: a bound method of an object of the module's class
        method = self._method_of(self._value(node.value, frame).origin, node.attr)
        return node if method is not None and not isinstance(method, str) else None

    def _callees(self, func: ast.expr, frame: _Frame) -> list[ast.expr]:
        """What a call through a name bound by `_reference` may call: ``ops["rm"](path)`` the
        dict's value for that key, or any of them for a key not written in place."""
        table = frame.callables.get(func.value.id) if (
            isinstance(func, ast.Subscript) and isinstance(func.value, ast.Name)
        ) else None
        if isinstance(table, ast.Dict) and isinstance(func, ast.Subscript):
            key = func.slice
            chosen = [
                self._reference(value, frame) or value
                for k, value in zip(table.keys, table.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(k, ast.Constant)
                and k.value == key.value
            ]
            return chosen or [self._reference(v, frame) or v for v in table.values]
        callee = frame.callables.get(func.id) if isinstance(func, ast.Name) else None
        bound = self._class_attribute(func)
        if callee is None and bound is not None:
            callee = self._reference(bound, frame)
        if callee is None and isinstance(func, ast.Call):
            callee = self._reference(func, frame)  # functools.partial(os.unlink, path)()
        return [] if callee is None or isinstance(callee, ast.Dict) else [callee]

    def _check_dispatch(self, node: ast.Call, frame: _Frame) -> None:
        """Shape G: calling what ``getattr(obj, caller_name)`` returned runs any member."""
        if isinstance(node.func, ast.Call | ast.Subscript):
            called = self._value(node.func, frame)
        elif isinstance(node.func, ast.Name) and node.func.id not in frame.closures:
            called = frame.env.get(node.func.id, NOTHING)
        else:
            return
        if called.origin == "getattr" and called.labels:
            reach = (self._table.role("name"), called.labels)
            self._report(self._table.dispatch_kind, node, "getattr", [reach])

    def _note_call(
        self, node: ast.Call, name: str, args: list[Value], receiver: Value | None = None
    ) -> None:
        """Remember which parameters a call out of the module passes, and where (``"self"``:
        in the object a method is called on)."""
        bound: list[tuple[int | str, tuple[str, ...]]] = []
        if receiver is not None and receiver.labels and not _fixed_text(receiver):
            bound.append(("self", tuple(sorted(receiver.labels))))
        for position, (arg, value) in enumerate(zip(node.args, args, strict=False)):
            if isinstance(arg, ast.Starred):
                # Its length is unknown: it may fill any parameter from here on (the summary
                # binds "*N"), and the positions after it are unknown.
                if value.labels:
                    bound.append((f"*{position}", tuple(sorted(value.labels))))
                break
            if value.labels and not _fixed_text(value):
                bound.append((position, tuple(sorted(value.labels))))
        for keyword, value in zip(node.keywords, args[len(node.args) :], strict=True):
            if value.labels and not _fixed_text(value):
                # f(**options): any keyword parameter may be in the mapping.
                bound.append((keyword.arg or "**", tuple(sorted(value.labels))))
        if bound:
            anchor = self._outer_call or node
            guard = self._guard[1] if self._guard and self._guard[0] is node else ""
            call = OutCall(
                name, anchor.lineno, anchor.col_offset, tuple(bound), (*self._stack[1:],), guard
            )
            self._calls.setdefault(call, call)

    def _receiver(self, node: ast.Call, frame: _Frame) -> Value | None:
        """The value a method is called on, unless the callee is a module attribute (os.chmod)."""
        if not isinstance(node.func, ast.Attribute) or self._resolve(node.func) is not None:
            return None
        return self._value(node.func.value, frame)

    def _method(self, node: ast.Call, method: str, receiver: Value, frame: _Frame) -> Value:
        func = self._method_of(receiver.origin, method)
        if func is not None and not isinstance(func, str):
            # A method of the module's class: analysed with its object.
            return self._call_helper(node, func, frame, receiver=receiver)
        if receiver.origin and self._callback(node, f"{receiver.origin}.{method}", frame):
            return NOTHING  # stack.callback(os.unlink, path)
        args = [self._value(arg, frame) for arg in call_operands(node)]
        if isinstance(func, str):  # inherited from a class of another module
            self._note_call(node, f"{func}.{method}", args, receiver)
            return Value(join([receiver, *args]).labels)
        base = base_name(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if base is not None and method not in ("get", "keys", "values", "items", "copy"):
            frame.fields.pop(base, None)  # d.update(...), d.setdefault(...): changed
        mutators = ("append", "extend", "insert", "add", "update")
        container = receiver.origin is None or "." not in receiver.origin  # not ip.netns.add()
        if base is not None and container and method in mutators:
            added = args[-1] if args else NOTHING
            if method in ("append", "add", "insert"):
                # In a loop, a caller value appended on its own is a run of caller words.
                many = frame.in_loop and bool(added.labels)
                added = Value(added.labels, (Elem(added.labels, added.const, starred=many),))
            elif added.elements is None:
                added = Value(added.labels, (Elem(added.labels, starred=True),))
            frame.env[base] = concat(frame.env.get(base, NOTHING), added)
            return NOTHING
        if method in ("split", "splitlines") and receiver.labels:
            return Value(receiver.labels, (Elem(receiver.labels, starred=True),))
        if method == "join" and receiver.const is not None and args and args[0].elements:
            parts = args[0].elements
            if not any(e.starred for e in parts):  # "/".join([ROOT, dev, "forwarding"])
                pieces: list[str | Value] = []
                for part in parts:
                    pieces += [_value_of(part), receiver.const]
                return text(pieces[:-1])
        if method == "format" and receiver.const is not None:
            positional = args[: len(node.args)]
            return formatted(receiver.const, positional, join(args))
        if method in ("write", "writelines") and receiver.opened is not None:
            self._check_written(node, f"{receiver.origin}.{method}", receiver.opened, args)
        fed = join(args[:1]).labels
        if method == "communicate" and fed and receiver.origin in self._table.argv:
            for argv in receiver.variants:  # Popen([...], stdin=PIPE).communicate(text)
                self._check_stdin(node, f"{receiver.origin}.communicate", list(argv), fed)
        if method in self._table.derived and receiver.origin in self._table.joiners:
            # Path(p).with_suffix(".conf"): another path of the caller's.
            return Value(receiver.labels, origin=receiver.origin)
        self._check_method_sink(node, method, receiver, args)
        if receiver.origin is not None and "." in receiver.origin:
            # A method of an object of another module's class (ip_lib.IPWrapper(ns).netns.add):
            # followed into that module's summary of it, the object's labels as its ``self``.
            self._note_call(node, f"{receiver.origin}.{method}", args, receiver)
        return Value(join([receiver, *args]).labels)

    def _check_written(self, node: ast.Call, sink: str, path: str, args: list[Value]) -> None:
        """The caller's text written into a file whose text the kernel runs as a program."""
        written = join(args).labels
        if written and self._programs.runs_written(path):
            role = f"as the text of {path}, a program the kernel runs as root"
            self._report("kernel-setting", node, sink, [(role, written)])

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
        chosen = self._table.file_arguments(node, name)
        if chosen is not None:
            by_kind: dict[str, list[Reach]] = {}
            for kind, role, arg in chosen:
                value = self._value(arg, frame)
                if value.labels and not value.templated:
                    by_kind.setdefault(kind, []).append((self._table.role(role), value.labels))
            for kind, reaches in by_kind.items():
                self._report(kind, node, name, reaches)
        elif self._table.matches(name, self._table.dispatch):
            self._report_labels(self._table.dispatch_kind, node, name, "name", frame)
            return True
        elif name in self._table.workdir:
            # Not a finding by itself: the commands run from that directory are.
            frame.workdir |= _chosen(self._value(first_arg(node), frame))
            return True
        style = self._table.command_style(name)  # NSPopen is a file sink and a command sink
        if style is None:
            return chosen is not None
        workdir = frame.workdir | self._keyword_labels(node, self._table.workdir_keywords, frame)
        if workdir:
            # Shape F: a command run in the caller's directory (os.chdir, cwd=) may run what
            # lies there.
            reach = (self._table.role("workdir"), workdir)
            self._report(self._table.workdir_kind, node, name, [reach])
        environment = self._environment(node, frame) | self._splatted(node, frame)
        if environment:
            reach = (self._table.role("environment"), environment)
            self._report(self._table.workdir_kind, node, name, [reach])
        self._check_command(node, name, style, frame)
        return True

    def _keyword_labels(
        self, node: ast.Call, keywords: frozenset[str], frame: _Frame
    ) -> frozenset[str]:
        """The labels of the call's keyword arguments named in `keywords` (cwd=, input=)."""
        values = [_chosen(self._value(k.value, frame)) for k in node.keywords if k.arg in keywords]
        return frozenset().union(*values)

    def _splatted(self, node: ast.Call, frame: _Frame) -> frozenset[str]:
        """The caller's labels in ``**options`` given to a command sink: they may set its
        environment, working directory and standard input."""
        values = [self._value(k.value, frame) for k in node.keywords if k.arg is None]
        return join(values).labels if values else EMPTY

    def _environment(self, node: ast.Call, frame: _Frame) -> frozenset[str]:
        """The caller's labels in a command's environment that choose what runs: the whole
        mapping, a variable's name, or the value of PATH, LD_PRELOAD and the like."""
        found: frozenset[str] = EMPTY
        for keyword in node.keywords:
            if keyword.arg not in self._table.environment:
                continue
            mapping = keyword.value
            if isinstance(mapping, ast.Call) and self._resolve(mapping.func) == "dict":
                # dict(os.environ, LC_ALL=lang): the copied mappings, then named variables.
                pairs: list[tuple[ast.expr | None, ast.expr]] = [(None, a) for a in mapping.args]
                pairs += [
                    (ast.Constant(k.arg) if k.arg else None, k.value) for k in mapping.keywords
                ]
            elif isinstance(mapping, ast.Dict):
                pairs = list(zip(mapping.keys, mapping.values, strict=True))
            else:
                found |= self._value(mapping, frame).labels
                continue
            for key, value in pairs:
                name = self._value(key, frame) if key is not None else NOTHING
                found |= name.labels
                if key is None or name.const is None or self._programs.loads_code(name.const):
                    found |= self._value(value, frame).labels
        return found

    def _report_labels(
        self, kind: str, node: ast.Call, name: str, role: str, frame: _Frame
    ) -> frozenset[str]:
        """A sink whose first argument is what matters (a name to import, a directory); fixed
        text before the caller's (``"svc.drivers." + name``) keeps it in a fixed family."""
        value = self._value(first_arg(node), frame)
        if value.labels and value.head is None:
            self._report(kind, node, name, [(self._table.role(role), value.labels)])
        return value.labels

    def _check_method_sink(
        self, node: ast.Call, method: str, receiver: Value, args: list[Value]
    ) -> None:
        """Methods of library objects that act on files (ConfigParser.read, Path.write_text)."""
        for sink in self._table.method_sinks(method):
            if receiver.origin not in sink.receivers:
                continue
            reaches: list[Reach] = []
            if sink.receiver and receiver.labels and not receiver.templated:
                reaches.append((self._table.role(sink.receiver), receiver.labels))
            keywords = [sink.keywords.get(k.arg or "", "") for k in node.keywords]
            roles = [*sink.args[: len(node.args)], *[""] * (len(node.args) - len(sink.args))]
            for role, value in zip([*roles, *keywords], args, strict=False):
                if role and value.labels and not value.templated:
                    reaches.append((self._table.role(role), value.labels))
            if reaches:
                self._report(sink.kind, node, f"{receiver.origin}.{method}", reaches)

    def _check_command(self, node: ast.Call, name: str, style: str, frame: _Frame) -> None:
        if style == "shell" or keyword_true(node, "shell"):
            command = self._value(first_arg(node), frame)
            labels = command.labels if command.elements is None else join_elems(command.elements)
            words = _shell_words(command)
            if words is not None:
                self._judge_argv(node, name, words)  # every caller value quoted: a fixed line
            elif labels:
                self._report("shell", node, name, [("in a shell command line", labels)])
            return
        stdin = self._keyword_labels(node, self._table.stdin, frame)
        if style in ("argv", "exec"):
            argv = self._argv_from_list(node, name, style, frame)
            argvs = [argv] if argv is not None else []
        else:
            argvs = self._argv_variants(node, frame)
        for argv in argvs:
            self._judge_argv(node, name, argv)
            if stdin:
                self._check_stdin(node, name, argv, stdin)

    def _check_stdin(
        self, node: ast.Call, name: str, argv: list[Elem], stdin: frozenset[str]
    ) -> None:
        """The caller's standard input to a program that runs it (``sh``, ``at``), that loads it
        as the host's configuration (``iptables-restore``, ``chpasswd``), or into a file whose
        text the kernel runs (``tee /proc/sys/kernel/core_pattern``)."""
        if self._reads_code(argv):
            role = f"as the standard input of {argv[0].const}, which runs it as code"
            self._report("command-string", node, name, [(role, stdin)])
        elif loads := self._loads_input(argv):
            role = f"as the standard input of {argv[0].const}, which {loads}"
            self._report("host-config", node, name, [(role, stdin)])
        for elem in argv[1:]:
            if elem.const is not None:
                self._check_written(node, name, elem.const, [Value(stdin)])

    def _reads_code(self, argv: list[Elem]) -> bool:
        """A program that runs its standard input (``at``, ``xargs``: stdin_code), or an
        interpreter given no script or code in its arguments (``sh``, ``python3 -``)."""
        first = argv[0] if argv else None
        if first is None or first.labels or first.const is None:
            return False
        program = self._programs.program(first.const)
        if program.stdin_code:
            return True
        if program.runs != "string":
            return False
        return all(e.labels or e.starred or (e.const or "").startswith("-") for e in argv[1:])

    def _loads_input(self, argv: list[Elem]) -> str | None:
        """What a fixed program makes of its standard input when that is configuration of the
        whole host (``iptables-restore``, ``nft -f -``, ``chpasswd``), or None."""
        first = argv[0] if argv else None
        if first is None or first.labels or first.const is None:
            return None
        program = self._programs.program(first.const)
        words = {e.const for e in argv[1:] if e.const is not None}
        if program.input_when and not program.input_when & words:
            return None
        return program.input

    def _argv_variants(self, node: ast.Call, frame: _Frame) -> list[list[Elem]]:
        """``execute(*cmd, x)``: one argv per variant of each unpacked list."""
        argvs: list[list[Elem]] = [[]]
        if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
            # neutron's utils.execute(cmd, ...): the whole command as one list.
            listed = self._value(node.args[0], frame)
            if listed.elements is not None:
                return [list(shape) for shape in listed.shapes()]
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self._value(arg.value, frame)
                shapes = value.shapes() or ((Elem(value.labels, starred=True),),)
            else:
                elem = self._elem(arg, frame)
                shapes = (elem if isinstance(elem, tuple) else (elem,),)
            argvs = [a + list(shape) for a in argvs for shape in shapes][:MAX_VARIANTS]
        return argvs

    def _argv_from_list(
        self, node: ast.Call, name: str, style: str, frame: _Frame
    ) -> list[Elem] | None:
        args = list(node.args)
        if style == "exec":
            if name.startswith("os.spawn") and args:
                args = args[1:]  # the mode comes first
            if name.endswith(("e", "posix_spawn", "posix_spawnp")):
                args = args[:-1]  # execve, spawnle, posix_spawn: the environment comes last
            program = self._value(args[0], frame) if args else NOTHING
            if program.labels:
                self._report("program", node, name, [("as the program", program.labels)])
                return None
            # os.execl(path, "sh", "-c", cmd) or os.execv(path, ["sh", "-c", cmd]): argv[0] first.
            rest = [self._value(arg, frame) for arg in args[1:]]
            flat = flatten(v.elements or (Elem(v.labels, v.const),) for v in rest)
            return [Elem(EMPTY, program.const), *flat[1:]] if flat else None
        position = self._table.argv_at.get(name, 0)
        listed = node.args[position] if position and len(node.args) > position else None
        command = self._value(listed if position else first_arg(node), frame)
        if command.elements is None:
            if command.labels:
                self._report("argv", node, name, [("as the whole command", command.labels)])
            return None
        for variant in command.shapes()[1:]:
            self._judge_argv(node, name, list(variant))
        return list(command.shapes()[0])

    def _judge_argv(self, node: ast.Call, name: str, argv: list[Elem]) -> None:
        for kind, role, labels in commands.judge(argv, self._programs):
            self._report(kind, node, name, [(role, labels)])

    def _report(self, kind: str, node: ast.Call, sink: str, reaches: list[Reach]) -> None:
        anchor = self._outer_call or node
        # One finding per sink (or per entrypoint line that leads to one): four os.chown calls on
        # the same path are one wide contract, not four.
        key = (kind, anchor.lineno) if self._outer_call else (kind, sink)
        old = self._flows.get(key)
        merged = merge_reaches(old.reaches if old else (), reaches)
        if old is not None:
            self._flows[key] = dataclasses.replace(old, reaches=merged)
            return
        self._flows[key] = FlowFact(
            kind, anchor.lineno, anchor.col_offset, sink, node.lineno, merged, (*self._stack[1:],)
        )



def _shell_words(command: Value) -> list[Elem] | None:
    """A shell line whose caller values were all quoted (``"ip link show %s" % shlex.quote(d)``)
    as the argument list it runs, each quoted value one word; None for any other line. Only a
    simple command: fixed text that chains, pipes or substitutes leaves it to the shell rule."""
    template = command.template
    if template is None or CALLER in template or not _SIMPLE.fullmatch(template):
        return None
    return [
        Elem(command.labels) if WORD in word else Elem(EMPTY, word) for word in template.split()
    ]


_SIMPLE = re.compile(r"[^;&|<>`$()\n]*")


def _fixed_text(value: Value) -> bool:
    """A fixed kind of file, or a key the code fixes around the caller's value: handed to another
    module, it names nothing the caller chose, whatever that module does with it."""
    return value.templated or value.fixed_key


def _chosen(value: Value) -> frozenset[str]:
    """The labels of a value that chooses a file or directory: none when it is a fixed kind."""
    return EMPTY if value.templated else value.labels


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _field(node: ast.expr, frame: _Frame) -> Value | None:
    """``d["key"]`` of a dict written with constant keys: that key's value, or None."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        return None
    key = node.slice
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        return None
    return frame.fields.get(node.value.id, {}).get(key.value)


def _confined_when_true(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The parameters a check confines when it returns true (its body ``return <test>``)."""
    body = [s for s in func.body if not _is_docstring(s)]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return set()
    return holds_when(body[0].value, True, set())


def _returns_at_end(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """No ``return`` before the last statement: falling through its checks is its only exit."""
    return not any(isinstance(n, ast.Return) for s in func.body[:-1] for n in ast.walk(s))


def _value_of(elem: Elem) -> Value:
    """One element of a known list as a value of its own."""
    return Value(elem.labels, const=elem.const, templated=elem.templated, head=elem.head,
                 fixed_key=elem.fixed_key)


def _passed(
    func: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, receiver: Value | None
) -> dict[str, ast.expr]:
    """The parameters of `func` the call gives an expression of its own, by position or name."""
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    if receiver is not None and receiver_param(func) is not None:
        params = params[1:]
    passed: dict[str, ast.expr] = {}
    for param, arg in zip(params, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        passed[param] = arg
    passed.update({k.arg: k.value for k in call.keywords if k.arg in params})
    return passed


def _redirected(node: ast.Call, callee: ast.expr) -> ast.Call:
    """The call `node` made to `callee` itself; a partial's bound arguments come first."""
    args, keywords = node.args, node.keywords
    if isinstance(callee, ast.Call):  # functools.partial(f, *bound, **bound_keywords)
        args = [*callee.args[1:], *args]
        keywords = [*callee.keywords, *keywords]
        callee = callee.args[0]
    return ast.copy_location(ast.Call(callee, args, keywords), node)


def _lambda_def(node: ast.Lambda) -> ast.FunctionDef:
    """A lambda as the function it is, to be analysed like a closure."""
    func = ast.FunctionDef(
        name="<lambda>", args=node.args, body=[ast.Return(node.body)], decorator_list=[]
    )
    return ast.fix_missing_locations(ast.copy_location(func, node))


def _decorator_call(node: ast.Call) -> bool:
    """``staticmethod(f)``, ``classmethod(f)``: f itself, as a class attribute."""
    name = dotted_name(node.func)
    return name in ("staticmethod", "classmethod") and len(node.args) == 1


def _constant_pattern(pattern: ast.pattern) -> bool:
    """``case "rm":``, ``case "a" | "b":``: the subject is one of the constants."""
    if isinstance(pattern, ast.MatchOr):
        return all(_constant_pattern(p) for p in pattern.patterns)
    return isinstance(pattern, ast.MatchValue | ast.MatchSingleton)


def _irrefutable(pattern: ast.pattern) -> bool:
    return isinstance(pattern, ast.MatchAs) and pattern.pattern is None


def _decorators(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The last names of `func`'s decorators (``property``, ``classmethod``)."""
    return {(dotted_name(d) or "").rpartition(".")[2] for d in func.decorator_list}


def receiver_param(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The parameter a method takes its object (or class) in; None for a static method."""
    params = [*func.args.posonlyargs, *func.args.args]
    return None if not params or "staticmethod" in _decorators(func) else params[0].arg


def _narrow(frame: _Frame, names: set[str]) -> None:
    """Confine `names`: variables, and attributes of variables (``self.name``) by their dotted
    name, which then hides the variable's own labels for that attribute."""
    for name in names:
        if name in frame.env or name.partition(".")[0] in frame.env:
            frame.env[name] = NOTHING


def _attribute_value(frame: _Frame, name: str) -> Value:
    """The value of `name` in `frame`; a dotted name not set there carries its variable's."""
    if name in frame.env or "." not in name:
        return frame.env.get(name, NOTHING)
    return Value(frame.env.get(name.partition(".")[0], NOTHING).labels)


def _bind_arguments(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    call: ast.Call,
    evaluate: Callable[[ast.expr], Value],
    receiver: Value | None = None,
) -> dict[str, Value]:
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    env: dict[str, Value] = {}
    if receiver is not None and receiver_param(func) is not None:
        env[params[0]] = receiver
        params = params[1:]
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
        env[func.args.vararg.arg] = Value(join_elems(extra), tuple(extra))
    kwargs = EMPTY
    named = params + [a.arg for a in func.args.kwonlyargs]
    for keyword in call.keywords:
        value = evaluate(keyword.value)
        if keyword.arg is not None and keyword.arg in named:
            env[keyword.arg] = value
        else:
            kwargs |= value.labels
            if keyword.arg is None:  # f(**options): any parameter not given may be in it
                for name in named:
                    env.setdefault(name, Value(value.labels))
    if func.args.kwarg is not None:
        env[func.args.kwarg.arg] = Value(kwargs)
    return env


def final_flows(flows: Iterable[FlowFact]) -> tuple[FlowFact, ...]:
    """`flows` in line order, without a file flow where the caller runs anything at the same line:
    running any command subsumes it."""
    flows = list(flows)
    exec_lines = {flow.line for flow in flows if flow.kind in EXECUTION_KINDS}
    kept = [f for f in flows if f.kind in EXECUTION_KINDS or f.line not in exec_lines]
    return tuple(sorted(kept, key=lambda f: (f.line, f.kind)))


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



def _copy(frame: _Frame) -> _Frame:
    return _Frame(
        dict(frame.env), set(frame.normalised), list(frame.returns), dict(frame.closures),
        frame.workdir, frame.in_loop, dict(frame.callables), dict(frame.fields),
    )


def _merge_into(frame: _Frame, branches: list[_Frame]) -> None:
    names = set().union(*(b.env for b in branches))
    frame.env = {n: join([_attribute_value(b, n) for b in branches]) for n in names}
    frame.normalised = set.intersection(*(b.normalised for b in branches))
    frame.fields = {
        name: fields for name, fields in branches[0].fields.items()
        if all(b.fields.get(name) == fields for b in branches[1:])
    }
    for branch in branches:
        frame.closures.update(branch.closures)
        frame.callables.update(branch.callables)
        frame.workdir |= branch.workdir

