"""The whole tree at once: contexts, entrypoints and their call sites, resolved across modules.

Built from the `ModuleFacts` of every file after the per-file pass. A name written in one module
(``privileged.default``) is followed through the imports of the modules it passes (``from
os_brick import privileged`` → ``os_brick.privileged.default``), including re-exports.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from leastpriv import caps
from leastpriv.audit.facts import CallFact, ContextFact, EntrypointFact, ModuleFacts

_MAX_HOPS = 8  # re-export chains longer than this are cycles or mistakes


@dataclass(frozen=True)
class Located:
    """A fact together with the module it was found in."""

    module: ModuleFacts
    context: ContextFact | None = None
    entrypoint: EntrypointFact | None = None
    call: CallFact | None = None


class TreeIndex:
    """Lookups across every module of one audited tree."""

    def __init__(self, modules: list[ModuleFacts]) -> None:
        self.modules = {m.module: m for m in modules if m.kind == "python" and m.parsed}
        self.configs = [m for m in modules if m.kind == "config"]
        self.contexts = {
            f"{m.module}.{c.name}": Located(m, context=c)
            for m in self.modules.values()
            for c in m.contexts
        }
        self.entrypoints: dict[str, Located] = {}
        self._places: dict[str, str] = {}  # "m.Class.method" -> its id
        self._add_entrypoints()
        for context_id, located in self.contexts.items():
            if located.context is not None and located.context.capability_refs:
                self._complete(context_id, located.module, located.context)
        self.callers: dict[str, list[Located]] = defaultdict(list)
        for module in self.modules.values():
            for call in module.calls:
                target = self.resolve(call.target)
                if target in self.entrypoints:
                    self.callers[target].append(Located(module, call=call))

    def _add_entrypoints(self) -> None:
        """Each entrypoint by its id, ``module.name``: the name oslo.privsep sends and its daemon
        imports. Module-level functions first, since the daemon runs those; an entrypoint of a
        class or function body whose id is taken (a static method named as a module-level
        function) is listed under its place, ``module.Class.name``. Calls by the place
        (``path.path.exists(...)``) find it either way."""
        located = [(m, e) for m in self.modules.values() for e in m.entrypoints]
        for module, entrypoint in sorted(located, key=lambda pair: pair[1].method):
            entrypoint_id = f"{module.module}.{entrypoint.name}"
            place = f"{module.module}.{entrypoint.qualname or entrypoint.name}"
            if entrypoint_id in self.entrypoints:
                entrypoint_id = place
            self.entrypoints[entrypoint_id] = Located(module, entrypoint=entrypoint)
            self._places[place] = entrypoint_id

    def resolve(self, dotted: str) -> str:
        """`dotted` with every re-export along the way replaced by what it names."""
        for _ in range(_MAX_HOPS):
            dotted = self._places.get(dotted, dotted)
            if dotted in self.contexts or dotted in self.entrypoints:
                return dotted
            step = self._step(dotted)
            if step is None or step == dotted:
                return dotted
            dotted = step
        return dotted

    def _step(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.modules.get(".".join(parts[:cut]))
            if module is not None:
                name = parts[cut]
                target = (
                    module.imports.get(name)
                    or module.assigned.get(name)
                    or self._from_star(module, name)
                )
                return None if target is None else ".".join([target, *parts[cut + 1 :]])
        return None

    def _from_star(self, module: ModuleFacts, name: str) -> str | None:
        """Where `name` comes from when `module` star-imports a module that binds it."""
        for star in module.star_imports:
            source = self.modules.get(star)
            dotted = f"{star}.{name}"
            if source is None:
                continue
            if name in source.imports or name in source.assigned:
                return dotted
            if dotted in self.contexts or dotted in self.entrypoints:
                return dotted
        return None

    def _complete(self, context_id: str, module: ModuleFacts, context: ContextFact) -> None:
        """Replace `context` by itself with the lists it names read, here and in its module's
        facts, where the module rules (LPS101, LPS102) read it."""
        complete = self._with_lists(context)
        self.contexts[context_id] = Located(module, context=complete)
        module.contexts[:] = [complete if c is context else c for c in module.contexts]

    def _with_lists(self, context: ContextFact) -> ContextFact:
        """`context` with the capabilities of the lists it names from other modules added;
        a list not found in the tree stays among the unresolved."""
        held = list(context.capabilities)
        unresolved = list(context.unresolved)
        for ref in context.capability_refs:
            module, _, name = self.resolve(ref).rpartition(".")
            facts = self.modules.get(module)
            found = facts.capability_lists.get(name) if facts is not None else None
            if found is None:
                unresolved.append(ref)
            else:
                held += found
        return dataclasses.replace(
            context,
            capabilities=tuple(caps.names(held)),
            unresolved=tuple(unresolved),
            capability_refs=(),
        )

    def context_of(self, entrypoint: EntrypointFact) -> str | None:
        """The id of the context `entrypoint` is decorated with, when it is in the tree."""
        if entrypoint.context_ref is None:
            return None
        resolved = self.resolve(entrypoint.context_ref)
        return resolved if resolved in self.contexts else None


def defines_entrypoints(modules: list[ModuleFacts]) -> frozenset[str]:
    """Modules a caller must import to reach an entrypoint: those that define one, and the
    packages whose ``__init__`` re-exports one (``from svc.linux_net import create_tap``).

    Only package ``__init__`` files count as re-exporters: any module that imports an
    entrypoint would otherwise pull in every file that imports it in turn.
    """
    targets = {m.module for m in modules if m.entrypoints}
    packages = [m for m in modules if m.path.endswith("__init__.py") and m.module not in targets]
    for _ in range(2):  # a package re-exporting a package that re-exports: rare beyond that
        found = {m.module for m in packages if _imports_from(m, targets)}
        if found <= targets:
            break
        targets |= found
    return frozenset(targets)


def _imports_from(module: ModuleFacts, targets: set[str]) -> bool:
    names = module.imports.values() if module.parsed else module.imported
    return any(name.rpartition(".")[0] in targets for name in names)


def may_call(imported: tuple[str, ...], targets: frozenset[str]) -> bool:
    """True when a file importing `imported` could reach a module in `targets`.

    ``import nova.privsep`` may reach ``nova.privsep.path``; ``from nova.privsep import path``
    names ``nova.privsep.path`` itself, and ``from nova.privsep.path import writefile`` names
    ``nova.privsep.path.writefile`` whose module is in `targets`.
    """
    for name in imported:
        if name in targets or name.rpartition(".")[0] in targets:
            return True
        prefix = name + "."
        if "." in name and any(t.startswith(prefix) for t in targets):
            return True
    return False
