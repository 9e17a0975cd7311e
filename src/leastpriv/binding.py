"""Call binding: a privileged function's `Contract`, checking a call on each side of the channel.

`Contract.of` compiles the function's annotations once, at decoration (`leastpriv.checks`). The
caller runs `Contract.bind` (an early, clear error before anything is sent); the daemon runs
`Contract.unbind` on what came off the socket, and that check is the one that counts: it checks
every value the function will receive, defaults included.
"""

from __future__ import annotations

import types
import typing
import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_args, get_origin

from leastpriv.checks import UNCHECKED, PolicyWarning, Rule, Unsupported, compile_annotation
from leastpriv.errors import ContractViolation, PolicyError
from leastpriv.markers import PathUnder, Refused, short, type_name

__all__ = ["Contract"]

# The parameter name used in a ContractViolation about the payload as a whole (not one argument).
_WHOLE_PAYLOAD = "<arguments>"

# Parameter kinds, numbered as inspect.Parameter numbers them (so its kinds compare equal).
_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD, _VAR_POSITIONAL, _KEYWORD_ONLY, _VAR_KEYWORD = range(5)
# A parameter without a default (inspect.Parameter.empty's role).
_NO_DEFAULT = object()
# The code object's flags for *args and **kwargs (CPython's CO_VARARGS and CO_VARKEYWORDS).
_CO_VARARGS, _CO_VARKEYWORDS = 0x04, 0x08


def _signature(func: Callable[..., Any]) -> list[tuple[str, int, Any]]:
    """``(name, kind, default)`` of each of `func`'s parameters, in `inspect.signature`'s order.

    A plain function, unwrapped through ``__wrapped__`` as `inspect.signature` does, is read from
    its code object: importing `inspect` costs each exec'd daemon about 1 MB and 10 ms. Any other
    callable (a partial, a method, an object, a ``__signature__``) goes to `inspect.signature`.
    """
    target, seen = func, set()
    while (hasattr(target, "__wrapped__") and not hasattr(target, "__signature__")
           and id(target) not in seen):
        seen.add(id(target))
        target = target.__wrapped__
    if type(target) is not types.FunctionType or hasattr(target, "__signature__"):
        import inspect

        return [(p.name, int(p.kind), _NO_DEFAULT if p.default is p.empty else p.default)
                for p in inspect.signature(func).parameters.values()]
    code = target.__code__
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames  # positional, keyword-only, then *args' and **kwargs' names
    defaults = target.__defaults__ or ()
    keyword_defaults = target.__kwdefaults__ or {}
    first_default = positional - len(defaults)
    params = [(names[i],
               _POSITIONAL_ONLY if i < code.co_posonlyargcount else _POSITIONAL_OR_KEYWORD,
               defaults[i - first_default] if i >= first_default else _NO_DEFAULT)
              for i in range(positional)]
    extra = positional + keyword_only
    if code.co_flags & _CO_VARARGS:
        params.append((names[extra], _VAR_POSITIONAL, _NO_DEFAULT))
        extra += 1
    params.extend((name, _KEYWORD_ONLY, keyword_defaults.get(name, _NO_DEFAULT))
                  for name in names[positional:positional + keyword_only])
    if code.co_flags & _CO_VARKEYWORDS:
        params.append((names[extra], _VAR_KEYWORD, _NO_DEFAULT))
    return params


class _Parameter:
    """One parameter's compiled plan: its rule, how it is passed, its default (and the default as
    it travels, which the daemon checks like a value it was sent)."""

    __slots__ = ("default", "has_default", "kind", "name", "rule", "wire_default")

    def __init__(self, name: str, kind: int, default: Any, rule: Rule) -> None:
        self.name = name
        self.kind = kind
        self.rule = rule
        self.has_default = default is not _NO_DEFAULT
        self.default = default
        self.wire_default = _check_default(default, rule)


_POSITIONAL = (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)
# Where unbind puts each value.
_IN_ARGS, _IN_KWARGS, _SPREAD_ARGS, _SPREAD_KWARGS = range(4)


