"""oslo.privsep's `daemon` names over leastpriv's daemon: the client channels and privsep-helper.

`ForkingClientChannel` and `RootwrapClientChannel` start the daemon through
`leastpriv.unprivileged.launch`, exactly as a native context's (the same privilege drop, peer
checks and log forwarding); the second runs oslo.privsep's ``privsep-helper`` command line, so
sudoers and rootwrap filters written for oslo.privsep keep working. Tests replace these classes by
name (``oslo_privsep.daemon.RootwrapClientChannel``), so the context looks them up at start.

What the daemon serves is `ContextRegistry`: the context's own registry, which it may grow by
importing a module below the context's prefix (oslo.privsep imports whatever a request names).
"""

from __future__ import annotations

import functools
import glob
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from leastpriv import wire
from leastpriv.config import CONFIG_ENV
from leastpriv.context import DEFAULT_CALL_TIMEOUT, Entrypoint
from leastpriv.errors import (
    CallTimeout,
    DaemonStartError,
    Error,
    PolicyError,
    ProtocolError,
    RemoteError,
)

if TYPE_CHECKING:
    from leastpriv.compat.priv_context import PrivContext

__all__ = ["ContextRegistry", "FailedToDropPrivileges", "ForkingClientChannel", "ProtocolError",
           "RaisedInDaemon", "RootwrapClientChannel", "helper_main", "served_function"]

LOG = logging.getLogger(__name__)


class FailedToDropPrivileges(DaemonStartError):
    """Raised when the daemon could not be started or could not set itself up."""


# --- the daemon's side -----------------------------------------------------------------------

class ContextRegistry(Mapping[str, Entrypoint]):
    """The entrypoints a compat context's daemon serves: its registry, grown only by import.

    A name the registry lacks is looked for once, by importing its module, when the module lies
    below the context's prefix and is a dotted name of identifiers (checked before the import),
    and it is served only if that import registered that very name on this very context
    (checked after). Nothing else a request names is ever imported.
    """

    def __init__(self, context: PrivContext,
                 check: Callable[[str], None] | None = None) -> None:
        self._prefix = context.prefix
        self._entries = context._native._registry  # live: imports add to it
        self._tried: set[str] = set()
        # Under sudo, the helper's check that only root can have written a module's files.
        self._check = check

    def __getitem__(self, name: str) -> Entrypoint:
        entry = self._entries.get(name)
        if entry is None and type(name) is str:
            module = name.rpartition(".")[0]
            if self._may_import(module):
                self._tried.add(module)
                try:
                    _import_checked(module, self._check)
                # Whatever the import raises is logged, and the lookup below refuses the name.
                except Exception as exc:  # noqa: BLE001 - see above
                    LOG.warning("cannot import %s for a call: %s: %s", module,
                                type(exc).__name__, exc)
                entry = self._entries.get(name)
        if entry is None:
            raise KeyError(name)
        return entry

    def _may_import(self, module: str) -> bool:
        from leastpriv.compat.priv_context import under_prefix

        return (module not in self._tried and module not in sys.modules
                and all(part.isidentifier() for part in module.split("."))
                and under_prefix(module, self._prefix))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


class RaisedInDaemon(Exception):
    """Carries an exception the caller may have to import to rebuild, as oslo.privsep does.

    args: the class's module and qualified name, the exception's args, its text and traceback.
    """

    def rebuilt(self) -> Exception:
        """The exception as ``cls(*args)``, importing its module; `RemoteError` if impossible."""
        module, qualname, args, message, remote_traceback = self.args
        cls = _exception_class(module, qualname)
        if cls is not None:
            try:
                return cls(*args)
            # A class that cannot be rebuilt from its own args arrives as RemoteError.
            except Exception:  # noqa: BLE001, S110 - see above
                pass
        return RemoteError(f"{module}.{qualname}", message, remote_traceback)


def _exception_class(module: str, qualname: str) -> type[Exception] | None:
    # The daemon names the class: the caller trusts its own daemon as far as importing a module
    # by name (oslo.privsep's behaviour, which exceptions such as ProcessExecutionError need).
    if not all(part.isidentifier() for part in f"{module}.{qualname}".split(".")):
        return None
    try:
        obj: object = importlib.import_module(module)
    except ImportError:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) and issubclass(obj, Exception) else None


