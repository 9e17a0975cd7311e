"""A plan as Markdown (for a maintainer) or JSON (a stable shape, for tools).

JSON shape, version 1 (keys beyond the documented shape are listed in docs/migration.md)::

    {"version": 1, "root": str,
     "filters": [{"path", "line", "name", "class", "command", "run_as", "args", "risk"}],
     "call_sites": [{"path", "line", "function", "command", "via", "filter", "argv"}],
     "commands": [{"command", "capabilities", "needs_uid0", "confidence", "replacement",
                   "filters", "call_sites"}],
     "plan": {"contexts": [{"name", "capabilities", "needs_uid0", "warning",
                            "functions": [{"name", "command", "call_sites", "params"}]}],
              "needs_review": [{"path", "line", "subject", "reason"}]},
     "problems": [{"path", "line", "message"}], "skipped": [{"path", "line", "message"}]}

Call sites and filters are referred to as ``"path:line"`` inside commands and functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from leastpriv.migrate.model import Filter, RootCallSite
from leastpriv.migrate.plan import (
    OptionalPart,
    Param,
    Plan,
    SuggestedContext,
    SuggestedFunction,
    Template,
)

JSON_VERSION = 1


def _ref(item: Filter | RootCallSite) -> str:
    return f"{item.path}:{item.line}"


def to_json_data(plan: Plan) -> dict[str, Any]:
    """The plan as plain data in the stable version-1 shape."""
    return {
        "version": JSON_VERSION,
        "root": plan.root,
        "filters": [_filter_data(flt) for flt in plan.filters],
        "call_sites": [_site_data(site) for site in plan.call_sites],
        "commands": [
            {
                "command": command.command,
                "capabilities": list(command.entry.capabilities) if command.entry else None,
                "needs_uid0": command.entry.needs_uid0 if command.entry else None,
                "confidence": command.entry.confidence if command.entry else None,
                "replacement": command.entry.replacement if command.entry else None,
                "filters": [_ref(flt) for flt in command.filters],
                "call_sites": [_ref(site) for site in command.call_sites],
            }
            for command in plan.commands
        ],
        "plan": {
            "contexts": [_context_data(context) for context in plan.contexts],
            "needs_review": [
                {"path": i.path, "line": i.line, "subject": i.subject, "reason": i.reason}
                for i in plan.review
            ],
        },
        "problems": [
            {"path": p.path, "line": p.line, "message": p.message} for p in plan.problems
        ],
        "skipped": [{"path": s.path, "line": s.line, "message": s.message} for s in plan.skipped],
    }


def to_json(plan: Plan) -> str:
    return json.dumps(to_json_data(plan), indent=2) + "\n"


def _filter_data(flt: Filter) -> dict[str, Any]:
    return {
        "path": flt.path,
        "line": flt.line,
        "name": flt.name,
        "class": flt.cls,
        "command": flt.command,
        "run_as": flt.run_as,
        "args": list(flt.args),
        "risk": list(flt.risk),
    }


def _site_data(site: RootCallSite) -> dict[str, Any]:
    return {
        "path": site.path,
        "line": site.line,
        "function": site.function,
        "command": site.command,
        "via": site.via,
        "filter": site.filter,
        "argv": list(site.argv),
    }


def _context_data(context: SuggestedContext) -> dict[str, Any]:
    return {
        "name": context.name,
        "capabilities": list(context.capabilities),
        "needs_uid0": context.needs_uid0,
        "warning": context.warning,
        "functions": [
            {
                "name": function.name,
                "command": function.command,
                "call_sites": [_ref(site) for site in function.call_sites],
                "params": {param.name: param.annotation for param in function.params},
            }
            for function in context.functions
        ],
    }


# -- Markdown ------------------------------------------------------------------------------------


def to_markdown(plan: Plan) -> str:
    """The plan for a maintainer: summary, commands, contexts, then one function per call shape."""
    sections = [
        f"# Migration plan for `{plan.project}` off oslo.rootwrap\n\nRead from `{plan.root}`.",
        _summary(plan),
        _commands_table(plan),
        _contexts_section(plan),
        _functions_section(plan),
        _review_section(plan),
        _skipped_section(plan),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _summary(plan: Plan) -> str:
    planned = sum(len(f.call_sites) for c in plan.contexts for f in c.functions)
    risky = sum(1 for flt in plan.filters if flt.risk)
    rows = [
        ("filter entries", len(plan.filters)),
        ("filters that already give root away", risky),
        ("run-as-root call sites", len(plan.call_sites)),
        ("commands", len(plan.commands)),
        ("commands not in the catalog", sum(1 for c in plan.commands if c.entry is None)),
        ("suggested contexts", len(plan.contexts)),
        ("suggested functions", sum(len(c.functions) for c in plan.contexts)),
        ("call sites covered by a suggested function", planned),
        ("items that need review", len(plan.review)),
        ("filter lines rootwrap would misread", len(plan.problems)),
        ("files that could not be parsed", len(plan.skipped)),
    ]
    return "## Status\n\n" + markdown_table(("", "count"), rows)


def _commands_table(plan: Plan) -> str:
    rows = []
    for command in plan.commands:
        entry = command.entry
        if entry is None:
            rows.append((f"`{command.command}`", "**needs review**", "", "", "",
                         len(command.filters), len(command.call_sites)))
            continue
        rows.append((
            f"`{command.command}`",
            ", ".join(entry.capabilities) or "none",
            "yes" if entry.needs_uid0 else "",
            entry.confidence,
            entry.replacement or "",
            len(command.filters),
            len(command.call_sites),
        ))
    header = ("command", "capabilities", "uid 0", "confidence", "replacement", "filters", "calls")
    return "## Commands\n\n" + markdown_table(header, rows)


def _contexts_section(plan: Plan) -> str:
    if not plan.contexts:
        return "## Suggested contexts\n\nNone: no call site could be planned."
    lines = ["## Suggested contexts", ""]
    for context in plan.contexts:
        capabilities = ", ".join(context.capabilities) or "no capabilities"
        functions = ", ".join(f"`{f.name}`" for f in context.functions)
        lines.append(f"- `{plan.project}.{context.name}`: {capabilities} — {functions}")
        if context.needs_uid0:
            lines.append(f"  - **uid 0:** {context.warning}")
    return "\n".join(lines)


def _functions_section(plan: Plan) -> str:
    blocks = ["## Suggested functions"]
    for context in plan.contexts:
        blocks += [_function_block(context, function) for function in context.functions]
    return "\n\n".join(blocks)


def _function_block(context: SuggestedContext, function: SuggestedFunction) -> str:
    argv = " ".join([function.program] + [_shown(item) for item in function.argv])
    codes = function.options.ok_codes
    accepts = ("" if codes == (0,) else " Accepts every exit code." if codes is None
               else f" Accepts exit codes {', '.join(map(str, codes))}.")
    lines = [f"### `{function.name}` (context `{context.name}`)", "", f"Runs `{argv}`.{accepts}",
             ""]
    lines += [f"- `{param.name}`: `{param.annotation}`" for param in function.params]
    lines += [f"- replaces `{_ref(site)}` in `{site.function}`" for site in function.call_sites]
    lines += [f"- replaces filter `{f.name}` ({f.cls}, `{_ref(f)}`)" for f in function.filters]
    return "\n".join(lines)


def _shown(item: str | Param | Template | OptionalPart) -> str:
    """``{name}`` for a parameter, fixed text as it is: ``of={output_path}``; ``[--cipher
    {cipher}]`` for items a parameter may leave out."""
    if isinstance(item, OptionalPart):
        return "[" + " ".join(_shown(part) for part in item.items) + "]"
    parts = item.parts if isinstance(item, Template) else (item,)
    return "".join(f"{{{p.name}}}" if isinstance(p, Param) else p for p in parts)


def _skipped_section(plan: Plan) -> str:
    if not plan.skipped:
        return ""
    lines = [f"- `{s.path}:{s.line}` {s.message}" if s.line else f"- `{s.path}` {s.message}"
             for s in plan.skipped]
    return "## Files that could not be read or parsed\n\n" + "\n".join(lines)


def _review_section(plan: Plan) -> str:
    if not plan.review:
        return ""
    rows = [(f"`{i.path}:{i.line}`", f"`{i.subject}`", i.reason) for i in plan.review]
    return "## Needs review\n\n" + markdown_table(("where", "what", "why"), rows)


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
