"""oslo.privsep's `priv_context` over leastpriv's daemon: `PrivContext`, `Method`, `init`, options.

A compat context is oslo.privsep's object (``channel``, ``start_lock``, ``client_mode``,
``helper_command``, ``conf``) around a native `leastpriv.PrivContext` that holds its registry and
its configuration. Decoration follows oslo.privsep's rules (a function below ``prefix``, once per
context) and relaxes leastpriv's policy only there: no ``_privileged`` suffix, unannotated
parameters and ``*args``/``**kwargs`` pass (logged once per context, at DEBUG); annotations that
are present are still checked on both sides. The daemon is leastpriv's, started by
`leastpriv.unprivileged.launch` as for a native context, and serves only the entrypoints
registered on this context (see `leastpriv.compat.daemon.ContextRegistry`).
"""

from __future__ import annotations

import copy
import enum
import functools
import importlib
import logging
import multiprocessing
import os
import shlex
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg, types

from leastpriv import caps, config
from leastpriv import context as native
from leastpriv.contract import Contract, PolicyWarning
from leastpriv.errors import NestedCallRefused
from leastpriv.unprivileged import NotSent

__all__ = ["OPTS", "CapNameOrInt", "Method", "PrivContext", "init"]

LOG = logging.getLogger(__name__)


class CapNameOrInt(types.ConfigType):
    """An oslo.config value naming a capability (``CAP_NET_ADMIN`` or ``12``), as an int."""

    def __init__(self) -> None:
        super().__init__("capability")

    def __call__(self, value: Any) -> int:
        try:
            return int(caps.parse(int(value) if str(value).strip().isdigit() else str(value)))
        except ValueError:
            raise ValueError(f"{value!r} is not a Linux capability") from None

    def _formatter(self, value: Any) -> str:
        return str(value)


# oslo.privsep's options, by name and type, so its configuration files keep working. leastpriv's
# own (timeout, umask, max_frame_size, method) are registered beside them by `leastpriv.config`.
OPTS = [
    cfg.StrOpt("user", help="User the privileged daemon runs as."),
    cfg.StrOpt("group", help="Group the privileged daemon runs as."),
    cfg.Opt("capabilities", type=types.List(CapNameOrInt()), default=[],
            help="Capabilities the daemon keeps; may only remove those the context declares."),
    cfg.IntOpt("thread_pool_size", min=1, default=multiprocessing.cpu_count(),
               sample_default="multiprocessing.cpu_count()",
               help="Threads that may run privileged calls at once."),
    cfg.StrOpt("helper_command",
               help="Command that starts the daemon when it is not forked; it must accept "
                    "--privsep_context and --privsep_sock_path. Default: sudo privsep-helper "
                    "with this process's --config-file and --config-dir arguments."),
    cfg.StrOpt("logger_name", default="oslo_privsep.daemon",
               help="Logger that re-emits this context's daemon log records."),
    cfg.BoolOpt("log_daemon_traceback", default=False,
                help="Log the daemon-side traceback of an exception a privileged call raised."),
]

_ENTRYPOINT_ATTR = "privsep_entrypoint"
_HELPER_COMMAND_PREFIX = ["sudo"]


def _list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    """The options of the ``oslo.privsep`` namespace, for oslo-config-generator."""
    group = cfg.OptGroup("privsep", title="oslo.privsep options (leastpriv.compat)",
                         help="The privileged daemon of a privsep context. A service may give "
                              "its contexts other section names.")
    return [(group, copy.deepcopy(OPTS))]


@enum.unique
class Method(enum.Enum):
    """How a daemon starts: FORK (this process holds the capabilities) or ROOTWRAP (a helper)."""

    FORK = 1
    ROOTWRAP = 2


def init(root_helper: list[str] | None = None) -> None:
    """Set the command that prefixes ``privsep-helper`` (ignored where helper_command is set)."""
    global _HELPER_COMMAND_PREFIX
    if root_helper:
        _HELPER_COMMAND_PREFIX = list(root_helper)


def under_prefix(module: str, prefix: str) -> bool:
    """Whether `module` is `prefix` or lies below it (``nova.privsep`` is below ``nova``,
    ``novaclient`` is not)."""
    return module == prefix or module.startswith(prefix + ".")