class Contract:
    """The checked argument contract of one privileged function.

    Build it once with `Contract.of`; `bind` checks a call on the caller side and returns the
    plain payload to send; `unbind` checks a payload on the daemon side and returns the
    ``(args, kwargs)`` to call the function with.
    """

    __slots__ = (
        "_all_names", "_bind_plan", "_by_name", "_fast_positional", "_keyword_names", "_params",
        "_positional_names", "_positional_only_names", "_required_names", "_unbind_plan",
        "_var_keyword", "_var_positional", "function", "path_roots", "unchecked",
    )

    def __init__(self, function: str, params: list[_Parameter], unchecked: frozenset[str],
                 path_roots: tuple[str, ...] = ()) -> None:
        self.function = function
        #: Parameters passed through without a check (only with strict=False).
        self.unchecked = unchecked
        #: Every PathUnder root in the contract: the daemon pins them when it starts.
        self.path_roots = path_roots
        self._params = params
        self._by_name = {param.name: param for param in params}
        self._positional_names = [p.name for p in params if p.kind in _POSITIONAL]
        self._positional_only_names = frozenset(
            p.name for p in params if p.kind == _POSITIONAL_ONLY)
        self._keyword_names = frozenset(
            p.name for p in params
            if p.kind in (_POSITIONAL_OR_KEYWORD, _KEYWORD_ONLY))
        self._var_positional = next(
            (p.name for p in params if p.kind == _VAR_POSITIONAL), None)
        self._var_keyword = next(
            (p.name for p in params if p.kind == _VAR_KEYWORD), None)
        self._all_names = frozenset(p.name for p in params)
        self._required_names = frozenset(
            p.name for p in params if not p.has_default
            and p.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD))
        # The common call (every argument positional, none left to a default) skips the binder.
        self._fast_positional = len(self._positional_names) == len(params)
        # Flat tuples walked on every call: no attribute lookups, no introspection.
        self._bind_plan = tuple((p.name, p.rule.to_wire) for p in params)
        self._unbind_plan = tuple(
            (p.name, p.rule.from_wire, self._placement(p), p.wire_default) for p in params)

    def _placement(self, param: _Parameter) -> int:
        """Where `unbind` puts a parameter's value: args, kwargs, or spread from *args/**kwargs."""
        if param.kind == _VAR_POSITIONAL:
            return _SPREAD_ARGS
        if param.kind == _VAR_KEYWORD:
            return _SPREAD_KWARGS
        if param.kind == _POSITIONAL_ONLY:
            return _IN_ARGS
        # Once *args is declared, every parameter before it can only be filled positionally.
        if param.kind == _POSITIONAL_OR_KEYWORD and self._var_positional:
            return _IN_ARGS
        return _IN_KWARGS

    def __repr__(self) -> str:
        return f"<Contract of {self.function}>"

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def of(cls, func: Callable[..., Any], *, strict: bool = True) -> Contract:
        """The contract of `func`, from its annotations; `PolicyError` when they fall short.

        With ``strict=False`` the policy problems (missing or unsupported annotations, ``*args``
        and ``**kwargs``) are warned about as `PolicyWarning` and those parameters pass
        unchecked. A misused marker is a `PolicyError` either way.
        """
        function = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"
        try:
            parameters = _signature(func)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{function}: no inspectable signature ({exc})") from None
        hints = _type_hints(func, function, strict)
        params = []
        unchecked = set()
        for name, kind, default in parameters:
            try:
                rule = _parameter_rule(name, kind, hints, strict)
                param = _Parameter(name, kind, default, rule)
            except Unsupported as problem:
                message = f"{function}: parameter {name!r}: {problem}"
                if strict:
                    raise PolicyError(message) from None
                warnings.warn(message, PolicyWarning, stacklevel=2)
                param = _Parameter(name, kind, default, UNCHECKED)
            except PolicyError as error:
                raise PolicyError(f"{function}: parameter {name!r}: {error}") from None
            if param.rule is UNCHECKED:
                unchecked.add(name)
            params.append(param)
        roots = dict.fromkeys(root for name, hint in hints.items() if name != "return"
                              for root in _path_roots(hint))
        return cls(function, params, frozenset(unchecked), tuple(roots))

    # -- caller side --------------------------------------------------------------------------

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Check a call's arguments; the payload ``{parameter: plain value}`` to send.

        `TypeError` for arguments that do not fit the signature, as a plain call would raise;
        `ContractViolation` for a value outside the contract.
        """
        plan = self._bind_plan
        values: tuple[Any, ...] | list[Any] = args
        if kwargs or not self._fast_positional or len(args) != len(plan):
            bound = self._bind_arguments(args, kwargs)
            values = [bound[name] for name, _ in plan]
        payload = {}
        name = ""
        try:
            for (name, to_wire), value in zip(plan, values, strict=True):
                payload[name] = to_wire(value)
        except Refused as refusal:
            raise ContractViolation(self.function, name, refusal.describe()) from None
        return payload

    def _bind_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Python's own call binding, done from the precomputed parameter lists."""
        name = self.function.rpartition(".")[2]
        positional = self._positional_names
        # Fewer arguments than positional parameters is normal: the rest come by keyword or default.
        bound: dict[str, Any] = dict(zip(positional, args, strict=False))
        extra = list(args[len(positional):])
        if extra and self._var_positional is None:
            raise TypeError(f"{name}() takes {len(positional)} positional arguments "
                            f"but {len(args)} were given")
        extra_keywords = {}
        for key, value in kwargs.items():
            if key not in self._keyword_names:
                if self._var_keyword is not None:
                    extra_keywords[key] = value
                    continue
                if key in self._positional_only_names:
                    raise TypeError(f"{name}() got some positional-only arguments passed as "
                                    f"keyword arguments: '{key}'")
                raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
            if key in bound:
                raise TypeError(f"{name}() got multiple values for argument '{key}'")
            bound[key] = value
        if self._var_positional is not None:
            bound[self._var_positional] = extra
        if self._var_keyword is not None:
            bound[self._var_keyword] = extra_keywords
        missing = [p.name for p in self._params if p.name not in bound and not p.has_default]
        if missing:
            raise TypeError(f"{name}() missing {len(missing)} required argument"
                            f"{'s' if len(missing) > 1 else ''}: "
                            + ", ".join(repr(m) for m in missing))
        for param in self._params:
            if param.name not in bound:
                bound[param.name] = param.default
        return bound

    # -- daemon side --------------------------------------------------------------------------

    def unbind(self, payload: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Check an untrusted payload; the ``(args, kwargs)`` to call the function with.

        Raises `ContractViolation` for anything but a dict holding every required parameter,
        only known parameters, and values inside the contract.
        """
        if type(payload) is not dict:
            raise ContractViolation(self.function, _WHOLE_PAYLOAD,
                                    f"expected a map of arguments, got {type_name(payload)}")
        if payload.keys() != self._all_names:
            self._check_names(payload)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, from_wire, placement, wire_default in self._unbind_plan:
            # A default is checked like a value sent: a PathUnder default is resolved now, on the
            # file system as it is now, not as it was when the function was decorated.
            value = payload.get(name, wire_default)
            if value is not _NO_DEFAULT:
                try:
                    value = from_wire(value)
                except Refused as refusal:
                    raise ContractViolation(self.function, name, refusal.describe()) from None
            if placement == _IN_KWARGS:
                kwargs[name] = value
            elif placement == _IN_ARGS:
                args.append(value)
            elif placement == _SPREAD_ARGS:
                args.extend(self._var_positional_values(name, value))
            else:
                kwargs.update(self._var_keyword_values(name, value))
        return args, kwargs

    def _check_names(self, payload: dict[Any, Any]) -> None:
        for key in payload:
            if key not in self._all_names:
                raise ContractViolation(self.function, short(key), "not a parameter")
        for name in self._required_names:
            if name not in payload:
                raise ContractViolation(self.function, name, "required argument missing")

    def _var_positional_values(self, name: str, value: Any) -> list[Any]:
        if value is _NO_DEFAULT:
            return []
        if type(value) is not list and type(value) is not tuple:
            raise ContractViolation(self.function, name, f"expected list, got {type_name(value)}")
        return list(value)

    def _var_keyword_values(self, name: str, value: Any) -> dict[str, Any]:
        if value is _NO_DEFAULT:
            return {}
        if type(value) is not dict:
            raise ContractViolation(self.function, name, f"expected dict, got {type_name(value)}")
        for key in value:
            if type(key) is not str or key in self._by_name:
                raise ContractViolation(self.function, name,
                                        f"{short(key)} is not a valid extra keyword")
        return value


def _type_hints(func: Callable[..., Any], function: str, strict: bool) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    # Any failure to evaluate the annotations (NameError, a bad forward reference) means the
    # contract cannot be known: a policy problem, reported as such.
    except Exception as exc:  # noqa: BLE001 - see above: any failure is a policy problem
        message = f"{function}: its annotations cannot be evaluated ({type(exc).__name__}: {exc})"
        if strict:
            raise PolicyError(message) from None
        warnings.warn(message, PolicyWarning, stacklevel=3)
        return {}


def _parameter_rule(name: str, kind: int, hints: dict[str, Any], strict: bool) -> Rule:
    if kind == _VAR_POSITIONAL:
        raise Unsupported("*args accepts any number of unchecked arguments; name each one")
    if kind == _VAR_KEYWORD:
        raise Unsupported("**kwargs accepts any unchecked keyword; name each one")
    if name not in hints:
        raise Unsupported("has no type annotation")
    return compile_annotation(hints[name], strict)


def _path_roots(annotation: Any) -> Iterator[str]:
    """The roots of every PathUnder marker in `annotation`, containers, unions and NewTypes
    included. (One missed here is still pinned, the same way, by the first check that needs it.)"""
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:
        yield from _path_roots(supertype)
    if get_origin(annotation) is Annotated:
        for marker in annotation.__metadata__:
            if isinstance(marker, PathUnder):
                yield from marker.roots
    for arg in get_args(annotation):
        yield from _path_roots(arg)


def _check_default(default: Any, rule: Rule) -> Any:
    """The default as it travels; a default outside the contract is a bug in the declaration,
    refused at decoration."""
    if default is _NO_DEFAULT or rule is UNCHECKED:
        return default
    try:
        return rule.to_wire(default)
    except Refused as refusal:
        raise PolicyError(f"default {short(default)} is outside the contract: "
                          f"{refusal.describe()}") from None