def _tuples(value: Any) -> Any:
    """`value` with every list made a tuple, at any depth, as oslo.privsep delivers values."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


def served_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """What the daemon runs for `func`: oslo.privsep's value shapes in and out, and any exception
    the caller may need to import carried as `RaisedInDaemon` (builtins, OSError and leastpriv's
    own errors travel as they do for a native context)."""

    @functools.wraps(func)
    def serve(*args: Any, **kwargs: Any) -> Any:
        try:
            return _tuples(func(*_tuples(args), **_tuples(kwargs)))
        except (OSError, Error):
            raise
        except Exception as exc:
            cls = type(exc)
            if cls.__module__ == "builtins" or not _sendable(exc.args):
                raise
            raise RaisedInDaemon(cls.__module__, cls.__qualname__, list(exc.args), str(exc),
                                 traceback.format_exc()) from None

    return serve


def _sendable(args: tuple[Any, ...]) -> bool:
    try:
        wire.packb(list(args))
    except Exception:  # noqa: BLE001 - whatever packing raises: it cannot travel
        return False
    return True


# --- the caller's side -----------------------------------------------------------------------

class _ClientChannel:
    """A started daemon of a compat context, as oslo.privsep's channel object."""

    def __init__(self, start: Callable[[], Any], context: PrivContext,
                 timeout: float | None) -> None:
        try:
            self._launched = start()
        except DaemonStartError as exc:
            raise FailedToDropPrivileges(str(exc)) from None
        self._entries = context._native._registry
        self._timeout = timeout or DEFAULT_CALL_TIMEOUT
        self.log = logging.getLogger(context.conf.logger_name)
        self.log_traceback = bool(context.conf.log_daemon_traceback)

    @property
    def running(self) -> bool:
        return not self._launched.channel.dead

    @property
    def pid(self) -> int:
        """The daemon's pid."""
        return int(self._launched.pid)

    def remote_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                    timeout: float | None) -> Any:
        payload = self._entries[name].contract.bind(args, kwargs)
        try:
            return self._launched.channel.call(name, payload, timeout or self._timeout)
        except CallTimeout as exc:
            from leastpriv.compat.comm import PrivsepTimeout

            raise PrivsepTimeout(*exc.args) from None
        except RaisedInDaemon as carried:
            if self.log_traceback:
                self.log.warning("Privsep daemon traceback: %s", carried.args[4])
            raise carried.rebuilt() from None

    def close(self) -> None:
        self._launched.channel.close()
        self._launched.reap()


class ForkingClientChannel(_ClientChannel):
    """Forks the daemon from this process, which holds the capabilities the context declares."""

    def __init__(self, context: PrivContext) -> None:
        from leastpriv.unprivileged import launch

        config = context.daemon_config()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered here is written twice, by the daemon too
        super().__init__(
            lambda: launch.fork_daemon(context.name, ContextRegistry(context), config),
            context, config.timeout)


class RootwrapClientChannel(_ClientChannel):
    """Runs ``privsep-helper`` (through sudo or rootwrap) as `PrivContext.helper_command` says."""

    def __init__(self, context: PrivContext) -> None:
        from leastpriv.unprivileged import launch

        config = context.daemon_config()
        super().__init__(
            lambda: launch.exec_daemon(context.name, str(context.pypath), config, None,
                                       helper_argv=context.helper_command),
            context, config.timeout)


# --- privsep-helper ----------------------------------------------------------------------------

