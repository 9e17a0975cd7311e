"""`Frozen`: the base of the runtime's small immutable value classes.

It does what ``@dataclass(frozen=True)`` did for them (init, equality, hash, repr, no assignment)
without importing `dataclasses`, which imports `inspect` and with it `ast`, `dis` and `tokenize`:
about 1 MB of every exec'd daemon's memory and a fifth of its imports' time.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Frozen:
    """Fields are the subclass's ``__slots__``, in order (the positional arguments' order);
    ``_defaults`` maps the fields that may be left out to their defaults."""

    __slots__ = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls, fields = type(self), self.__slots__
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} arguments, got {len(args)}")
        values = {**self._defaults, **dict(zip(fields, args, strict=False))}
        for name, value in kwargs.items():
            if name not in fields or name in fields[:len(args)]:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name in fields:
            if name not in values:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot assign to {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        # copy and pickle rebuild through __init__: they cannot assign slots one by one.
        return (type(self), self._values())

    def replace(self, **changes: Any) -> Any:
        """A copy with `changes` applied (as `dataclasses.replace`)."""
        return type(self)(**{**dict(zip(self.__slots__, self._values(), strict=True)), **changes})
