"""What the release files promise: a PyPI page that works off GitHub, the license declared."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_pypi_description_opens_with_the_install_command() -> None:
    readme = REPO / PROJECT["readme"]["file"]
    assert readme.read_text().splitlines()[:3] == ["```", "pip install leastpriv", "```"]


def test_every_link_of_the_pypi_description_works_off_the_repository() -> None:
    links = MARKDOWN_LINK.findall((REPO / PROJECT["readme"]["file"]).read_text())
    assert links and all(link.startswith("https://") for link in links)


def test_the_repository_readme_opens_with_the_two_development_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines[2:6] == ["```", "bash scripts/dev demo", "bash scripts/dev test", "```"]


def test_the_license_file_is_the_apache_license_the_metadata_declares() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text