def helper_main() -> NoReturn:
    """``privsep-helper [--config-file F]... [--config-dir D]... --privsep_context PYPATH
    --privsep_sock_path PATH``: serve one compat context as its daemon (run as root).

    The steps and checks of ``leastpriv-helper`` (`leastpriv.privileged.helper`), with
    oslo.privsep's command line: isolated first; under sudo, code, configuration files and the
    socket's directory that only root can have written, and the listener must be the invoking
    user; the daemon runs as the invoking user under sudo unless its section names one.
    """
    from leastpriv.privileged import daemon, helper, isolation

    environ = dict(os.environ)
    invoker = helper.Invoker(environ)
    try:
        isolation.isolate_process()
        if invoker.sudo:
            isolation.check_code(os.path.dirname(os.path.dirname(__file__)))
            isolation.check_later_imports()
        helper._import_path(invoker, environ)
        options = _parse_options(sys.argv[1:], check_files=invoker.sudo)
        check = helper._check_module_files if invoker.sudo else None
        context = _load_context(options.privsep_context, check)
        config_file = environ.get(CONFIG_ENV) or None
        if config_file and invoker.sudo:
            config_file = helper.check_config_location(config_file)
        config = helper.with_default_identity(context.daemon_config(config_file), invoker)
        sock = helper._connect(options.privsep_sock_path, invoker)
    except Exception as exc:  # noqa: BLE001 - printed, then the helper exits
        print(f"privsep-helper: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(daemon.EXIT_SETUP_FAILED)
    logging.getLogger().setLevel(logging.DEBUG if options.debug else logging.INFO)
    daemon.run_daemon(sock, name=context.name, registry=ContextRegistry(context, check),
                      config=config, allowed_uids=frozenset({invoker.uid}), keep_stderr=True)


def _parse_options(argv: list[str], *, check_files: bool) -> Any:
    """oslo.privsep's options, parsed by oslo.config (which reads the --config-file/-dir files);
    under sudo each of those must be root's alone before it is read."""
    from oslo_config import cfg

    from leastpriv.privileged import isolation

    paths = _config_paths(argv)
    for path in paths:
        if check_files:
            isolation.check_root_only(path)
            _check_resolves_to_itself(path)
    cfg.CONF.register_cli_opts([cfg.StrOpt("privsep_context", required=True),
                                cfg.StrOpt("privsep_sock_path", required=True),
                                cfg.BoolOpt("debug", short="d", default=False)])
    try:
        cfg.CONF(args=argv, project="privsep")
    except Exception:
        # oslo.config's parse errors quote the offending line (and name files that exist or
        # not): under sudo, only for files every user may read anyway (issue 8, finding 6).
        if check_files and not all(_readable_by_anyone(path) for path in paths):
            raise PolicyError("privsep-helper: a --config-file or --config-dir is not a usable "
                              "configuration (details withheld: the invoking user may not read "
                              "it)") from None
        raise
    return cfg.CONF


def _check_resolves_to_itself(path: str) -> None:
    """`PolicyError` unless what `path` opens is the file its resolved path names: the caller's
    stdin (``/dev/stdin``, ``/proc/self/fd/0``: a pipe or memfd resolves to no existing path)
    passed `check_root_only`, which judged it by /proc's or /dev's directories, root's."""
    try:
        opened = os.stat(path)
    except OSError:
        return  # nothing there: oslo.config finds nothing to read either
    try:
        same = os.path.samestat(opened, os.stat(os.path.realpath(path)))
    except OSError:
        same = False
    if not same:
        raise PolicyError(f"privsep-helper: {path} is not a file of root's on a path")


def _readable_by_anyone(path: str) -> bool:
    from leastpriv.privileged.helper import _readable_by_anyone as readable

    try:
        return readable(path)
    except OSError:  # missing or unsearchable: whether it exists is not the caller's to learn
        return False


# privsep-helper's options, and whether each takes a value. Only these, spelt out in full:
# oslo.config's argparse would also take "--config-fi FILE", which no check here would see.
_OPTIONS = {"--config-file": True, "--config-dir": True, "--privsep_context": True,
            "--privsep_sock_path": True, "--debug": False, "-d": False}


def _config_paths(argv: list[str]) -> list[str]:
    """Every configuration file oslo.config will read for `argv`: each --config-file, and each
    --config-dir with the ``*.conf`` files in it. `PolicyError` for any other option or an
    abbreviated one (``--opt value`` and ``--opt=value`` both count)."""
    paths = []
    words = iter(argv)
    for word in words:
        name, given, value = word.partition("=")
        if name not in _OPTIONS or (given and not _OPTIONS[name]):
            raise PolicyError(f"privsep-helper: unknown argument {word!r}")
        if _OPTIONS[name] and not given:
            value = next(words, "")
        # oslo.config opens "~user/f" as user's home's f: check the file it opens, not the
        # literal "/~user/f" (missing, so judged by "/", root's alone).
        value = os.path.expanduser(value)
        if name == "--config-file":
            paths.append(value)
        elif name == "--config-dir":
            paths += [value, *sorted(glob.glob(os.path.join(glob.escape(value), "*.conf")))]
    return paths


def _import_checked(module_name: str, check: Callable[[str], None] | None) -> Any:
    """Import `module_name` one package level at a time, each checked by `check` before its code
    runs. One level at a time because ``find_spec("pkg.sub.mod")`` (which `check` asks) imports
    ``pkg.sub`` itself: checking only the last level ran the parent's ``__init__`` unchecked."""
    if check is None:
        return importlib.import_module(module_name)
    parts = module_name.split(".")
    module = None
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if name not in sys.modules:
            check(name)
        module = importlib.import_module(name)
    return module


def _load_context(pypath: str, check: Callable[[str], None] | None) -> PrivContext:
    """The compat context at `pypath` (``pkg.module.attr``), each package level checked by
    `check` before its code runs."""
    from leastpriv.compat.priv_context import PrivContext

    module_name, _, attr = pypath.rpartition(".")
    context = getattr(_import_checked(module_name, check), attr, None)
    if not isinstance(context, PrivContext):
        raise TypeError(f"{pypath} is not a privsep PrivContext")
    return context


if __name__ == "__main__":
    helper_main()
