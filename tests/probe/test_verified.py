"""The catalog's `verified` field: one line per probed command, every other byte kept."""

from __future__ import annotations

from importlib import resources

from leastpriv.migrate.catalog import load_catalog, parse_catalog
from leastpriv.probe.runner import ProbeResult
from leastpriv.probe.verified import verified_line, write_verified


def test_verified_lines_parse_back_and_replace_an_earlier_one(tmp_path):
    path = tmp_path / "commands.toml"
    shipped = resources.files("leastpriv").joinpath("data/commands.toml").read_text()
    path.write_text(shipped)
    entry = load_catalog().lookup("chown")
    found = ProbeResult(("chown", "1234", "f"), ("CAP_CHOWN",), False, entry)
    assert write_verified(path, {"chown": verified_line(found)}) == []
    wider = ProbeResult(("chown", "1234", "f"), ("CAP_CHOWN", "CAP_FOWNER"), False, entry)
    write_verified(path, {"chown": verified_line(wider, "scope note")})
    verified = parse_catalog(path.read_text()).lookup("chown").verified
    assert verified["capabilities"] == ["CAP_CHOWN", "CAP_FOWNER"]
    assert verified["agrees"] is False and verified["scope"] == "scope note"
    assert verified["argv"] == "chown 1234 f"
    lines = path.read_text().splitlines()
    before = [line for line in shipped.splitlines() if line.startswith("verified = ")]
    was_verified = bool(parse_catalog(shipped).lookup("chown").verified)
    after = [line for line in lines if line.startswith("verified = ")]
    assert len(after) == len(before) + (0 if was_verified else 1)
    assert ([line for line in lines if not line.startswith("verified = ")]
            == [line for line in shipped.splitlines() if not line.startswith("verified = ")])


def test_a_command_missing_from_the_catalog_is_reported(tmp_path):
    path = tmp_path / "commands.toml"
    path.write_text(resources.files("leastpriv").joinpath("data/commands.toml").read_text())
    result = ProbeResult(("nosuch",), (), False, None)
    assert write_verified(path, {"nosuch": verified_line(result)}) == ["nosuch"]
