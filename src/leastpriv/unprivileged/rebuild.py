"""The caller's half of an ERR reply: the exception a privileged function raised, rebuilt.

The daemon encodes it (`leastpriv.wire.encode_exception`); the caller rebuilds it here as the same
class when that class is an `Exception` subclass already loaded in the caller, else as
`RemoteError`. Nothing is imported because the daemon named it. A daemon never rebuilds an
exception (unless it calls another context's daemon, through the client), so the exec helper and
its daemon never load this module.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from leastpriv.errors import ProtocolError, RemoteError


def decode_exception(encoded: Any) -> BaseException:
    """Rebuild the exception a privileged function raised (docs/design.md, "Errors").

    The class is looked up among modules the caller has already loaded; nothing is imported
    because the daemon named it.
    """
    if not isinstance(encoded, dict):
        raise ProtocolError("error reply is not a map")
    message = str(encoded.get("message", ""))
    remote_tb = str(encoded.get("traceback", ""))
    cls = _loaded_exception_class(encoded.get("module"), encoded.get("qualname"))
    if cls is not None:
        rebuilt = _rebuild(cls, encoded)
        if rebuilt is not None:
            return rebuilt
    name = f"{encoded.get('module')}.{encoded.get('qualname')}"
    return RemoteError(name, message, remote_tb)


def _loaded_exception_class(module: object, qualname: object) -> type[Exception] | None:
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    obj: object = sys.modules.get(module)
    for part in qualname.split("."):
        if obj is None or part.startswith("<"):
            return None
        # Its own namespace only: getattr would run a module's lazy __getattr__ (leastpriv.caps
        # imports leastpriv.cap_families so), importing what the daemon named.
        namespace = getattr(obj, "__dict__", None)
        obj = namespace.get(part) if isinstance(namespace, Mapping) else None
    if isinstance(obj, type) and issubclass(obj, Exception):
        return obj
    return None


def _rebuild(cls: type[Exception], encoded: dict[str, Any]) -> Exception | None:
    if issubclass(cls, OSError) and isinstance(encoded.get("errno"), int):
        exc: Exception = cls(encoded["errno"], encoded.get("strerror"),
                             encoded.get("filename"), None, encoded.get("filename2"))
        return exc
    args = encoded.get("args")
    if not isinstance(args, list):
        return None
    try:
        return cls(*args)
    # The class's constructor does not take its own args back: RemoteError.
    except Exception:  # noqa: BLE001 - whatever the constructor raises
        return None
