"""`leastpriv caps` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys


def _caps(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leastpriv", "caps", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_prints_an_entry_for_a_known_command() -> None:
    result = _caps("/bin/chown")
    assert result.returncode == 0
    assert "CAP_CHOWN" in result.stdout
    assert "os.chown" in result.stdout


def test_json_output_carries_every_field() -> None:
    result = _caps("--json", "iscsiadm", "mkfs.ext4")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["iscsiadm"]["needs_uid0"] is True
    assert data["mkfs.ext4"]["command"] == "mkfs"
    assert set(data["mkfs.ext4"]) >= {"capabilities", "needs_uid0", "reason", "confidence",
                                      "replacement"}


def test_unknown_command_exits_1_and_needs_review() -> None:
    result = _caps("chown", "no-such-tool")
    assert result.returncode == 1
    assert "needs review" in result.stderr
    assert "CAP_CHOWN" in result.stdout


def test_list_shows_every_catalogued_command() -> None:
    result = _caps("--list")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) >= 60
    assert any(line.startswith("iscsiadm ") for line in result.stdout.splitlines())


def test_no_command_is_a_usage_error() -> None:
    assert _caps().returncode == 2
