"""The HTML report: one self-contained page with the capability map and the findings table.

Contexts → entrypoints → callers, each node coloured by the worst of its own findings. The page
loads nothing (a Content-Security-Policy forbids it) and every string from the audited code is
escaped: that code is untrusted input to the page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from html import escape

from leastpriv.audit.docgen import RuleInfo, fix_text
from leastpriv.audit.model import AuditResult, CallSite, ContextInfo, EntrypointInfo, Severity
from leastpriv.audit.report.common import (
    column,
    sorted_contexts,
    sorted_entrypoints,
    sorted_findings,
    worst_by_symbol,
)

_CSS = """
:root { --high: #c62828; --medium: #ef8f00; --low: #1e88e5; --ok: #9e9e9e; font-family: system-ui,
  sans-serif; color: #212121; }
body { margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
code, .mono { font-family: ui-monospace, monospace; font-size: .9em; }
.legend span, .cap { display: inline-block; padding: .05rem .45rem; border-radius: .7rem;
  margin: .1rem; font-size: .8em; }
.cap { background: #eceff1; }
.sev-high { --c: var(--high); } .sev-medium { --c: var(--medium); } .sev-low { --c: var(--low); }
.sev-none { --c: var(--ok); }
.legend span { background: var(--c); color: white; }
details.context { border-left: .4rem solid var(--c); margin: .8rem 0; padding: .3rem .8rem;
  background: #fafafa; }
summary { cursor: pointer; }
ul.tree { list-style: none; padding-left: 1.2rem; margin: .3rem 0; }
ul.tree > li { border-left: .25rem solid var(--c); padding: .15rem .5rem; margin: .25rem 0; }
.where { color: #616161; font-size: .85em; }
.badge { background: var(--c); color: white; border-radius: .6rem; padding: 0 .4rem;
  font-size: .8em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e0e0e0;
  vertical-align: top; }
td.sev { border-left: .4rem solid var(--c); }
td { overflow-wrap: anywhere; }
#filter { width: 20rem; padding: .3rem; }
"""

# Filters the findings table by the text typed; reads only the page's own DOM.
_JS = """
document.getElementById('filter').addEventListener('input', function (event) {
  var needle = event.target.value.toLowerCase();
  document.querySelectorAll('#findings tbody tr').forEach(function (row) {
    row.hidden = needle !== '' && row.textContent.toLowerCase().indexOf(needle) < 0;
  });
});
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _sev_class(severity: Severity | None) -> str:
    return f"sev-{severity}" if severity else "sev-none"


def _badge(count: int, severity: Severity | None) -> str:
    if not count:
        return ""
    return f' <span class="badge {_sev_class(severity)}">{count} finding{"s" * (count != 1)}</span>'


class _Map:
    """The capability map's nodes and the findings attached to each."""

    def __init__(self, result: AuditResult) -> None:
        self.worst = worst_by_symbol(result.findings)
        self.count = Counter(f.symbol for f in result.findings)
        self.by_context: dict[str | None, list[EntrypointInfo]] = defaultdict(list)
        for entrypoint in sorted_entrypoints(result):
            self.by_context[entrypoint.context].append(entrypoint)

    def node(self, symbol: str, body: str) -> str:
        worst = self.worst.get(symbol)
        return f'<li class="{_sev_class(worst)}">{body}{_badge(self.count[symbol], worst)}'

    def caller(self, call: CallSite) -> str:
        where = f"{call.path}:{call.line}"
        body = (f'<code>{escape(call.caller)}</code> calls <code>{escape(call.name_used)}</code> '
                f'<span class="where">{escape(where)}</span>')
        return self.node(call.caller, body) + "</li>"

    def entrypoint(self, entrypoint: EntrypointInfo) -> Iterator[str]:
        params = ", ".join(entrypoint.params)
        where = f"{entrypoint.path}:{entrypoint.line}"
        body = (f'<code>{escape(entrypoint.id)}({escape(params)})</code> '
                f'<span class="where">{escape(where)}</span>')
        yield self.node(entrypoint.id, body)
        if entrypoint.callers:
            yield '<ul class="tree">'
            yield from (self.caller(call) for call in entrypoint.callers)
            yield "</ul>"
        yield "</li>"

    def group(self, context_id: str | None, summary: str) -> Iterator[str]:
        worst = self.worst.get(context_id) if context_id else None
        entrypoints = self.by_context.get(context_id, [])
        yield f'<details class="context {_sev_class(worst)}" open><summary>{summary}'
        yield f"{_badge(self.count[context_id], worst) if context_id else ''}"
        yield f" · {len(entrypoints)} entrypoints</summary>"
        yield '<ul class="tree">'
        for entrypoint in entrypoints:
            yield from self.entrypoint(entrypoint)
        yield "</ul></details>"

    def context(self, context: ContextInfo) -> Iterator[str]:
        caps = "".join(f'<span class="cap">{escape(cap)}</span>' for cap in context.capabilities)
        section = f" [{context.cfg_section}]" if context.cfg_section else ""
        where = f"{context.path}:{context.line}"
        summary = (f"<strong><code>{escape(context.id)}</code></strong>{escape(section)} {caps} "
                   f'<span class="where">{escape(where)} · {escape(context.framework)}</span>')
        yield from self.group(context.id, summary)


def _capability_map(result: AuditResult) -> Iterator[str]:
    nodes = _Map(result)
    yield "<h2>Capability map</h2>"
    if not result.contexts and not result.entrypoints:
        yield "<p>No privsep context or entrypoint found.</p>"
    for context in sorted_contexts(result):
        yield from nodes.context(context)
    if nodes.by_context.get(None):
        yield from nodes.group(None, "<strong>Entrypoints whose context was not resolved</strong>")


def _findings_table(result: AuditResult, rules: Mapping[str, RuleInfo]) -> Iterator[str]:
    yield f"<h2>Findings ({len(result.findings)})</h2>"
    yield '<p><input id="filter" type="search" placeholder="filter: rule, path, symbol, text"></p>'
    yield '<table id="findings"><thead><tr><th>severity</th><th>rule</th><th>where</th>'
    yield "<th>symbol</th><th>message and fix</th></tr></thead><tbody>"
    for finding in sorted_findings(result):
        rule = rules.get(finding.rule)
        name = f" {rule.name}" if rule else ""
        fix = f'<br><span class="where">fix: {escape(fix_text(rule))}</span>' if rule else ""
        where = f"{finding.path}:{finding.line}:{column(finding)}"
        yield (f'<tr><td class="sev {_sev_class(finding.severity)}">{finding.severity}</td>'
               f"<td><code>{escape(finding.rule)}</code>{escape(name)}</td>"
               f'<td class="mono">{escape(where)}</td>'
               f'<td class="mono">{escape(finding.symbol)}</td>'
               f"<td>{escape(finding.message)}{fix}</td></tr>")
    yield "</tbody></table>"


def _skipped(result: AuditResult) -> Iterable[str]:
    if not result.skipped:
        return []
    items = "".join(f"<li><code>{escape(s.path)}:{s.line}</code> {escape(s.message)}</li>"
                    for s in sorted(result.skipped, key=lambda s: (s.path, s.line)))
    return [f"<h2>Skipped files ({len(result.skipped)})</h2><ul>{items}</ul>"]


def _header(result: AuditResult) -> str:
    by_severity = Counter(f.severity for f in result.findings)
    legend = "".join(f'<span class="{_sev_class(s)}">{s}: {by_severity[s]}</span>'
                     for s in sorted(Severity, reverse=True))
    return (f"<h1>leastpriv audit of <code>{escape(result.root)}</code></h1>"
            f'<p class="legend">{legend}<span class="sev-none">no findings</span> · '
            f"{len(result.contexts)} contexts, {len(result.entrypoints)} entrypoints, "
            f"{result.files_read} files read</p>")


def render(result: AuditResult, rules: Mapping[str, RuleInfo], *, color: bool = False) -> str:
    del color
    body = [_header(result), *_capability_map(result), *_findings_table(result, rules),
            *_skipped(result)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>leastpriv audit: {escape(result.root)}</title>",
        f"<style>{_CSS}</style></head><body>",
        *body,
        f"<script>{_JS}</script>",
        "</body></html>",
        "",
    ])
