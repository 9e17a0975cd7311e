"""Baselines accept today's findings by a key that code moving up or down does not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from leastpriv.audit import baseline
from leastpriv.audit.model import Finding, Severity


def finding(line: int, message: str = "parameter 'path' reaches open at line {line}",
            symbol: str = "nova.privsep.path.writefile", rule: str = "LPS203") -> Finding:
    return Finding("nova/privsep/path.py", line, 4, rule, Severity.HIGH, symbol,
                   message.format(line=line))


def test_findings_that_only_moved_are_still_accepted() -> None:
    accepted = baseline.loads(baseline.dumps([finding(10), finding(20, symbol="x.chmod")]))
    fresh, covered = baseline.new_findings([finding(15), finding(31, symbol="x.chmod")], accepted)
    assert fresh == [] and covered == 2


def test_a_new_symbol_or_rule_is_reported() -> None:
    accepted = baseline.loads(baseline.dumps([finding(10)]))
    new = [finding(10, symbol="nova.privsep.path.chmod"), finding(10, rule="LPS205")]
    fresh, covered = baseline.new_findings([finding(10), *new], accepted)
    assert sorted(fresh) == sorted(new) and covered == 1


def test_a_second_identical_finding_beyond_the_count_is_new() -> None:
    accepted = baseline.loads(baseline.dumps([finding(10)]))
    fresh, _ = baseline.new_findings([finding(12), finding(40)], accepted)
    assert [f.line for f in fresh] == [40]


def test_the_file_is_stable_and_counts_duplicates() -> None:
    text = baseline.dumps([finding(40), finding(10)])
    assert text == baseline.dumps([finding(10), finding(40)])
    assert [count for count in baseline.loads(text).values()] == [2]


@pytest.mark.parametrize("message, expected", [
    ("parameter 'p' reaches os.chmod at line 41", "parameter 'p' reaches os.chmod at line N"),
    ("via _helper (lines 3-9)", "via _helper (lines N)"),
    ("called from nova/virt/disk.py:88:7", "called from nova/virt/disk.py:N"),
    ("holds 6 capabilities", "holds 6 capabilities"),
])
def test_normalised_messages_lose_positions_only(message: str, expected: str) -> None:
    assert baseline.normalise_message(message) == expected


@pytest.mark.parametrize("text", ["not json", '{"version": 99, "findings": []}', '{"version": 1}',
                                  '{"version": 1, "findings": [{"rule": "LPS203"}]}', "[]"])
def test_malformed_baselines_are_refused(text: str) -> None:
    with pytest.raises(baseline.BaselineError):
        baseline.loads(text)


def test_a_missing_baseline_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(baseline.BaselineError):
        baseline.load(tmp_path / "absent.json")


def test_written_baseline_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    baseline.write(path, [finding(3)])
    assert baseline.load(path) == {baseline.key(finding(99)): 1}
