"""Flows that leave the entrypoint's module, followed through per-function summaries.

The per-file walk records, for the module-level functions of the modules that may be called
from privileged code, where their parameters go (`FunctionSummary`), and for each entrypoint the
calls that pass its parameters to other modules (`OutCall`). After every file is read once, each
call is resolved through the tree's import index to the callee's summary, and the callee's flows
become the entrypoint's, its parameters renamed to the caller's: neutron's ``read_file``
entrypoint handing ``_path`` to ``neutron.common.utils.read_file``, which opens it. Calls are
followed `MAX_DEPTH` modules deep; the callee's own narrowing checks already shaped its summary.

Summarised are the modules that define a context or an entrypoint (parsed anyway) and those
that such code calls into. A called module parsed in pass 1 for a marker alone (a helper module
naming ``run_as_root`` or ``privileged``) is parsed a second time to summarise it: summarising
every parsed module in pass 1 would cost about a tenth of the run on nova, and the called ones
are few.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping

from leastpriv.audit.dataflow import final_flows, merge_reaches
from leastpriv.audit.facts import EntrypointFact, FlowFact, FunctionSummary, ModuleFacts, OutCall
from leastpriv.audit.index import TreeIndex

MAX_DEPTH = 3  # modules away from the entrypoint (chain.purge -> lowlevel.forward -> deepest.rm)

Labels = dict[str, frozenset[str]]  # callee parameter -> the caller's parameters in it


def calls_out(module: ModuleFacts) -> Iterator[OutCall]:
    """Every call this module's entrypoints and summaries make into other modules."""
    for entrypoint in module.entrypoints:
        yield from entrypoint.calls_out
    for summary in module.summaries.values():
        yield from summary.calls


def module_of(target: str, modules: Mapping[str, object]) -> str | None:
    """The longest dotted prefix of `target` that is a module id in `modules`."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in modules:
            return prefix
    return None


def compose(index: TreeIndex) -> None:
    """Add to each entrypoint the flows its calls into other modules of the tree lead to."""
    for module in index.modules.values():
        module.entrypoints[:] = [_composed(index, e) for e in module.entrypoints]


def _composed(index: TreeIndex, entrypoint: EntrypointFact) -> EntrypointFact:
    found = [f for call in entrypoint.calls_out for f in _follow(index, call, _own(call), 1)]
    checked = [g for call in entrypoint.calls_out if call.guard for g in _checked(index, call)]
    if not (found or checked):
        return entrypoint
    flows = _merged([*entrypoint.flows, *found])
    for line, names in checked:
        flows = tuple(f for f in (_without(flow, names) if flow.line > line else flow
                                  for flow in flows) if f is not None)
    return dataclasses.replace(entrypoint, flows=flows)


def _checked(index: TreeIndex, call: OutCall) -> Iterator[tuple[int, frozenset[str]]]:
    """The entrypoint's parameters a check of another module confines from the check's line on
    (``validate.check_name(name)``, ``if not validate.is_safe(name): raise``)."""
    target = index.resolve(call.target)
    module = module_of(target, index.modules)
    if module is None:
        return
    kind, confined = index.modules[module].checks.get(target[len(module) + 1 :], ("", ()))
    if kind and (kind == "raises" or call.guard == "true"):
        params = FunctionSummary(confined, confined, (), ())
        names = [n for p, n in _bind(params, call, _own(call)).items() if p in confined]
        yield call.line, frozenset().union(*names)


def _without(flow: FlowFact, names: frozenset[str]) -> FlowFact | None:
    """`flow` without the parameters in `names`; None when none is left."""
    reaches = tuple((role, kept) for role, params in flow.reaches
                    if (kept := tuple(p for p in params if p not in names)))
    return dataclasses.replace(flow, reaches=reaches) if reaches else None


def _own(call: OutCall) -> Labels:
    """An entrypoint's call: each label is the caller's own parameter."""
    return {p: frozenset({p}) for _, params in call.args for p in params}


def _follow(index: TreeIndex, call: OutCall, labels: Labels, depth: int) -> list[FlowFact]:
    """The flows `call` leads to, in the entrypoint's parameters (`labels` renames the call's)."""
    target = index.resolve(call.target)
    summary = _summary(index, target)
    if summary is None:
        return []
    bound = _bind(summary, call, labels)
    via = (*call.via, target)
    found = []
    for flow in summary.flows:
        reaches = [(role, _rename(params, bound)) for role, params in flow.reaches]
        reaches = [(role, names) for role, names in reaches if names]
        if reaches:
            found.append(
                FlowFact(
                    flow.kind,
                    call.line,
                    call.col,
                    flow.sink,
                    flow.sink_line,
                    merge_reaches((), reaches),
                    (*via, *flow.via),
                )
            )
    if depth < MAX_DEPTH:
        for inner in summary.calls:
            anchored = dataclasses.replace(
                inner, line=call.line, col=call.col, via=(*via, *inner.via)
            )
            found += _follow(index, anchored, bound, depth + 1)
    return found


def _summary(index: TreeIndex, target: str, hops: int = 2) -> FunctionSummary | None:
    module = module_of(target, index.modules)
    if module is None:
        return None
    known = index.modules[module].summaries
    name = target[len(module) + 1 :]
    head, _, rest = name.partition(".")
    made_by = index.modules[module].instances.get(head)
    if name not in known and rest and made_by is not None and hops:
        # REMOVER.remove(path), REMOVER = Remover() at module level: Remover.remove.
        return _summary(index, f"{index.resolve(made_by)}.{rest}", hops - 1)
    if name in known or name.count(".") < 2:
        return known.get(name)
    # Class().attr.method(): the attribute's class is unknown (IPWrapper().netns is set in its
    # __init__); the method of that name when one class of the module has it.
    method = "." + name.rpartition(".")[2]
    matches = [summary for key, summary in known.items() if key.endswith(method)]
    return matches[0] if len(matches) == 1 else None


def _bind(summary: FunctionSummary, call: OutCall, labels: Labels) -> Labels:
    """The callee's parameters, each with the entrypoint parameters the call put in it."""
    bound: Labels = {}
    rest = (summary.vararg,) if summary.vararg else ()
    for where, params in call.args:
        names: tuple[str, ...]
        if where == "self":  # the object a method was called on
            names = (summary.receiver,) if summary.receiver else ()
        elif isinstance(where, int):
            names = summary.params[where : where + 1] or rest
        elif where == "**":  # f(**options): any keyword parameter
            names = summary.keywords
        elif where.startswith("*"):
            names = (*summary.params[int(where[1:]) :], *rest)  # f(x, *cmd): any from there on
        else:
            names = (where,) if where in summary.keywords else ()
        for name in names:
            bound[name] = bound.get(name, frozenset()) | _rename(params, labels)
    return bound


def _rename(params: Iterable[str], labels: Labels) -> frozenset[str]:
    return frozenset().union(*(labels.get(p, frozenset()) for p in params))


def _merged(flows: list[FlowFact]) -> tuple[FlowFact, ...]:
    """One flow per rule and line, as the per-module analysis keeps them."""
    by_key: dict[tuple[str, int], FlowFact] = {}
    for flow in flows:
        old = by_key.get((flow.kind, flow.line))
        by_key[(flow.kind, flow.line)] = (
            flow
            if old is None
            else dataclasses.replace(old, reaches=merge_reaches(old.reaches, list(_sets(flow))))
        )
    return final_flows(by_key.values())


def _sets(flow: FlowFact) -> Iterator[tuple[str, frozenset[str]]]:
    for role, params in flow.reaches:
        yield role, frozenset(params)