# Every compat context of this process, and the channels a child of fork set aside: its parent's,
# never used nor closed by the child (two processes reading one socket take each other's replies,
# and closing shuts it down for the parent), which starts a daemon of its own at its first call.
_contexts: weakref.WeakSet[PrivContext] = weakref.WeakSet()
_parents_channels: list[object] = []


def _after_fork_in_child() -> None:
    for context in list(_contexts):
        _parents_channels.append(context.channel)
        context.channel = None
        context.start_lock = threading.Lock()  # maybe held by a thread the fork left behind


os.register_at_fork(after_in_child=_after_fork_in_child)


class PrivContext:
    """oslo.privsep's PrivContext, served by a leastpriv daemon."""

    def __init__(self, prefix: str, cfg_section: str = "privsep", pypath: str | None = None,
                 capabilities: Iterable[int] | None = None,
                 logger_name: str = "oslo_privsep.daemon", timeout: float | None = None) -> None:
        if capabilities is None:
            raise ValueError("capabilities is a required parameter")
        declared = [int(caps.parse(cap)) for cap in capabilities]
        self.prefix = prefix
        self.cfg_section = cfg_section
        self.pypath = pypath
        self.timeout = timeout
        # Plain attributes, as tests patch them (mock.patch.object(ctx, "client_mode", False)).
        self.client_mode = True
        self.channel: Any = None
        self.start_lock = threading.Lock()
        self._method: Method | None = None  # a restart after death uses the same method
        self._relaxed_logged = False
        _contexts.add(self)
        # Holds the registry and the configuration; its name is the name the daemon serves.
        self._native = native.PrivContext(pypath or prefix, capabilities=declared,
                                          cfg_section=cfg_section, logger_name=logger_name,
                                          timeout=timeout)
        cfg.CONF.register_opts(OPTS, group=cfg_section)
        cfg.CONF.set_default("capabilities", group=cfg_section, default=declared)
        cfg.CONF.set_default("logger_name", group=cfg_section, default=logger_name)

    def __repr__(self) -> str:
        return f"PrivContext(cfg_section={self.cfg_section})"

    @property
    def conf(self) -> Any:
        """This context's oslo.config section (looked up late: the application parses it)."""
        return cfg.CONF[self.cfg_section]

    @property
    def name(self) -> str:
        """The name the daemon serves (the pypath, else the prefix)."""
        return self._native.name

    def daemon_config(self, config_file: str | None = None) -> config.ContextConfig:
        """The daemon's settings: constructor, leastpriv's file (`config_file`, else
        ``$LEASTPRIV_CONFIG``), then oslo.config; each may only narrow capabilities."""
        return self._native.daemon_spec(config_file)[1]

    def helper_command(self, sockpath: str) -> list[str]:
        """The command that starts this context's daemon, in oslo.privsep's argument order
        (deployments name exactly this command in sudoers and rootwrap filters)."""
        if self.pypath is None:
            raise AssertionError("helper_command requires priv_context pypath to be specified")
        if _import_object(self.pypath) is not self:
            raise AssertionError("helper_command requires priv_context pypath for context object")
        if self.conf.helper_command:
            command = shlex.split(self.conf.helper_command)
        else:
            command = [*_HELPER_COMMAND_PREFIX, "privsep-helper"]
            for option, flag in (("config_file", "--config-file"), ("config_dir", "--config-dir")):
                try:
                    values = getattr(cfg.CONF, option) or []
                except cfg.NoSuchOptError:
                    continue
                for value in values:
                    command += [flag, value]
        return [*command, "--privsep_context", self.pypath, "--privsep_sock_path", sockpath]

    def set_client_mode(self, enabled: bool) -> None:
        """False runs the entrypoints in this process (for unit tests)."""
        self.client_mode = enabled

    # --- decoration -----------------------------------------------------------------------

    def entrypoint(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Register `func` (defined below this context's prefix) to run in its daemon."""
        return self._entrypoint(func, None)

    def entrypoint_with_timeout(self, timeout: float) -> Callable[[Callable[..., Any]],
                                                                  Callable[..., Any]]:
        """Like `entrypoint`, with a per-call timeout in seconds."""
        return functools.partial(self._entrypoint, timeout=timeout)

    def is_entrypoint(self, func: Callable[..., Any]) -> bool:
        return getattr(func, _ENTRYPOINT_ATTR, None) is self

    def _entrypoint(self, func: Callable[..., Any], timeout: float | None) -> Callable[..., Any]:
        if not under_prefix(func.__module__, self.prefix):
            raise AssertionError(f'{self!r} entrypoints must be below "{self.prefix}"')
        if getattr(func, _ENTRYPOINT_ATTR, None) is not None:
            raise AssertionError(f"{func!r} is already associated with another PrivContext")
        entry = self._register(func, timeout)

        @functools.wraps(func)
        def privsep_call(*args: Any, **kwargs: Any) -> Any:
            return self._wrap(entry, func, args, kwargs)

        setattr(privsep_call, _ENTRYPOINT_ATTR, self)
        return privsep_call

    def _register(self, func: Callable[..., Any], timeout: float | None) -> native.Entrypoint:
        from leastpriv.compat.daemon import served_function

        # The relaxed policy: what the native context refuses is recorded instead.
        with warnings.catch_warnings(record=True) as relaxed:
            warnings.simplefilter("always", PolicyWarning)
            contract = Contract.of(func, strict=False)
        if not self._relaxed_logged and (relaxed or not func.__name__.endswith(
                native.PRIVILEGED_SUFFIX)):
            self._relaxed_logged = True
            LOG.debug("%r serves oslo.privsep entrypoints: names without %r, unannotated "
                      "parameters and *args/**kwargs are allowed (first: %s)", self,
                      native.PRIVILEGED_SUFFIX, f"{func.__module__}.{func.__qualname__}")
        name = f"{func.__module__}.{func.__qualname__}"
        entry = native.Entrypoint(name, served_function(func), contract, timeout)
        with self._native._lock:
            if name in self._native._registry:
                raise AssertionError(f"{name} is already an entrypoint of {self!r}")
            self._native._registry[name] = entry
        return entry

    # --- calls ----------------------------------------------------------------------------

    def _wrap(self, entry: native.Entrypoint, func: Callable[..., Any],
              args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        served = native._served
        if not self.client_mode or served == self.name:
            # Client mode off (tests), or a nested call inside this context's own daemon: here.
            return func(*args, **kwargs)
        if served is not None:
            # A daemon never starts another: an entrypoint of another context is refused.
            raise NestedCallRefused(f"{entry.name} belongs to {self.name}, which the {served} "
                                    "daemon may not start")
        timeout = entry.timeout or self.timeout
        try:
            return self._running_channel(entry.name).remote_call(entry.name, args, kwargs,
                                                                 timeout)
        except NotSent:
            # The daemon was gone before the request left: nothing ran, a fresh one may.
            self.stop()
            return self._running_channel(entry.name).remote_call(entry.name, args, kwargs,
                                                                 timeout)

    def _running_channel(self, name: str) -> Any:
        channel = self.channel
        if channel is not None and not channel.running:
            LOG.warning("RESTARTING PrivContext for %s", name)
            self.stop()
        if self.channel is None:
            self.start(self._method or Method.ROOTWRAP)
        return self.channel

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, method: Method = Method.ROOTWRAP) -> None:
        """Start the daemon: FORK it from this process, or run the helper (ROOTWRAP)."""
        from leastpriv.compat import daemon

        with self.start_lock:
            if self.channel is not None:
                LOG.warning("privsep daemon already running")
                return
            channel: daemon._ClientChannel
            if method is Method.ROOTWRAP:
                channel = daemon.RootwrapClientChannel(context=self)
            elif method is Method.FORK:
                channel = daemon.ForkingClientChannel(context=self)
            else:
                raise ValueError(f"Unknown method: {method}")
            self.channel = channel
            self._method = method

    def stop(self) -> None:
        """Stop the daemon (the next call starts one again, by the same method)."""
        channel, self.channel = self.channel, None
        if channel is not None:
            channel.close()


def _import_object(path: str) -> object:
    """The object at ``pkg.module.attr`` (oslo.privsep's pypath)."""
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr, None)
