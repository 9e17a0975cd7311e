"""Unit tests of code that uses leastpriv: entrypoints run in the test's process, for one test.

In a unit test a privileged function runs in the calling process instead of a daemon, with its
contract still checked, and its `PathUnder` roots may point at a temporary directory::

    # unittest or testtools (Python 3.11+: enterContext; before: with, or addCleanup)
    def setUp(self):
        self.enterContext(in_process(console.console_ctx,
                                     roots={console.INSTANCES_ROOT: self.tmpdir}))

    # pytest (the plugin leastpriv installs provides the fixture)
    def test_console(leastpriv_in_process, tmp_path):
        leastpriv_in_process(console.console_ctx, roots={console.INSTANCES_ROOT: tmp_path})

When the test ends, each context's client mode is what it was before and each root is bound as it
was before, so nothing leaks into the next test (a bare ``set_client_mode(False)`` does).

Rebinding a root is for this process only (`leastpriv.paths.rebind_root_for_tests`): the caller
still passes paths under the root *as declared*, which the contract checks lexically as always,
and the file system is asked beneath the directory given instead. A daemon forgets every rebinding
when it starts, so a test can never widen what a real daemon accepts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from leastpriv import paths
from leastpriv.context import PrivContext
from leastpriv.markers import PathUnder

__all__ = ["in_process"]

# Roots rebound by `in_process` in this process: declared root -> the directories it was bound
# to, innermost last, so that a nested `in_process` restores the binding of the one around it.
_bindings: dict[str, list[str]] = {}


@contextlib.contextmanager
def in_process(
    *contexts: PrivContext,
    roots: Mapping[str, str | os.PathLike[str]] | None = None,
) -> Iterator[None]:
    """Run `contexts`' entrypoints in this process, and resolve `roots` (declared root ->
    directory) beneath the directories given, until the block ends.

    Raises `ValueError` for a root that no entrypoint of `contexts` declares (a misspelt root would
    otherwise send the test to the real one) or a directory that is not absolute.
    """
    rebound = _checked_roots(contexts, roots or {})
    with contextlib.ExitStack() as stack:
        for context in contexts:
            stack.callback(context.set_client_mode, context.client_mode)
            context.set_client_mode(False)
        for declared, actual in rebound.items():
            _rebind(declared, actual)
            stack.callback(_unbind, declared)
        yield


def _checked_roots(contexts: tuple[PrivContext, ...],
                   roots: Mapping[str, str | os.PathLike[str]]) -> dict[str, str]:
    declared = {root for context in contexts for entry in context.registry.values()
                for root in entry.contract.path_roots}
    checked = {}
    for root, directory in roots.items():
        name = PathUnder(root).roots[0]  # normalised as the contracts' own roots are
        if name not in declared:
            names = ", ".join(context.name for context in contexts) or "no context"
            raise ValueError(f"no entrypoint of {names} declares PathUnder root {name!r} "
                             f"(declared: {sorted(declared)})")
        actual = os.fspath(directory)
        if not os.path.isabs(actual):
            raise ValueError(f"root {name!r} must be bound to an absolute path, not {actual!r}")
        checked[name] = actual
    return checked


def _rebind(declared: str, actual: str) -> None:
    _bindings.setdefault(declared, []).append(actual)
    paths.rebind_root_for_tests(declared, actual)


def _unbind(declared: str) -> None:
    stack = _bindings[declared]
    stack.pop()
    if not stack:
        del _bindings[declared]
    paths.rebind_root_for_tests(declared, stack[-1] if stack else None)
