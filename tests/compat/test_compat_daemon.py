"""leastpriv.compat.daemon without a daemon: the registry a compat daemon serves, value shapes,
exceptions carried across."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("oslo_config.cfg", reason="leastpriv.compat needs oslo.config")
from leastpriv.compat import daemon, priv_context
from leastpriv.errors import PolicyError, RemoteError


def _context(prefix: str) -> priv_context.PrivContext:
    return priv_context.PrivContext(prefix, cfg_section="compat_reg", capabilities=[])


def test_registry_never_imports_outside_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    monkeypatch.setattr(daemon.importlib, "import_module", imported.append)
    registry = daemon.ContextRegistry(_context("someproject.privileged"))
    for name in ("os.system", "someproject.other.f", "someprojectx.f", "someproject.privileged",
                 "someproject.privileged.bad-name.f", "someproject.privileged..f"):
        assert registry.get(name) is None
    assert imported == []


def test_registry_imports_below_the_prefix_once_and_serves_only_what_it_registered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    context = _context("lazyproj")
    imported: list[str] = []

    def fake_import(name: str) -> None:
        imported.append(name)
        module = types.ModuleType(name)

        def registered():  # type: ignore[no-untyped-def]
            return 1

        registered.__module__ = name
        registered.__qualname__ = "registered"
        context.entrypoint(registered)
        monkeypatch.setitem(sys.modules, name, module)

    monkeypatch.setattr(daemon.importlib, "import_module", fake_import)
    registry = daemon.ContextRegistry(context)
    assert registry.get("lazyproj.mod.unregistered") is None  # imported, but not an entrypoint
    assert registry.get("lazyproj.mod.registered") is not None
    assert registry.get("lazyproj.mod.unregistered") is None
    assert imported == ["lazyproj.mod"]


def test_served_function_delivers_sequences_as_tuples() -> None:
    serve = daemon.served_function(lambda *a, **k: [a, k])
    assert serve([1, [2]], key=[3, {"x": [4]}]) == (((1, (2,)),), {"key": (3, {"x": (4,)})})


class NotImportedYet(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code


def _raise(exc: BaseException) -> None:
    raise exc


def test_an_exception_of_another_module_is_carried_and_rebuilt_as_cls_args() -> None:
    serve = daemon.served_function(lambda: _raise(NotImportedYet(3, "no")))
    with pytest.raises(daemon.RaisedInDaemon) as raised:
        serve()
    rebuilt = raised.value.rebuilt()
    assert type(rebuilt) is NotImportedYet
    assert (rebuilt.code, rebuilt.args) == (3, (3, "no"))


@pytest.mark.parametrize("exc", [RuntimeError("x"), FileNotFoundError(2, "gone", "/f")])
def test_builtin_exceptions_travel_as_for_a_native_context(exc: BaseException) -> None:
    serve = daemon.served_function(lambda: _raise(exc))
    with pytest.raises(type(exc)):
        serve()


def test_a_class_that_cannot_be_found_becomes_remote_error() -> None:
    carried = daemon.RaisedInDaemon("no_such_module_here", "Boom", [1], "boom", "tb")
    assert isinstance(carried.rebuilt(), RemoteError)
    carried = daemon.RaisedInDaemon("os", "path", [1], "not a class", "tb")
    assert isinstance(carried.rebuilt(), RemoteError)


def test_privsep_helper_sees_every_config_file_oslo_config_would_read(tmp_path: Path) -> None:
    (tmp_path / "b.conf").write_text("")
    (tmp_path / "ignored.txt").write_text("")
    argv = ["--config-file", "/etc/a.conf", f"--config-dir={tmp_path}", "--privsep_context",
            "p.c", "--privsep_sock_path=/s", "--debug"]
    assert daemon._config_paths(argv) == ["/etc/a.conf", str(tmp_path), str(tmp_path / "b.conf")]


@pytest.mark.parametrize("argv", [
    ["--config-fi", "/home/someone/evil.conf"],  # argparse would take the abbreviation
    ["--config", "/home/someone/evil.conf"],
    ["--log-file", "/x"],
    ["--debug=1"],
    ["stray"],
])
def test_privsep_helper_refuses_any_other_or_abbreviated_argument(argv: list[str]) -> None:
    with pytest.raises(PolicyError):
        daemon._config_paths(argv)
