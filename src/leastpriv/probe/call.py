"""Find and call one privileged function: what an entrypoint trial runs instead of a command.

The sandbox imports the function's module while still root (as a daemon imports its code before
it drops), drops to the trial's set with `drop_privileges` exactly as a context's daemon does,
then calls it here with its context's client mode off: the body runs in this process, after its
contract is checked (leastpriv) or as oslo.privsep's own unit-test mode runs it.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from typing import Any


def resolve(target: str) -> Callable[..., Any]:
    """The object ``pkg.mod:func`` (or ``pkg.mod:Class.method``) names."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"not pkg.mod:func: {target!r}")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{target} is not callable")
    return found  # type: ignore[no-any-return]


def context_of(function: Callable[..., Any]) -> Any:
    """The privsep context an entrypoint is registered on (leastpriv, compat or oslo.privsep)."""
    return (getattr(function, "__leastpriv_context__", None)
            or getattr(function, "privsep_entrypoint", None))


def declared_capabilities(function: Callable[..., Any]) -> tuple[str, ...] | None:
    """The capability names the entrypoint's context declares, or None when it has no context."""
    from leastpriv import caps

    context = context_of(function)
    if context is None:
        return None
    if hasattr(context, "daemon_spec"):  # leastpriv: the resolved config, as its daemon gets it
        return tuple(caps.names(context.daemon_spec(None)[1].capabilities))
    if hasattr(context, "cfg_section") and not hasattr(context, "capabilities"):
        # oslo.privsep keeps the declared set only as its configuration option's default.
        from oslo_config import cfg

        return tuple(caps.names(getattr(cfg.CONF, context.cfg_section).capabilities))
    return tuple(caps.names(getattr(context, "capabilities", ()) or ()))


def call(function: Callable[..., Any], arguments: dict[str, Any]) -> int:
    """Call `function` here (its context's client mode off); 0 when it returns, 1 when it raises."""
    context = context_of(function)
    if context is not None:
        context.set_client_mode(False)
    try:
        function(**arguments)
    # The trial's outcome is the exit status; the trace is evidence.
    except Exception:  # noqa: BLE001 - any failure of the trial is its outcome
        traceback.print_exc()
        return 1
    return 0
