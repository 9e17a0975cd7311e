"""The SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.

Paths are relative to the ``%SRCROOT%`` base: the working directory when the audited root is in
it (GitHub code scanning ignores ``originalUriBaseIds`` and reads every relative uri from the
checkout's root, where CI runs ``leastpriv audit src``), else the audited root. Each result
carries a ``partialFingerprints`` entry built from the same line-independent key as the
baseline, plus the occurrence number of that key, so code scanning keeps recognising an alert
when code moves. Files that could not be read or parsed are the invocation's warnings.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from leastpriv.audit import baseline
from leastpriv.audit.docgen import RuleInfo, page_url, sections
from leastpriv.audit.model import AuditResult, Finding, Severity
from leastpriv.audit.report.common import column, shown_from, sorted_findings

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "leastpriv/v1"
LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub ranks security alerts by this property (0.0 to 10.0); mapped like CVSS bands.
SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.0", Severity.LOW: "2.0"}


def _version() -> str:
    try:
        return metadata.version("leastpriv")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


def _rule(rule: RuleInfo) -> dict[str, Any]:
    described = sections(rule.doc).get("What it does") or rule.summary
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": described},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "helpUri": page_url(rule.id),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["security"], "security-severity": SECURITY_SEVERITY[rule.severity]},
    }


def _artifact(path: str, prefix: str) -> dict[str, str]:
    return {"uri": quote(f"{prefix}{path}"), "uriBaseId": SRCROOT}


def _location(finding: Finding, prefix: str) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": _artifact(finding.path, prefix),
            "region": {"startLine": max(finding.line, 1), "startColumn": column(finding)},
        },
        "logicalLocations": [{"fullyQualifiedName": finding.symbol}],
    }


def _fingerprint(finding: Finding, occurrence: int) -> str:
    digest = hashlib.sha256("\0".join(baseline.key(finding)).encode()).hexdigest()[:32]
    return f"{digest}:{occurrence}"


def _results(
    findings: list[Finding], rule_index: Mapping[str, int], prefix: str
) -> list[dict[str, Any]]:
    seen: Counter[baseline.Key] = Counter()
    results = []
    for finding in findings:
        key = baseline.key(finding)
        seen[key] += 1
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": LEVELS[finding.severity],
            "message": {"text": finding.message},
            "locations": [_location(finding, prefix)],
            "partialFingerprints": {FINGERPRINT: _fingerprint(finding, seen[key])},
        }
        if finding.rule in rule_index:
            result["ruleIndex"] = rule_index[finding.rule]
        results.append(result)
    return results


def _root_uri(base: Path) -> str:
    uri = base.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _invocation(result: AuditResult, prefix: str) -> dict[str, Any]:
    """The run itself: it completed, with a warning per file or directory it had to skip."""
    notices = []
    for skipped in sorted(result.skipped, key=lambda s: (s.path, s.line)):
        location: dict[str, Any] = {"artifactLocation": _artifact(skipped.path, prefix)}
        if skipped.line > 0:
            location["region"] = {"startLine": skipped.line}
        notices.append({
            "level": "warning",
            "message": {"text": f"skipped {skipped.path}: {skipped.message}"},
            "locations": [{"physicalLocation": location}],
        })
    return {"executionSuccessful": True, "toolExecutionNotifications": notices}


def document(result: AuditResult, rules: Mapping[str, RuleInfo]) -> dict[str, Any]:
    """The SARIF log as plain data."""
    rule_ids = sorted(rules)
    driver = {
        "name": "leastpriv",
        "version": _version(),
        "rules": [_rule(rules[rule_id]) for rule_id in rule_ids],
    }
    base, prefix = shown_from(result.root)  # %SRCROOT%
    rule_index = {r: i for i, r in enumerate(rule_ids)}
    run = {
        "tool": {"driver": driver},
        "invocations": [_invocation(result, prefix)],
        "originalUriBaseIds": {SRCROOT: {"uri": _root_uri(base)}},
        "results": _results(sorted_findings(result), rule_index, prefix),
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(result: AuditResult, rules: Mapping[str, RuleInfo], *, color: bool = False) -> str:
    del color
    return json.dumps(document(result, rules), indent=2, sort_keys=True) + "\n"
